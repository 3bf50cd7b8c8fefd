"""The page shell: tabs, styles and plotly.js inlined once; `write_dashboard` writes the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from plotly.offline import get_plotlyjs

from cx_insights.config import Settings
from cx_insights.report.dashboard.charts import Figures
from cx_insights.report.dashboard.components import ALL_SEGMENTS_TAG, Page
from cx_insights.report.dashboard.data import RUNS_SQL, DashboardData, load_dashboard_data
from cx_insights.report.dashboard.formatting import esc, month_label, segment_label
from cx_insights.report.dashboard.pages.cx_lead import cx_lead_page
from cx_insights.report.dashboard.pages.executive import executive_page
from cx_insights.report.dashboard.pages.initiatives import initiatives_page
from cx_insights.report.dashboard.pages.product import product_page
from cx_insights.report.dashboard.pages.quality import (
    LAST_RUN_END,
    LAST_RUN_START,
    last_run_html,
    quality_page,
)
from cx_insights.report.dashboard.pages.support import support_page
from cx_insights.report.html import asset, page

#: The role pages: drawn once per (segment, month) view, chosen with the filters.
ROLE_PAGES = (executive_page, cx_lead_page, support_page, product_page)


def _view_attributes(view: DashboardData) -> str:
    return f"data-view='{esc(view.view_key)}'"


def _filters(data: DashboardData) -> str:
    """The segment filter and the month picker (only when there is more than one view)."""
    if len(data.views) < 2:
        return ""
    segments = "".join(
        f"<option value='{esc(s)}'>{esc(segment_label(s))}</option>" for s in data.segments
    )
    months = "".join(
        f"<option value='{m:%Y-%m}'{' selected' if m == data.reporting_month else ''}>"
        f"{esc(month_label(m))}{' (partial)' if m in data.partial_months else ''}</option>"
        for m in sorted(data.month_choices, reverse=True)
    )
    return (
        "<div class='filters' role='group' aria-label='Filters of the role pages'>"
        "<label>Segment <select id='cx-segment'>"
        f"<option value='all' selected>All customers</option>{segments}</select></label>"
        f"<label>Month <select id='cx-month'>{months}</select></label>"
        "<span class='hint'>for the Executive, CX lead, Support and Product pages</span>"
        "</div>"
    )


def _scope_banner(view: DashboardData) -> str:
    if view.segment is None:
        return ""
    return (
        f"<div class='scope'>Segment <strong>{esc(segment_label(view.segment))}</strong>: "
        "the KPIs at every level, the MRR bridge, revenue, the customers at risk and the "
        "verbatims are this segment's customers' (their current segment). Sections marked "
        f"{ALL_SEGMENTS_TAG} come from marts that are not broken down by segment.</div>"
    )


def render_dashboard(data: DashboardData, quality_href: str = "data_quality.html") -> str:
    figs = Figures()
    views = data.views or [data]
    pages: list[tuple[Page, str]] = []
    for build in ROLE_PAGES:
        drawn = [(view, build(view, figs)) for view in views]
        first = drawn[0][1]
        body = "".join(
            f"<div class='view' {_view_attributes(view)}{'' if i == 0 else ' hidden'}>"
            f"{_scope_banner(view)}{''.join(role_page.body)}</div>"
            for i, (view, role_page) in enumerate(drawn)
        )
        pages.append((first, body))
    for single in (initiatives_page(data, figs), quality_page(data, figs, quality_href)):
        pages.append((single, "".join(single.body)))
    nav = "".join(
        f"<button type='button' role='tab' data-tab='{p.key}' aria-selected='false'>"
        f"{esc(p.title)}</button>"
        for p, _ in pages
    )
    body = "".join(
        f"<div class='page' id='page-{p.key}' role='tabpanel'>"
        f"<p class='question'>{esc(p.question)}</p>{content}</div>"
        for p, content in pages
    )
    banner = ""
    if data.read_error:
        banner = f"<div class='na banner-error'><strong>{esc(data.read_error)}</strong></div>"
    elif data.missing_marts:
        banner = (
            "<div class='na'>Not built yet in this warehouse: "
            + ", ".join(f"marts.{esc(m)}" for m in data.missing_marts)
            + ". The sections that need them say so.</div>"
        )
    # With the filters, the month picker says which month each page shows.
    period = (
        f" · reporting month {month_label(data.reporting_month)}"
        if data.reporting_month and len(data.views) < 2
        else ""
    )
    return page(
        title="cx-insights dashboard",
        css=asset("dashboard.css"),
        viewport=True,
        # plotly.js, inlined once: the file works offline and by e-mail.
        head=f"<script type='text/javascript'>{get_plotlyjs()}</script>",
        body="".join(
            [
                "<header><h1>Customer experience dashboard</h1>",
                f"<div class='sub'>Generated {data.generated_at:%Y-%m-%d %H:%M} UTC from "
                f"{esc(data.warehouse.name)}{period} · money in {esc(data.currency)}"
                f"{_insights_as_of(data)}</div>",
                _filters(data),
                f"<nav class='tabs' role='tablist'>{nav}</nav></header>",
                f"<main>{banner}{body}</main>",
                "<footer>cx-insights: every number comes from the warehouse marts "
                "(marts.kpi_monthly and the insight tables).</footer>",
                figs.store(),
            ]
        ),
        script=asset("tabs.js"),
    )


def _insights_as_of(data: DashboardData) -> str:
    if data.insights_as_of is None:
        return ""
    return (
        f" · insights computed {data.insights_as_of:%Y-%m-%d %H:%M} UTC "
        "(<code>CX_INSIGHTS_EVERY</code>)"
    )


def write_dashboard(settings: Settings, month: date | None = None) -> Path:
    """Build `dashboard.html` beside the warehouse from the marts; returns its path.
    `month`: the reporting month (default: the last complete one)."""
    data = load_dashboard_data(settings, month)
    href = (
        settings.quality_report.name
        if settings.quality_report.parent == settings.dashboard.parent
        else settings.quality_report.as_uri()
    )
    document = render_dashboard(data, quality_href=href)
    path = settings.dashboard
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace_file(path, document)
    return path


def _replace_file(path: Path, document: str) -> None:
    """Write beside and rename into place: a reader never sees half a page."""
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(path)


def refresh_last_run(settings: Settings) -> bool:
    """Rewrite only the "Last run" cards of `dashboard.html` from the run log: a run
    writes the dashboard while it is still running, and once it has ended its final
    status is all that changed (the marts are the same). False, and nothing written,
    when the file has no such cards (a dashboard written by an older version) or there
    is no run log: then write the whole dashboard."""
    from cx_insights.warehouse import connect, table_exists

    path = settings.dashboard
    if not path.exists() or not settings.warehouse.exists():
        return False
    document = path.read_text(encoding="utf-8")
    start, end = document.find(LAST_RUN_START), document.find(LAST_RUN_END)
    if start < 0 or end < start or document.count(LAST_RUN_START) != 1:
        return False
    with connect(settings.warehouse, read_only=True) as con:
        if not table_exists(con, "raw", "_runs"):
            return False
        runs = con.execute(RUNS_SQL).df()
    _replace_file(
        path, document[:start] + last_run_html(runs) + document[end + len(LAST_RUN_END) :]
    )
    return True
