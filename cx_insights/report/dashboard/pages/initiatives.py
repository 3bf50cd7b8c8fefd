"""Initiatives: what each one changed against untouched journeys, and what it paid back."""

from __future__ import annotations

import pandas as pd

from cx_insights.report.dashboard.charts import Figures, initiatives_figure
from cx_insights.report.dashboard.components import (
    Page,
    guarded,
    html_table,
    missing_note,
    not_available,
    page_section,
)
from cx_insights.report.dashboard.data import DashboardData
from cx_insights.report.dashboard.formatting import (
    esc,
    fmt_delta,
    fmt_metric,
    fmt_money,
    fmt_number,
    is_missing,
    metric_label,
)


def initiatives_page(data: DashboardData, figs: Figures) -> Page:
    page = Page("initiatives", "Initiatives", "Did what we changed work, and did it pay?")
    page.body.append(guarded("Initiatives", lambda: _initiatives_section(data, figs)))
    return page


def _initiatives_section(data: DashboardData, figs: Figures) -> str:
    impact = data.frame("initiative_impact")
    if impact is None:
        return page_section(
            "Initiatives",
            not_available("Initiative impact", missing_note(data, "initiative_impact")),
        )
    impact = impact.sort_values("started_at")
    parts = []
    sentences = [
        f"<li><strong>{esc(r.initiative_name)}</strong> ({esc(r.owner_name)}): "
        f"{esc(r.you_said_we_did)}</li>"
        for r in impact.itertuples(index=False)
        if not is_missing(r.you_said_we_did)
    ]
    if sentences:
        parts.append(f"<h3>You said, we did</h3><ul class='said-did'>{''.join(sentences)}</ul>")
    fig = initiatives_figure(impact, data.currency)
    if fig is not None:
        parts.append(figs.html(fig, max(320, 160 + 60 * len(impact))))
    rows = []
    for r in impact.itertuples(index=False):
        metric = str(r.target_metric)
        low = " †" if r.is_low_sample else ""
        rows.append(
            [
                r.initiative_name,
                r.owner_name,
                r.scope_name,
                f"{pd.Timestamp(r.started_at):%d %b %Y}",
                metric_label(metric),
                f"{fmt_metric(metric, r.value_before, data.currency)} (n={fmt_number(r.n_before)})",
                f"{fmt_metric(metric, r.value_after, data.currency)} (n={fmt_number(r.n_after)})"
                + low,
                fmt_delta(metric, r.change, data.currency),
                fmt_delta(metric, r.control_change, data.currency),
                fmt_delta(metric, r.did, data.currency),
                "yes" if r.is_target_met else "no",
                fmt_money(r.revenue_effect, data.currency),
                fmt_money(r.cost, data.currency),
                f"{fmt_number(100 * r.roi, 0)} %" if not is_missing(r.roi) else "–",
            ]
        )
    parts.append(
        html_table(
            [
                "initiative",
                "owner",
                "scope",
                "started",
                "target metric",
                "before",
                "after",
                "change",
                "change on untouched journeys",
                "difference in differences",
                "target met",
                "revenue effect (12 m)",
                "cost",
                "ROI",
            ],
            rows,
        )
    )
    return page_section(
        "Initiatives",
        *parts,
        note="From marts.initiative_impact: the target metric in equal windows before and after "
        "the start, the same change on comparable untouched journeys, the difference in "
        "differences, the revenue effect through NPS and the financial link, and ROI = "
        "(revenue effect − cost) / cost. † fewer than 30 observations.",
    )
