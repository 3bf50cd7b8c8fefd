"""The page shell: tabs, styles and plotly.js inlined once; `write_dashboard` writes the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from plotly.offline import get_plotlyjs

from cx_insights.config import Settings
from cx_insights.report.dashboard.charts import Figures
from cx_insights.report.dashboard.data import DashboardData, load_dashboard_data
from cx_insights.report.dashboard.formatting import esc, month_label
from cx_insights.report.dashboard.pages.cx_lead import cx_lead_page
from cx_insights.report.dashboard.pages.executive import executive_page
from cx_insights.report.dashboard.pages.initiatives import initiatives_page
from cx_insights.report.dashboard.pages.product import product_page
from cx_insights.report.dashboard.pages.quality import quality_page
from cx_insights.report.dashboard.pages.support import support_page
from cx_insights.report.html import asset, page


def render_dashboard(data: DashboardData, quality_href: str = "data_quality.html") -> str:
    figs = Figures()
    pages = [
        executive_page(data, figs),
        cx_lead_page(data, figs),
        support_page(data, figs),
        product_page(data, figs),
        initiatives_page(data, figs),
        quality_page(data, figs, quality_href),
    ]
    nav = "".join(
        f"<button type='button' role='tab' data-tab='{p.key}' aria-selected='false'>"
        f"{esc(p.title)}</button>"
        for p in pages
    )
    body = "".join(
        f"<div class='page' id='page-{p.key}' role='tabpanel'>"
        f"<p class='question'>{esc(p.question)}</p>{''.join(p.body)}</div>"
        for p in pages
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
    period = (
        f" · reporting month {month_label(data.reporting_month)}" if data.reporting_month else ""
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
                f"{esc(data.warehouse.name)}{period} · money in {esc(data.currency)}</div>",
                f"<nav class='tabs' role='tablist'>{nav}</nav></header>",
                f"<main>{banner}{body}</main>",
                "<footer>cx-insights: every number comes from the warehouse marts "
                "(marts.kpi_monthly and the insight tables).</footer>",
            ]
        ),
        script=asset("tabs.js"),
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
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(path)
    return path
