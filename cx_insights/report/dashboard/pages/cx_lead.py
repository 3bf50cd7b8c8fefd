"""CX lead: the framework roll-up, key drivers, verbatims of the worst touchpoints."""

from __future__ import annotations

import pandas as pd

from cx_insights.privacy import mask_pii
from cx_insights.report.dashboard.charts import Figures
from cx_insights.report.dashboard.components import (
    Page,
    guarded,
    missing_note,
    month_note,
    not_available,
    page_section,
)
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    framework_labels,
    kpi_value,
    label_of,
    worst_touchpoints,
)
from cx_insights.report.dashboard.formatting import esc, fmt_number, is_missing, nps_category
from cx_insights.report.dashboard.framework_charts import (
    driver_quadrant_figure,
    rollup_heatmap_figure,
    rollup_height,
)


def cx_lead_page(data: DashboardData, figs: Figures) -> Page:
    page = Page("cx-lead", "CX lead", "Where in the journey do we win or lose customers, and why?")
    page.body.append(guarded("Roll-up", lambda: _rollup_section(data, figs)))
    page.body.append(guarded("Key drivers", lambda: _drivers_section(data, figs)))
    page.body.append(guarded("Verbatims", lambda: _verbatims_section(data)))
    return page


def _rollup_section(data: DashboardData, figs: Figures) -> str:
    fig = rollup_heatmap_figure(data)
    if fig is None:
        return page_section(
            "Journey → job → touchpoint",
            not_available("The roll-up", missing_note(data, "kpi_monthly", "dim_touchpoint")),
        )
    return page_section(
        "Journey → job → touchpoint",
        figs.html(fig, rollup_height(data)),
        note=month_note(data)
        + " Each cell: the metric of marts.kpi_monthly at that level and its sample size n. "
        "Colour shows the distance from the company value (red worse, green better); cells with "
        "fewer than 30 answers are faded and marked †: read them with care.",
    )


def _drivers_section(data: DashboardData, figs: Figures) -> str:
    drivers = data.frame("driver_importance")
    if drivers is None:
        return page_section(
            "Key drivers",
            not_available("Key drivers", missing_note(data, "driver_importance")),
        )
    fig = driver_quadrant_figure(drivers)
    if fig is None:
        return page_section(
            "Key drivers",
            not_available("Key drivers", "marts.driver_importance has no importance/performance."),
        )
    return page_section(
        "Key drivers: importance × performance",
        figs.html(fig, 520),
        note="From marts.driver_importance. Importance: Johnson's relative weight of each element "
        "in explaining the NPS answer (shares sum to 100 % within a scope and family). "
        "Performance: the share rating it in the top two boxes. Bottom-right elements matter "
        "and do badly: fix those first. The menu at the top right switches between the company "
        "and each journey, and between experience drivers and touchpoint satisfaction.",
    )


def _verbatims_section(data: DashboardData) -> str:
    verbatims = data.frame("verbatims")
    worst = worst_touchpoints(data)
    if not worst:
        return page_section(
            "What customers say at the worst touchpoints",
            not_available("Verbatims", missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    kpi = data.frame("kpi_monthly")
    blocks = []
    for tp in worst:
        nps = kpi_value(kpi, "nps", data.reporting_month, "touchpoint", tp)  # type: ignore[arg-type]
        head = (
            f"{esc(label_of(labels, 'touchpoint', tp))}: NPS {fmt_number(nps['value'], 0)} "
            f"(n = {int(nps['n'])}{', low sample' if nps['n'] < LOW_SAMPLE else ''})"
            if nps is not None
            else esc(label_of(labels, "touchpoint", tp))
        )
        quotes = (
            verbatims[verbatims["touchpoint_id"] == tp] if verbatims is not None else pd.DataFrame()
        )
        if quotes.empty:
            items = "<li class='muted'>No written comments in the last three months.</li>"
        else:
            items = "".join(
                f"<li><span class='score {nps_category(q.nps_score)}'>"
                f"{fmt_number(q.nps_score, 0) if not is_missing(q.nps_score) else '–'}"
                f"</span> “{esc(mask_pii(str(q.value_text)))}” "
                f"<span class='muted'>{pd.Timestamp(q.submitted_at):%d %b %Y}</span></li>"
                for q in quotes.itertuples(index=False)
            )
        blocks.append(f"<div class='verbatims'><h3>{head}</h3><ul>{items}</ul></div>")
    return page_section(
        "What customers say at the worst touchpoints",
        "".join(blocks),
        note="The three touchpoints with the lowest NPS this month, ranked by the upper end of "
        "their 95 % interval so that a handful of answers does not outrank a large sample. "
        "Comments from the last three months, lowest scores first; the number is the customer's "
        "NPS answer (0-10). E-mail addresses and phone numbers are masked.",
    )
