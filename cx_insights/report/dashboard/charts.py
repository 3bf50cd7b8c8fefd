"""Plotly figures of the executive, support, product and initiatives pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date

import pandas as pd
import plotly.io as pio

from cx_insights.report.dashboard.data import kpi_rows
from cx_insights.report.dashboard.figure_spec import (
    Spec,
    axis,
    figure,
    on_panel,
    panels,
    title,
)
from cx_insights.report.dashboard.formatting import (
    ACCENT,
    BAD,
    GOOD,
    NEUTRAL,
    NPS_CATEGORY_COLORS,
    TEMPLATE,
    fmt_delta,
    fmt_money,
    fmt_number,
    is_missing,
    metric_label,
    shorten,
)

# --------------------------------------------------------------------------------------
# Charts.


class Figures:
    """Turns figures into placeholders the page draws when they first show.

    Each figure's JSON is kept once (identical figures of several views share it) and
    written once by `store()`, with the layout template once for all of them;
    plotly.js itself is inlined once in <head>. A chart in a hidden view costs no
    drawing until its view is chosen.
    """

    def __init__(self) -> None:
        self.count = 0
        self.specs: dict[str, str] = {}
        self.template: object = None
        self.built: dict[object, str] = {}

    def once(self, key: object, build: Callable[[], str]) -> str:
        """A section that does not change between views, built the first time only."""
        if key not in self.built:
            self.built[key] = build()
        return self.built[key]

    def html(self, fig: Spec, height: int = 420) -> str:
        """A placeholder for `fig` (a figure_spec dict), drawn `height` pixels high."""
        self.count += 1
        if self.template is None:
            self.template = TEMPLATE.to_plotly_json()
        spec = {"data": fig["data"], "layout": {**fig["layout"], "height": height}}
        # plotly's encoder: numpy, pandas and dates as plotly.js reads them, NaN as null.
        text = pio.to_json(spec, validate=False)
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.specs.setdefault(key, text)
        return (
            f"<div class='chart'><div class='cx-figure' data-figure='{key}' "
            f"style='height:{height}px;width:100%'></div></div>"
        )

    def store(self) -> str:
        """The figures as one JSON document for the page's script (`</` escaped)."""
        figures = ",".join(f'"{key}":{text}' for key, text in self.specs.items())
        template = json.dumps(self.template, separators=(",", ":"), ensure_ascii=False)
        body = f'{{"template":{template},"figures":{{{figures}}}}}'.replace("</", "<\\/")
        return f"<script type='application/json' id='cx-figures'>{body}</script>"


def nps_trend_figure(kpi: pd.DataFrame, reporting_month: date, who: str = "Company") -> Spec | None:
    rows = kpi_rows(kpi, "company", "nps").sort_values("month")
    rows = rows[pd.to_datetime(rows["month"]) <= pd.Timestamp(reporting_month)]
    if rows.empty:
        return None
    x = pd.to_datetime(rows["month"]).tolist()
    band = {
        "type": "scatter",
        "x": x + x[::-1],
        "y": rows["ci_high"].tolist() + rows["ci_low"].tolist()[::-1],
        "fill": "toself",
        "fillcolor": "rgba(37,99,235,0.15)",
        "line": {"width": 0},
        "name": "95 % interval",
        "hoverinfo": "skip",
    }
    line = {
        "type": "scatter",
        "x": x,
        "y": rows["value"].tolist(),
        "mode": "lines+markers",
        "name": "NPS",
        "line": {"color": ACCENT, "width": 2.5},
        "customdata": rows[["n", "ci_low", "ci_high"]].to_numpy().tolist(),
        "hovertemplate": "%{x|%b %Y}: NPS %{y:.1f}<br>95 %% interval %{customdata[1]:.1f} "
        "to %{customdata[2]:.1f}<br>n = %{customdata[0]}<extra></extra>",
    }
    return figure(
        [band, line],
        title=title(f"{who} NPS by month, with its 95 % interval"),
        xaxis={"title": title("Month")},
        yaxis={"title": title("NPS (−100 to 100)")},
    )


NPS_CATEGORY_ORDER = ["promoter", "passive", "detractor", "no_answer"]


def financial_link_figure(link: pd.DataFrame, currency: str) -> Spec | None:
    """marts.nps_financial_link: churn, MRR and 12-month revenue by latest NPS category."""
    if link.empty:
        return None
    link = link.assign(
        _order=link["nps_category"].map({c: i for i, c in enumerate(NPS_CATEGORY_ORDER)})
    ).sort_values("_order")
    names = [
        str(c).replace("_", " ").capitalize() + (" †" if low else "")
        for c, low in zip(link["nps_category"], link["is_low_sample"].fillna(False), strict=True)
    ]
    colors = [NPS_CATEGORY_COLORS.get(str(c), NEUTRAL) for c in link["nps_category"]]
    measures = [
        ("monthly_churn_rate", "Monthly churn rate", 2, "Churn (% per month)"),
        ("average_mrr", "Average MRR", 0, f"MRR ({currency})"),
        ("expected_revenue_12m", "Expected revenue, next 12 months", 0, f"Revenue ({currency})"),
    ]
    fig = panels(
        [m[1] for m in measures],
        horizontal_spacing=0.08,
        title=title(
            "What an NPS answer is worth: churn, MRR and revenue by the customer's latest "
            "NPS category"
        ),
        margin={"t": 110},
    )
    customdata = link[["customers", "customer_months"]].to_numpy().tolist()
    for i, (col, name, decimals, axis_title) in enumerate(measures, start=1):
        values = link[col].tolist()
        fig["data"].append(
            on_panel(
                {
                    "type": "bar",
                    "x": names,
                    "y": values,
                    "marker": {"color": colors},
                    "text": [fmt_number(v, decimals) for v in values],
                    "textposition": "outside",
                    "cliponaxis": False,
                    "name": name,
                    "showlegend": False,
                    "customdata": customdata,
                    "hovertemplate": "%{x}: %{y:,." + str(decimals) + "f}<br>%{customdata[0]} "
                    "customers, %{customdata[1]} customer-months<extra></extra>",
                },
                i,
            )
        )
        axis(fig, "y", i).update(title=title(axis_title), rangemode="tozero")
        axis(fig, "x", i).update(title=title("Latest NPS answer"))
    return fig


def risk_bands_figure(bands: pd.DataFrame, currency: str) -> Spec | None:
    """The company's rows of marts.revenue_at_risk: customers and MRR per churn-risk band."""
    if bands.empty:
        return None
    order = {"high": 0, "medium": 1, "low": 2}
    bands = bands.assign(_order=bands["risk_band"].map(order).fillna(3)).sort_values("_order")
    colors = {"high": BAD, "medium": "#f59e0b", "low": GOOD}
    bar = {
        "type": "bar",
        "y": [f"{str(b).capitalize()} risk" for b in bands["risk_band"]],
        "x": bands["band_mrr"].tolist(),
        "orientation": "h",
        "marker": {"color": [colors.get(str(b), NEUTRAL) for b in bands["risk_band"]]},
        "text": [
            f"{fmt_money(m, currency)} · {fmt_number(c)} customers · {fmt_number(sh, 1)} %"
            for m, c, sh in zip(
                bands["band_mrr"], bands["customers"], bands["share_of_mrr"], strict=True
            )
        ],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}: %{x:,.0f} MRR<extra></extra>",
    }
    return figure(
        [bar],
        title=title("Current MRR by churn-risk band (label: MRR · customers · share of MRR)"),
        xaxis={
            "title": title(f"MRR ({currency})"),
            "range": [0, float(bands["band_mrr"].max()) * 1.6],
        },
        yaxis={"title": title("Churn-risk band")},
        showlegend=False,
    )


PANEL_COLORS = ["#2563eb", "#f59e0b", "#8b5cf6", "#10b981"]


def _faded(hex_color: str, alpha: float = 0.35) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def horizontal_bars_figure(
    frame: pd.DataFrame,
    label_col: str,
    panel_specs: list[tuple[str, str, int]],
    title_text: str,
    category_title: str,
    low_sample_col: str | None = None,
) -> Spec:
    """One horizontal bar panel per measure, sharing the category axis.

    Each panel's title names its measure (and so labels its x axis); bars
    with a low sample are drawn faded.
    """
    fig = panels(
        [p[1] for p in panel_specs],
        shared_yaxes=True,
        horizontal_spacing=0.035,
        title=title(title_text),
        bargap=0.25,
        margin={"t": 100},
    )
    labels = frame[label_col].tolist()
    low = frame[low_sample_col].astype(bool).tolist() if low_sample_col else [False] * len(frame)
    for i, (col, axis_title, decimals) in enumerate(panel_specs, start=1):
        values = frame[col].tolist()
        color = PANEL_COLORS[(i - 1) % len(PANEL_COLORS)]
        fig["data"].append(
            on_panel(
                {
                    "type": "bar",
                    "y": labels,
                    "x": values,
                    "orientation": "h",
                    "marker": {"color": [_faded(color) if lo else color for lo in low]},
                    "text": [fmt_number(v, decimals) for v in values],
                    "textposition": "auto",
                    "insidetextfont": {"color": ["#1e293b" if lo else "white" for lo in low]},
                    "outsidetextfont": {"color": "#0f172a"},
                    "name": axis_title,
                    "showlegend": False,
                    "hovertemplate": "%{y}<br>" + axis_title + ": %{x:,." + str(decimals) + "f}"
                    "<extra></extra>",
                },
                i,
            )
        )
    axis(fig, "y").update(autorange="reversed", title=title(category_title))
    return fig


def initiatives_figure(impact: pd.DataFrame, currency: str) -> Spec | None:
    """Improvement beyond the control (in the metric's unit, + = better) and ROI."""
    if impact.empty:
        return None
    names = [shorten(str(v), 44) for v in impact["initiative_name"]]
    improvement = impact["improvement"].astype(float)
    roi_pct = 100 * impact["roi"].astype(float)
    fig = panels(
        [
            "Improvement beyond untouched journeys (+ = better)",
            "ROI (%): (revenue effect − cost) / cost",
        ],
        shared_yaxes=True,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.06,
        title=title(
            "Did it work, and did it pay? (green: better / positive, red: worse / negative)"
        ),
        margin={"t": 100},
    )
    labels = [
        f"{fmt_delta(str(m), abs(d), currency).lstrip('+')} {'better' if imp >= 0 else 'worse'}"
        f" ({metric_label(str(m)).split(' (')[0]})"
        if not is_missing(d) and not is_missing(imp)
        else "not measurable yet"
        for m, d, imp in zip(impact["target_metric"], impact["did"], improvement, strict=True)
    ]
    fig["data"].append(
        {
            "type": "bar",
            "y": names,
            "x": improvement.tolist(),
            "orientation": "h",
            "marker": {"color": [GOOD if v >= 0 else BAD for v in improvement.fillna(0)]},
            "customdata": labels,
            "showlegend": False,
            "hovertemplate": "%{y}<br>difference in differences: %{customdata}<extra></extra>",
        }
    )
    # Each label on the empty side of zero, so a short bar keeps a readable label.
    fig["layout"]["annotations"] += [
        {
            "x": 0,
            "y": name,
            "xref": "x",
            "yref": "y",
            "text": label,
            "showarrow": False,
            "xanchor": "right" if value >= 0 else "left",
            "xshift": -6 if value >= 0 else 6,
            "font": {"size": 12, "color": "#1e293b"},
        }
        for name, label, value in zip(names, labels, improvement.fillna(0), strict=True)
    ]
    fig["data"].append(
        on_panel(
            {
                "type": "bar",
                "y": names,
                "x": roi_pct.tolist(),
                "orientation": "h",
                "marker": {"color": [GOOD if v >= 0 else BAD for v in roi_pct.fillna(0)]},
                "text": [f"{fmt_number(v, 0)} %" for v in roi_pct],
                "textposition": "auto",
                "insidetextfont": {"color": "white"},
                "showlegend": False,
                "hovertemplate": "%{y}<br>ROI %{x:.0f} %<extra></extra>",
            },
            2,
        )
    )
    # Symmetric around 0 so that better and worse read the same way, with room for labels.
    reach = float(improvement.abs().max() or 1) * 1.8
    axis(fig, "x", 1).update(
        range=[-reach, reach], title=title("Metric points, minutes or hours (see label)")
    )
    axis(fig, "y", 1).update(autorange="reversed", title=title("Initiative"))
    axis(fig, "x", 2).update(title=title("ROI (%)"))
    return fig


#: The steps of an MRR bridge, in order: (column, label, sign).
MRR_BRIDGE_STEPS = (
    ("new_mrr", "New", 1),
    ("expansion_mrr", "Expansion", 1),
    ("contraction_mrr", "Contraction", -1),
    ("churned_mrr", "Churned", -1),
    ("reactivation_mrr", "Reactivation", 1),
    ("fx_revaluation_mrr", "Currency revaluation", 1),
)


def mrr_bridge_figure(bridge: pd.Series, currency: str, month_name: str) -> Spec | None:
    """The month's MRR bridge from marts.fct_mrr_movements: start, each movement, end."""
    if bridge is None or is_missing(bridge.get("mrr_start")):
        return None
    start, end = float(bridge["mrr_start"]), float(bridge["mrr_end"])
    labels, values, measures = [f"MRR at start of {month_name}"], [start], ["absolute"]
    for column, label, sign in MRR_BRIDGE_STEPS:
        value = 0.0 if is_missing(bridge.get(column)) else sign * float(bridge[column])
        labels.append(label)
        values.append(value)
        measures.append("relative")
    labels.append("MRR at end")
    values.append(end)
    measures.append("total")
    text = [fmt_money(start, currency)]
    text += [("+" if v >= 0 else "−") + fmt_money(abs(v), currency) for v in values[1:-1]]
    text.append(fmt_money(end, currency))
    waterfall = {
        "type": "waterfall",
        "x": labels,
        "y": values,
        "measure": measures,
        "text": text,
        "textposition": "outside",
        "cliponaxis": False,
        "increasing": {"marker": {"color": GOOD}},
        "decreasing": {"marker": {"color": BAD}},
        "totals": {"marker": {"color": ACCENT}},
        "connector": {"line": {"color": NEUTRAL, "width": 1}},
        "hovertemplate": "%{x}: %{text}<extra></extra>",
    }
    low = min(start, end) * 0.9
    return figure(
        [waterfall],
        title=title(f"MRR bridge, {month_name}: from the start of the month to its end"),
        yaxis={"title": title(f"MRR ({currency})"), "range": [low, max(start, end) * 1.05]},
        showlegend=False,
    )
