"""Plotly figures of the executive, support, product and initiatives pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cx_insights.report.dashboard.data import kpi_rows
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

    def html(self, fig: go.Figure, height: int = 420) -> str:
        self.count += 1
        fig.update_layout(template=TEMPLATE, height=height)
        spec = json.loads(fig.to_json())
        template = spec["layout"].pop("template", None)
        if self.template is None:
            self.template = template
        text = json.dumps(spec, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
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


def nps_trend_figure(
    kpi: pd.DataFrame, reporting_month: date, who: str = "Company"
) -> go.Figure | None:
    rows = kpi_rows(kpi, "company", "nps").sort_values("month")
    rows = rows[pd.to_datetime(rows["month"]) <= pd.Timestamp(reporting_month)]
    if rows.empty:
        return None
    x = pd.to_datetime(rows["month"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(x) + list(x[::-1]),
            y=list(rows["ci_high"]) + list(rows["ci_low"][::-1]),
            fill="toself",
            fillcolor="rgba(37,99,235,0.15)",
            line={"width": 0},
            name="95 % interval",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=rows["value"],
            mode="lines+markers",
            name="NPS",
            line={"color": ACCENT, "width": 2.5},
            customdata=rows[["n", "ci_low", "ci_high"]].to_numpy(),
            hovertemplate="%{x|%b %Y}: NPS %{y:.1f}<br>95 %% interval %{customdata[1]:.1f} "
            "to %{customdata[2]:.1f}<br>n = %{customdata[0]}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{who} NPS by month, with its 95 % interval",
        xaxis_title="Month",
        yaxis_title="NPS (−100 to 100)",
    )
    return fig


NPS_CATEGORY_ORDER = ["promoter", "passive", "detractor", "no_answer"]


def financial_link_figure(link: pd.DataFrame, currency: str) -> go.Figure | None:
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
    panels = [
        ("monthly_churn_rate", "Monthly churn rate", 2, "Churn (% per month)"),
        ("average_mrr", "Average MRR", 0, f"MRR ({currency})"),
        ("expected_revenue_12m", "Expected revenue, next 12 months", 0, f"Revenue ({currency})"),
    ]
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08
    )
    for i, (col, title, decimals, axis_title) in enumerate(panels, start=1):
        fig.add_trace(
            go.Bar(
                x=names,
                y=link[col],
                marker_color=colors,
                text=[fmt_number(v, decimals) for v in link[col]],
                textposition="outside",
                cliponaxis=False,
                name=title,
                showlegend=False,
                customdata=link[["customers", "customer_months"]].to_numpy(),
                hovertemplate="%{x}: %{y:,." + str(decimals) + "f}<br>%{customdata[0]} customers, "
                "%{customdata[1]} customer-months<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(title_text=axis_title, row=1, col=i, rangemode="tozero")
        fig.update_xaxes(title_text="Latest NPS answer", row=1, col=i)
    fig.update_layout(
        title="What an NPS answer is worth: churn, MRR and revenue by the customer's latest "
        "NPS category",
        margin={"t": 110},
    )
    return fig


def risk_bands_figure(bands: pd.DataFrame, currency: str) -> go.Figure | None:
    """The company's rows of marts.revenue_at_risk: customers and MRR per churn-risk band."""
    if bands.empty:
        return None
    order = {"high": 0, "medium": 1, "low": 2}
    bands = bands.assign(_order=bands["risk_band"].map(order).fillna(3)).sort_values("_order")
    colors = {"high": BAD, "medium": "#f59e0b", "low": GOOD}
    fig = go.Figure(
        go.Bar(
            y=[f"{str(b).capitalize()} risk" for b in bands["risk_band"]],
            x=bands["band_mrr"],
            orientation="h",
            marker_color=[colors.get(str(b), NEUTRAL) for b in bands["risk_band"]],
            text=[
                f"{fmt_money(m, currency)} · {fmt_number(c)} customers · {fmt_number(sh, 1)} %"
                for m, c, sh in zip(
                    bands["band_mrr"], bands["customers"], bands["share_of_mrr"], strict=True
                )
            ],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,.0f} MRR<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, float(bands["band_mrr"].max()) * 1.6])
    fig.update_layout(
        title="Current MRR by churn-risk band (label: MRR · customers · share of MRR)",
        xaxis_title=f"MRR ({currency})",
        yaxis_title="Churn-risk band",
        showlegend=False,
    )
    return fig


PANEL_COLORS = ["#2563eb", "#f59e0b", "#8b5cf6", "#10b981"]


def _faded(hex_color: str, alpha: float = 0.35) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def horizontal_bars_figure(
    frame: pd.DataFrame,
    label_col: str,
    panels: list[tuple[str, str, int]],
    title: str,
    category_title: str,
    low_sample_col: str | None = None,
) -> go.Figure:
    """One horizontal bar panel per measure, sharing the category axis.

    Each panel's title names its measure (and so labels its x axis); bars
    with a low sample are drawn faded.
    """
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        subplot_titles=[p[1] for p in panels],
        horizontal_spacing=0.035,
    )
    for i, (col, axis_title, decimals) in enumerate(panels, start=1):
        values = frame[col]
        color = PANEL_COLORS[(i - 1) % len(PANEL_COLORS)]
        low = (
            frame[low_sample_col].astype(bool).tolist() if low_sample_col else [False] * len(frame)
        )
        fig.add_trace(
            go.Bar(
                y=frame[label_col],
                x=values,
                orientation="h",
                marker_color=[_faded(color) if lo else color for lo in low],
                text=[fmt_number(v, decimals) for v in values],
                textposition="auto",
                insidetextfont={"color": ["#1e293b" if lo else "white" for lo in low]},
                outsidetextfont={"color": "#0f172a"},
                name=axis_title,
                showlegend=False,
                hovertemplate="%{y}<br>" + axis_title + ": %{x:,." + str(decimals) + "f}"
                "<extra></extra>",
            ),
            row=1,
            col=i,
        )
    fig.update_yaxes(autorange="reversed", title_text=category_title, row=1, col=1)
    fig.update_layout(title=title, bargap=0.25, margin={"t": 100})
    return fig


def initiatives_figure(impact: pd.DataFrame, currency: str) -> go.Figure | None:
    """Improvement beyond the control (in the metric's unit, + = better) and ROI."""
    if impact.empty:
        return None
    names = [shorten(str(v), 44) for v in impact["initiative_name"]]
    improvement = impact["improvement"].astype(float)
    roi_pct = 100 * impact["roi"].astype(float)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.06,
        subplot_titles=[
            "Improvement beyond untouched journeys (+ = better)",
            "ROI (%): (revenue effect − cost) / cost",
        ],
    )
    labels = [
        f"{fmt_delta(str(m), abs(d), currency).lstrip('+')} {'better' if imp >= 0 else 'worse'}"
        f" ({metric_label(str(m)).split(' (')[0]})"
        if not is_missing(d) and not is_missing(imp)
        else "not measurable yet"
        for m, d, imp in zip(impact["target_metric"], impact["did"], improvement, strict=True)
    ]
    fig.add_trace(
        go.Bar(
            y=names,
            x=improvement,
            orientation="h",
            marker_color=[GOOD if v >= 0 else BAD for v in improvement.fillna(0)],
            customdata=labels,
            showlegend=False,
            hovertemplate="%{y}<br>difference in differences: %{customdata}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    # Each label on the empty side of zero, so a short bar keeps a readable label.
    for name, label, value in zip(names, labels, improvement.fillna(0), strict=True):
        fig.add_annotation(
            x=0,
            y=name,
            text=label,
            showarrow=False,
            xanchor="right" if value >= 0 else "left",
            xshift=-6 if value >= 0 else 6,
            font={"size": 12, "color": "#1e293b"},
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            y=names,
            x=roi_pct,
            orientation="h",
            marker_color=[GOOD if v >= 0 else BAD for v in roi_pct.fillna(0)],
            text=[f"{fmt_number(v, 0)} %" for v in roi_pct],
            textposition="auto",
            insidetextfont={"color": "white"},
            showlegend=False,
            hovertemplate="%{y}<br>ROI %{x:.0f} %<extra></extra>",
        ),
        row=1,
        col=2,
    )
    # Symmetric around 0 so that better and worse read the same way, with room for labels.
    reach = float(improvement.abs().max() or 1) * 1.8
    fig.update_xaxes(range=[-reach, reach], row=1, col=1)
    fig.update_yaxes(autorange="reversed", title_text="Initiative", row=1, col=1)
    fig.update_xaxes(title_text="Metric points, minutes or hours (see label)", row=1, col=1)
    fig.update_xaxes(title_text="ROI (%)", row=1, col=2)
    fig.update_layout(
        title="Did it work, and did it pay? (green: better / positive, red: worse / negative)",
        margin={"t": 100},
    )
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


def mrr_bridge_figure(bridge: pd.Series, currency: str, month_name: str) -> go.Figure | None:
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
    fig = go.Figure(
        go.Waterfall(
            x=labels,
            y=values,
            measure=measures,
            text=text,
            textposition="outside",
            cliponaxis=False,
            increasing={"marker": {"color": GOOD}},
            decreasing={"marker": {"color": BAD}},
            totals={"marker": {"color": ACCENT}},
            connector={"line": {"color": NEUTRAL, "width": 1}},
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    low = min(start, end) * 0.9
    fig.update_layout(
        title=f"MRR bridge, {month_name}: from the start of the month to its end",
        yaxis_title=f"MRR ({currency})",
        yaxis={"range": [low, max(start, end) * 1.05]},
        showlegend=False,
    )
    return fig
