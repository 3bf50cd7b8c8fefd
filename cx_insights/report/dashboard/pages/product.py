"""Product / digital: web sessions, conversion and the touchpoints of the site."""

from __future__ import annotations

import pandas as pd

from cx_insights.report.dashboard.charts import Figures, horizontal_bars_figure
from cx_insights.report.dashboard.components import (
    Page,
    guarded,
    html_table,
    missing_note,
    month_note,
    not_available,
    page_section,
    takeaways_section,
)
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    framework_labels,
    kpi_rows,
    label_of,
)
from cx_insights.report.dashboard.figure_spec import figure, right_axis, title
from cx_insights.report.dashboard.formatting import PALETTE, esc, fmt_number, month_label, shorten
from cx_insights.report.dashboard.takeaways import product_takeaways


def product_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "product", "Product / digital", "Which landing pages convert, and where do visitors drop?"
    )
    page.body.append(guarded("Takeaways", lambda: takeaways_section(data, product_takeaways)))
    page.body.append(guarded("Web trend", lambda: _web_trend_section(data, figs)))
    page.body.append(guarded("By landing touchpoint", lambda: _web_touchpoint_section(data, figs)))
    return page


WEB_METRICS = [
    ("sessions", "Sessions", 0),
    ("conversion_rate", "Conversion (%)", 1),
    ("bounce_rate", "Bounce (%)", 1),
    ("cart_abandonment_rate", "Cart abandonment (%)", 1),
]


def _web_trend_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return page_section(
            "Web trend", not_available("Web metrics", missing_note(data, "kpi_monthly"))
        )
    rows = kpi_rows(kpi, "company", [m for m, _t, _d in WEB_METRICS])
    rows = rows[pd.to_datetime(rows["month"]) <= pd.Timestamp(month)].sort_values("month")
    if rows.empty:
        return page_section("Web trend", not_available("Web metrics", "No web sessions yet."))
    sessions = rows[rows["metric"] == "sessions"]
    traces = [
        {
            "type": "bar",
            "x": pd.to_datetime(sessions["month"]).tolist(),
            "y": sessions["value"].tolist(),
            "name": "Sessions (left axis)",
            "marker": {"color": "#cbd5e1"},
        }
    ]
    for i, (metric, name, _d) in enumerate(WEB_METRICS[1:]):
        part = rows[rows["metric"] == metric]
        traces.append(
            {
                "type": "scatter",
                "x": pd.to_datetime(part["month"]).tolist(),
                "y": part["value"].tolist(),
                "name": f"{name} (right axis)",
                "mode": "lines+markers",
                "line": {"color": PALETTE[i], "width": 2},
                "yaxis": "y2",
            }
        )
    fig = figure(
        traces,
        title=title("Sessions, conversion, bounce and cart abandonment by month"),
        xaxis={"title": title("Month")},
        yaxis={"title": title("Sessions")},
        yaxis2=right_axis("Rate (%)", rangemode="tozero"),
    )
    return page_section(
        "Web trend",
        figs.html(fig, 420),
        note=(
            f"Segment {esc(data.segment)}, marts.kpi_monthly_by_segment."
            if data.segment
            else "Company level, marts.kpi_monthly."
        ),
    )


def _web_touchpoint_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return page_section(
            "By landing touchpoint",
            not_available("Web by touchpoint", missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    rows = kpi_rows(kpi, "touchpoint", [m for m, _t, _d in WEB_METRICS], month)
    if rows.empty:
        return page_section(
            "By landing touchpoint",
            not_available("Web by touchpoint", f"No sessions in {month_label(month)}."),
        )
    wide = rows.pivot_table(index="level_id", columns="metric", values="value", aggfunc="first")
    wide = wide.reindex(columns=[m for m, _t, _d in WEB_METRICS])
    wide = wide.fillna({"sessions": 0}).sort_values("sessions", ascending=False)
    wide["label"] = [shorten(label_of(labels, "touchpoint", i), 40) for i in wide.index]
    wide["low"] = wide["sessions"] < LOW_SAMPLE
    frame = wide.reset_index()
    fig = horizontal_bars_figure(
        frame,
        "label",
        list(WEB_METRICS),
        f"Web by landing touchpoint, {month_label(month)} (faded: fewer than 30 sessions)",
        "Landing touchpoint",
        low_sample_col="low",
    )
    table_rows = [
        [
            r.label,
            fmt_number(r.sessions),
            fmt_number(r.conversion_rate, 1),
            fmt_number(r.bounce_rate, 1),
            fmt_number(r.cart_abandonment_rate, 1),
        ]
        for r in frame.itertuples(index=False)
    ]
    return page_section(
        "By landing touchpoint",
        figs.html(fig, max(320, 140 + 30 * len(frame))),
        html_table(
            ["landing touchpoint", "sessions", "conversion %", "bounce %", "cart abandonment %"],
            table_rows,
        ),
        note=month_note(data) + " A session belongs to the touchpoint of its landing page "
        "(touchpoint_rules); “Unknown” collects pages no rule matches.",
    )
