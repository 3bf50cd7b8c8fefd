"""The role dashboard: one static, self-contained HTML file built from the marts.

`write_dashboard(settings)` reads the marts (read-only, one short connection),
and writes `dashboard.html` beside the warehouse file: plotly.js inlined once,
no CDN, no server, so the file opens from disk and can be mailed.

One tab per role, each answering its role's question:

* Executive: the top line this month against last month and a year ago, NPS
  with its interval, revenue at risk, the value of a promoter, and three
  things to act on, in words.
* CX lead: the journey -> job -> touchpoint roll-up, key drivers in an
  importance x performance quadrant, verbatims of the worst touchpoints.
* Support lead, Product / digital, Initiatives, Data quality.

Numbers are read from the marts as they are (`kpi_monthly` and the insight
tables); where a breakdown is not in a mart (tickets by channel), it is
selected from the fact table in SQL with the definition of kpis.md. A table
that is missing renders a "not available yet" note, never an error.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from cx_insights.config import Settings
from cx_insights.contract import WAITING_RULES
from cx_insights.privacy import mask_pii
from cx_insights.warehouse import connect, table_exists

log = logging.getLogger(__name__)

#: The marts the dashboard reads: the Dagster asset depends on these and the
#: dbt exposure declares them.
CORE_MARTS = (
    "kpi_monthly",
    "dim_touchpoint",
    "dim_journey",
    "fct_survey_answers",
    "fct_survey_responses",
    "fct_tickets",
    "fct_web_sessions",
    "fct_invoices",
)
INSIGHT_MARTS = (
    "driver_importance",
    "nps_financial_link",
    "customers_at_risk",
    "revenue_at_risk",
    "churn_model_backtest",
    "initiative_impact",
)
MARTS_READ = CORE_MARTS + INSIGHT_MARTS

LOW_SAMPLE = 30
#: Verbatims shown per worst touchpoint, and how many touchpoints.
VERBATIMS_PER_TOUCHPOINT = 6
WORST_TOUCHPOINTS = 3

# --------------------------------------------------------------------------------------
# Metrics: how each one of kpis.md is labelled, formatted and judged.


@dataclass(frozen=True)
class MetricInfo:
    label: str
    kind: str  # score | percent | mean7 | money | count | minutes | hours
    higher_is_better: bool | None
    decimals: int = 1


METRICS: dict[str, MetricInfo] = {
    "nps": MetricInfo("NPS", "score", True, 1),
    "csat": MetricInfo("CSAT (top-2-box)", "percent", True, 1),
    "ces": MetricInfo("CES (1-7, higher = easier)", "mean7", True, 2),
    "active_customers_start": MetricInfo("Active customers (month start)", "count", True, 0),
    "active_customers_end": MetricInfo("Active customers", "count", True, 0),
    "new_customers": MetricInfo("New customers", "count", True, 0),
    "lost_customers": MetricInfo("Lost customers", "count", False, 0),
    "churn_rate": MetricInfo("Customer churn", "percent", False, 2),
    "mrr_start": MetricInfo("MRR (month start)", "money", True, 0),
    "mrr_end": MetricInfo("MRR", "money", True, 0),
    "revenue_churn_rate": MetricInfo("Revenue churn", "percent", False, 2),
    "revenue": MetricInfo("Revenue (paid invoices)", "money", True, 0),
    "tickets_created": MetricInfo("Tickets created", "count", False, 0),
    "avg_resolution_hours": MetricInfo("Avg resolution time", "hours", False, 1),
    "median_first_response_minutes": MetricInfo("Median first response", "minutes", False, 0),
    "sessions": MetricInfo("Web sessions", "count", True, 0),
    "conversion_rate": MetricInfo("Conversion rate", "percent", True, 2),
    "bounce_rate": MetricInfo("Bounce rate", "percent", False, 1),
    "cart_abandonment_rate": MetricInfo("Cart abandonment", "percent", False, 1),
}

#: The executive's top line, in the order the cards appear.
TOP_LINE = (
    "nps",
    "csat",
    "ces",
    "active_customers_end",
    "churn_rate",
    "revenue_churn_rate",
    "mrr_end",
    "revenue",
    "tickets_created",
    "median_first_response_minutes",
    "conversion_rate",
)

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}

GOOD = "#15803d"
BAD = "#b91c1c"
NEUTRAL = "#475569"
ACCENT = "#2563eb"
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"]
NPS_CATEGORY_COLORS = {
    "promoter": "#15803d",
    "passive": "#f59e0b",
    "detractor": "#b91c1c",
    "no_answer": "#94a3b8",
}


def _template() -> go.layout.Template:
    """A small template: plotly's default embeds ~10 kB of JSON into every figure."""
    return go.layout.Template(
        layout=go.Layout(
            font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
            title={"font": {"size": 16}, "x": 0.01, "xanchor": "left"},
            paper_bgcolor="white",
            plot_bgcolor="white",
            colorway=PALETTE,
            xaxis={"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", "automargin": True},
            yaxis={"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", "automargin": True},
            margin={"l": 60, "r": 30, "t": 90, "b": 50},
            # Above the plot, under the title: below it, it collides with the x-axis title.
            legend={
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.02,
                "xanchor": "left",
                "x": 0,
            },
            hoverlabel={"namelength": -1},
        )
    )


TEMPLATE = _template()


# --------------------------------------------------------------------------------------
# Formatting helpers (pure).


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_number(value: object, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    text = f"{v:,.{decimals}f}"
    return text.replace("-", "−") if v < 0 else text


def fmt_money(value: object, currency: str, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency)
    number = fmt_number(abs(float(value)), decimals)  # type: ignore[arg-type]
    sign = "−" if float(value) < 0 else ""  # type: ignore[arg-type]
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def metric_label(metric: str) -> str:
    info = METRICS.get(metric)
    return info.label if info else metric.replace("_", " ")


def fmt_metric(metric: str, value: object, currency: str) -> str:
    info = METRICS.get(metric, MetricInfo(metric, "count", None, 1))
    if is_missing(value):
        return "–"
    if info.kind == "money":
        return fmt_money(value, currency, info.decimals)
    if info.kind == "percent":
        return f"{fmt_number(value, info.decimals)} %"
    if info.kind == "minutes":
        return f"{fmt_number(value, info.decimals)} min"
    if info.kind == "hours":
        return f"{fmt_number(value, info.decimals)} h"
    return fmt_number(value, info.decimals)


def fmt_delta(metric: str, delta: object, currency: str) -> str:
    """A change, signed, in the metric's unit (percentage points for rates)."""
    info = METRICS.get(metric, MetricInfo(metric, "count", None, 1))
    if is_missing(delta):
        return "–"
    d = float(delta)  # type: ignore[arg-type]
    sign = "+" if d > 0 else ("−" if d < 0 else "±")
    body = (
        fmt_money(abs(d), currency, info.decimals)
        if info.kind == "money"
        else fmt_number(abs(d), info.decimals)
    )
    unit = {"percent": " pts", "score": " pts", "minutes": " min", "hours": " h"}.get(info.kind, "")
    return f"{sign}{body}{unit}"


def delta_class(metric: str, delta: object) -> str:
    info = METRICS.get(metric)
    if info is None or info.higher_is_better is None or is_missing(delta) or float(delta) == 0:  # type: ignore[arg-type]
        return "flat"
    better = (float(delta) > 0) == info.higher_is_better  # type: ignore[arg-type]
    return "good" if better else "bad"


def month_label(month: object) -> str:
    if is_missing(month):
        return "–"
    return pd.Timestamp(month).strftime("%b %Y")


def add_months(month: date, k: int) -> date:
    total = month.year * 12 + (month.month - 1) + k
    return date(total // 12, total % 12 + 1, 1)


def nps_category(score: object) -> str:
    """promoter 9..10, passive 7..8, detractor 0..6 (kpis.md); `none` without a score."""
    if is_missing(score):
        return "none"
    v = float(score)  # type: ignore[arg-type]
    return "promoter" if v >= 9 else ("passive" if v >= 7 else "detractor")


# --------------------------------------------------------------------------------------
# Reading the warehouse.


@dataclass
class DashboardData:
    currency: str
    generated_at: datetime
    warehouse: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing_marts: list[str] = field(default_factory=list)
    reporting_month: date | None = None
    latest_month: date | None = None
    data_until: datetime | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    freshness: list[tuple[str, Any, Any]] = field(default_factory=list)
    max_reject_rate: float | None = None
    read_error: str | None = None

    def frame(self, name: str) -> pd.DataFrame | None:
        frame = self.frames.get(name)
        return frame if frame is not None and not frame.empty else None

    def has(self, name: str) -> bool:
        return self.frame(name) is not None


def _query(con: Any, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


DATA_UNTIL_SQL = {
    "fct_survey_responses": "select max(submitted_at) from marts.fct_survey_responses",
    "fct_tickets": "select max(created_at) from marts.fct_tickets",
    "fct_web_sessions": "select max(started_at) from marts.fct_web_sessions",
    "fct_invoices": "select max(issued_at) from marts.fct_invoices",
}

TICKETS_BY_CHANNEL_SQL = """
-- kpis.md: tickets_created and median_first_response_minutes count in the month of
-- created_at, avg_resolution_hours in the month of solved_at.
with tickets as (
    select
        coalesce(channel, 'unknown') as channel,
        cast(date_trunc('month', created_at) as date) as created_month,
        cast(date_trunc('month', solved_at) as date) as solved_month,
        first_response_minutes,
        resolution_hours,
        satisfaction
    from marts.fct_tickets
),
created as (
    select created_month as month, channel, count(*) as tickets_created,
        quantile_cont(first_response_minutes, 0.5) as median_first_response_minutes,
        count(first_response_minutes) as responded_tickets
    from tickets group by 1, 2
),
solved as (
    select solved_month as month, channel, count(*) as solved_tickets,
        avg(resolution_hours) as avg_resolution_hours,
        sum(case when satisfaction = 'good' then 1 else 0 end) as rated_good,
        sum(case when satisfaction in ('good', 'bad') then 1 else 0 end) as rated
    from tickets where solved_month is not null group by 1, 2
)
select
    coalesce(created.month, solved.month) as month,
    coalesce(created.channel, solved.channel) as channel,
    coalesce(created.tickets_created, 0) as tickets_created,
    created.median_first_response_minutes,
    coalesce(created.responded_tickets, 0) as responded_tickets,
    coalesce(solved.solved_tickets, 0) as solved_tickets,
    solved.avg_resolution_hours,
    coalesce(solved.rated_good, 0) as rated_good,
    coalesce(solved.rated, 0) as rated,
    case when solved.rated > 0 then 100.0 * solved.rated_good / solved.rated end
        as satisfaction_good_share
from created
full outer join solved on created.month = solved.month and created.channel = solved.channel
order by 1, 2
"""

TICKETS_SATISFACTION_BY_TOUCHPOINT_SQL = """
select
    coalesce(touchpoint_id, 'unknown') as touchpoint_id,
    sum(case when satisfaction = 'good' then 1 else 0 end) as rated_good,
    sum(case when satisfaction in ('good', 'bad') then 1 else 0 end) as rated,
    case when sum(case when satisfaction in ('good', 'bad') then 1 else 0 end) > 0
        then 100.0 * sum(case when satisfaction = 'good' then 1 else 0 end)
            / sum(case when satisfaction in ('good', 'bad') then 1 else 0 end)
    end as satisfaction_good_share
from marts.fct_tickets
where solved_at >= ? and solved_at < ?
group by 1
"""

VERBATIMS_SQL = """
select touchpoint_id, submitted_at, value_text, nps_score from (
    select
        answers.touchpoint_id,
        answers.submitted_at,
        answers.value_text,
        responses.nps_score,
        row_number() over (
            partition by answers.touchpoint_id
            order by responses.nps_score asc nulls last, answers.submitted_at desc
        ) as rank_in_touchpoint
    from marts.fct_survey_answers as answers
    left join marts.fct_survey_responses as responses
        on answers.response_id = responses.response_id
    where answers.metric = 'verbatim'
        and answers.value_text is not null
        and answers.submitted_at >= ? and answers.submitted_at < ?
        and answers.touchpoint_id in (select unnest(?))
) as ranked
where rank_in_touchpoint <= ?
order by touchpoint_id, rank_in_touchpoint
"""

AT_RISK_TOP = 15


def choose_reporting_month(
    months: Iterable[date], data_until: datetime | None
) -> tuple[date | None, date | None]:
    """(reporting month, latest month): the latest month unless the data stops before its end.

    A month whose data ends before its last day would compare a part month with
    whole ones, so the month before it is reported (and the page says so).
    """
    ordered = sorted({pd.Timestamp(m).date() for m in months})
    if not ordered:
        return None, None
    latest = ordered[-1]
    if data_until is not None and len(ordered) > 1:
        month_end = add_months(latest, 1)
        if pd.Timestamp(data_until) < pd.Timestamp(month_end) - pd.Timedelta(days=1):
            return ordered[-2], latest
    return latest, latest


def load_dashboard_data(settings: Settings) -> DashboardData:
    data = DashboardData(
        currency=settings.reporting_currency,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        warehouse=settings.warehouse,
        max_reject_rate=settings.max_reject_rate,
    )
    if not settings.warehouse.exists():
        data.missing_marts = list(MARTS_READ)
        data.read_error = f"no warehouse at {settings.warehouse}: run `cx-insights run` first"
        return data
    try:
        _read_marts(settings, data)
    except Exception as exc:  # a dashboard that cannot read says so on the page
        log.exception("dashboard: reading the marts failed")
        data.read_error = f"reading the warehouse failed: {exc}"
    try:
        from cx_insights.report.quality_report import collect

        data.quality = collect(settings)
    except Exception as exc:
        log.warning("dashboard: data-quality summary unavailable: %s", exc)
    return data


def _read_marts(settings: Settings, data: DashboardData) -> None:
    with connect(settings.warehouse, read_only=True) as con:
        present = {name for name in MARTS_READ if table_exists(con, "marts", name)}
        data.missing_marts = [name for name in MARTS_READ if name not in present]
        for name in ("kpi_monthly", "dim_touchpoint", "dim_journey", *INSIGHT_MARTS):
            if name in present and name != "customers_at_risk":
                data.frames[name] = _query(con, f"select * from marts.{name}")
        if "customers_at_risk" in present:
            data.frames.update(_read_customers_at_risk(con))
        untils = [
            con.execute(sql).fetchone()[0]
            for name, sql in DATA_UNTIL_SQL.items()
            if name in present
        ]
        untils = [u for u in untils if u is not None]
        data.data_until = max(untils) if untils else None
        kpi = data.frame("kpi_monthly")
        if kpi is not None:
            months = kpi.loc[kpi["level"] == "company", "month"]
            data.reporting_month, data.latest_month = choose_reporting_month(
                months, data.data_until
            )
        if "fct_tickets" in present:
            data.frames["tickets_by_channel"] = _query(con, TICKETS_BY_CHANNEL_SQL)
            if data.reporting_month:
                data.frames["ticket_satisfaction_by_touchpoint"] = _query(
                    con,
                    TICKETS_SATISFACTION_BY_TOUCHPOINT_SQL,
                    [data.reporting_month, add_months(data.reporting_month, 1)],
                )
        worst = worst_touchpoints(data)
        if worst and {"fct_survey_answers", "fct_survey_responses"} <= present:
            start = add_months(data.reporting_month, -2)  # type: ignore[arg-type]
            end = add_months(data.reporting_month, 1)  # type: ignore[arg-type]
            data.frames["verbatims"] = _query(
                con, VERBATIMS_SQL, [start, end, list(worst), VERBATIMS_PER_TOUCHPOINT]
            )
        try:
            from cx_insights.report.status import freshness

            data.freshness = freshness(con)
        except Exception as exc:
            log.warning("dashboard: freshness unavailable: %s", exc)
        if table_exists(con, "raw", "_runs"):
            data.frames["runs"] = _query(
                con,
                "select run_id, started_at, ended_at, status, files_loaded, failed_checks, "
                "failed_steps from raw._runs order by started_at desc limit 10",
            )
        if table_exists(con, "raw", "_gate_results"):
            data.frames["gate_results"] = _query(
                con,
                """
                select entity, checked_at, rows_landed, rows_accepted, rows_quarantined,
                    rows_current, by_rule
                from (
                    select *, row_number() over (
                        partition by entity order by checked_at desc) as recency
                    from raw._gate_results
                ) as latest where recency = 1 order by entity
                """,
            )
        newest = []
        for name, sql in DATA_UNTIL_SQL.items():
            if name in present:
                newest.append((name, con.execute(sql).fetchone()[0]))
        data.frames["newest_records"] = pd.DataFrame(newest, columns=["mart", "newest_record_at"])


AT_RISK_SQL = """
-- Who to call first: the high band, largest expected MRR loss first.
select customer_id, segment, churn_risk_score, risk_band, mrr_at_risk, expected_mrr_loss,
    latest_nps_category, reasons
from marts.customers_at_risk
order by case when risk_band = 'high' then 0 else 1 end, expected_mrr_loss desc nulls last,
    churn_risk_score desc, customer_id
limit ?
"""

HIGH_RISK_REASONS_SQL = """
select reasons from marts.customers_at_risk where risk_band = 'high' and reasons is not null
"""


def _read_customers_at_risk(con: Any) -> dict[str, pd.DataFrame]:
    """The top of the list, and the reasons of the high band (one row per customer)."""
    return {
        "customers_at_risk": _query(con, AT_RISK_SQL, [AT_RISK_TOP]),
        "high_risk_reasons": _query(con, HIGH_RISK_REASONS_SQL),
    }


# --------------------------------------------------------------------------------------
# Reading kpi_monthly (pure functions over the frame).


def kpi_rows(
    kpi: pd.DataFrame, level: str, metric: str | Iterable[str], month: date | None = None
) -> pd.DataFrame:
    metrics = [metric] if isinstance(metric, str) else list(metric)
    rows = kpi[(kpi["level"] == level) & (kpi["metric"].isin(metrics))]
    if month is not None:
        rows = rows[pd.to_datetime(rows["month"]) == pd.Timestamp(month)]
    return rows


def kpi_value(
    kpi: pd.DataFrame,
    metric: str,
    month: date | None,
    level: str = "company",
    level_id: str = "all",
) -> pd.Series | None:
    if month is None:
        return None
    rows = kpi_rows(kpi, level, metric, month)
    rows = rows[rows["level_id"] == level_id]
    return None if rows.empty else rows.iloc[0]


@dataclass(frozen=True)
class TopLineCard:
    metric: str
    value: float | None
    previous: float | None
    year_ago: float | None
    n: int | None
    ci_low: float | None
    ci_high: float | None
    is_low_sample: bool

    @property
    def vs_previous(self) -> float | None:
        return None if self.value is None or self.previous is None else self.value - self.previous

    @property
    def vs_year_ago(self) -> float | None:
        return None if self.value is None or self.year_ago is None else self.value - self.year_ago


def _float(value: object) -> float | None:
    return None if is_missing(value) else float(value)  # type: ignore[arg-type]


def top_line(
    kpi: pd.DataFrame, month: date, metrics: Iterable[str] = TOP_LINE
) -> list[TopLineCard]:
    cards = []
    for metric in metrics:
        now = kpi_value(kpi, metric, month)
        prev = kpi_value(kpi, metric, add_months(month, -1))
        year = kpi_value(kpi, metric, add_months(month, -12))
        if now is None and prev is None:
            continue
        cards.append(
            TopLineCard(
                metric=metric,
                value=_float(now["value"]) if now is not None else None,
                previous=_float(prev["value"]) if prev is not None else None,
                year_ago=_float(year["value"]) if year is not None else None,
                n=int(now["n"]) if now is not None and not is_missing(now["n"]) else None,
                ci_low=_float(now["ci_low"]) if now is not None else None,
                ci_high=_float(now["ci_high"]) if now is not None else None,
                # A numpy bool from the frame: `is True` would never hold.
                is_low_sample=now is not None
                and not is_missing(now["is_low_sample"])
                and bool(now["is_low_sample"]),
            )
        )
    return cards


def framework_labels(data: DashboardData) -> dict[tuple[str, str], str]:
    """(level, id) -> a readable name, from dim_touchpoint and dim_journey."""
    labels: dict[tuple[str, str], str] = {("company", "all"): "Company"}
    tp = data.frame("dim_touchpoint")
    if tp is not None:
        for row in tp.itertuples(index=False):
            labels[("touchpoint", row.touchpoint_id)] = row.touchpoint_name or row.touchpoint_id
            if not is_missing(row.job_id):
                labels[("job", row.job_id)] = row.job_statement or row.job_id
            if not is_missing(row.journey_id):
                labels[("journey", row.journey_id)] = row.journey_name or row.journey_id
    jn = data.frame("dim_journey")
    if jn is not None:
        for row in jn.itertuples(index=False):
            labels[("journey", row.journey_id)] = row.journey_name or row.journey_id
    for level in ("touchpoint", "job", "journey"):
        labels.setdefault((level, "unknown"), "Unknown (no touchpoint)")
    return labels


def label_of(labels: dict[tuple[str, str], str], level: str, level_id: str) -> str:
    return labels.get((level, level_id), level_id)


def worst_touchpoint_rows(data: DashboardData) -> pd.DataFrame:
    """Touchpoint NPS rows of the reporting month, worst first.

    Ranked by the upper end of the 95 % interval (then the value): a touchpoint
    is worst when even its best plausible NPS is low, so that five unhappy
    answers do not outrank two hundred.
    """
    kpi = data.frame("kpi_monthly")
    if kpi is None or data.reporting_month is None:
        return pd.DataFrame()
    rows = kpi_rows(kpi, "touchpoint", "nps", data.reporting_month)
    rows = rows[(rows["level_id"] != "unknown") & rows["value"].notna()]
    rank = rows["ci_high"].fillna(rows["value"])
    return rows.assign(_rank=rank).sort_values(["_rank", "value"])


def worst_touchpoints(data: DashboardData, k: int = WORST_TOUCHPOINTS) -> list[str]:
    return list(worst_touchpoint_rows(data)["level_id"].head(k)) if data.has("kpi_monthly") else []


# --------------------------------------------------------------------------------------
# Charts.


class Figures:
    """Turns figures into HTML fragments; plotly.js itself is inlined once in <head>."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure, height: int = 420) -> str:
        self.count += 1
        fig.update_layout(template=TEMPLATE, height=height)
        body = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"cx-chart-{self.count}",
            default_height=f"{height}px",
            config={"responsive": True, "displaylogo": False, "displayModeBar": "hover"},
        )
        return f"<div class='chart'>{body}</div>"


def _not_available(what: str, why: str = "") -> str:
    reason = f" {_e(why)}" if why else ""
    return f"<div class='na'><strong>{_e(what)}: not available yet.</strong>{reason}</div>"


def _missing_note(data: DashboardData, *marts: str) -> str:
    missing = [m for m in marts if m in data.missing_marts or not data.has(m)]
    return (
        f"Needs {', '.join(f'marts.{m}' for m in missing)}, which "
        f"{'is' if len(missing) == 1 else 'are'} not built in this warehouse yet."
        if missing
        else "The table is empty for this period."
    )


def _table(headers: list[str], rows: list[list[object]], raw: set[int] | None = None) -> str:
    raw = raw or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if i in raw else _e(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def nps_trend_figure(kpi: pd.DataFrame, reporting_month: date) -> go.Figure | None:
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
        title="Company NPS by month, with its 95 % interval",
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
    """marts.revenue_at_risk: customers and MRR per churn-risk band."""
    if bands.empty:
        return None
    order = {"high": 0, "medium": 1, "low": 2}
    bands = bands.assign(_order=bands["risk_band"].map(order).fillna(3)).sort_values("_order")
    colors = {"high": BAD, "medium": "#f59e0b", "low": GOOD}
    fig = go.Figure(
        go.Bar(
            y=[f"{str(b).capitalize()} risk" for b in bands["risk_band"]],
            x=bands["mrr"],
            orientation="h",
            marker_color=[colors.get(str(b), NEUTRAL) for b in bands["risk_band"]],
            text=[
                f"{fmt_money(m, currency)} · {fmt_number(c)} customers · {fmt_number(sh, 1)} %"
                for m, c, sh in zip(
                    bands["mrr"], bands["customers"], bands["share_of_mrr"], strict=True
                )
            ],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,.0f} MRR<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, float(bands["mrr"].max()) * 1.6])
    fig.update_layout(
        title="Current MRR by churn-risk band (label: MRR · customers · share of MRR)",
        xaxis_title=f"MRR ({currency})",
        yaxis_title="Churn-risk band",
        showlegend=False,
    )
    return fig


def rollup_rows(data: DashboardData) -> list[tuple[str, str, str, int]]:
    """(level, id, label, depth) in framework order: journey, its jobs, their touchpoints."""
    tp = data.frame("dim_touchpoint")
    if tp is None:
        return []
    tp = tp.copy()
    if "is_unknown_member" in tp.columns:
        tp = tp[~tp["is_unknown_member"].fillna(False).astype(bool)]
    sort_cols = [c for c in ("stage_order", "journey_id", "job_id", "touchpoint_id") if c in tp]
    tp = tp.sort_values(sort_cols, na_position="last")
    out: list[tuple[str, str, str, int]] = []
    for journey_id, journey in tp.groupby("journey_id", sort=False):
        out.append(("journey", journey_id, str(journey["journey_name"].iloc[0]), 0))
        for job_id, job in journey.groupby("job_id", sort=False):
            out.append(("job", job_id, str(job["job_statement"].iloc[0]), 1))
            for row in job.itertuples(index=False):
                out.append(("touchpoint", row.touchpoint_id, str(row.touchpoint_name), 2))
    return out


def _shorten(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rollup_heatmap_figure(data: DashboardData) -> go.Figure | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    rows = rollup_rows(data)
    if kpi is None or month is None or not rows:
        return None
    metrics = ["nps", "csat", "ces"]
    month_rows = kpi[
        (pd.to_datetime(kpi["month"]) == pd.Timestamp(month)) & kpi["metric"].isin(metrics)
    ]
    lookup = {(r.level, r.level_id, r.metric): r for r in month_rows.itertuples(index=False)}
    company = {m: lookup.get(("company", "all", m)) for m in metrics}
    all_rows = [("company", "all", "Company (all answers)", 0), *rows]
    indent = {0: "", 1: "\u00a0\u00a0\u00a0", 2: "\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0· "}
    prefix = {"company": "", "journey": "Journey: ", "job": "Job: ", "touchpoint": ""}
    y_labels = []
    full_labels = [f"{prefix[level]}{_e(label)}" for level, _i, label, _d in all_rows]
    for level, _level_id, label, depth in all_rows:
        text = prefix[level] + _shorten(label, 46 if level == "touchpoint" else 52)
        y_labels.append(
            f"<b>{_e(text)}</b>" if level in ("company", "journey") else indent[depth] + _e(text)
        )
    # Colour = distance from the company value, scaled per metric, so that one
    # colour scale serves three metrics of different units.
    spread = {"nps": 40.0, "csat": 25.0, "ces": 1.5}
    z_ok, z_low, text = [], [], []
    for level, level_id, _label, _depth in all_rows:
        zr_ok, zr_low, tr = [], [], []
        for m in metrics:
            r = lookup.get((level, level_id, m))
            base = company[m]
            if r is None or is_missing(r.value):
                zr_ok.append(None)
                zr_low.append(None)
                tr.append("")
                continue
            rel = (r.value - base.value) / spread[m] if base is not None else 0.0
            rel = max(-1.0, min(1.0, rel))
            low = bool(r.n < LOW_SAMPLE)
            zr_ok.append(None if low else rel)
            zr_low.append(rel if low else None)
            decimals = 2 if m == "ces" else 0
            mark = " †" if low else ""
            tr.append(f"{fmt_number(r.value, decimals)} (n={int(r.n)}){mark}")
        z_ok.append(zr_ok)
        z_low.append(zr_low)
        text.append(tr)
    x_labels = ["NPS", "CSAT %", "CES (1-7)"]
    colorscale = [[0, "#dc2626"], [0.5, "#f8fafc"], [1, "#16a34a"]]
    common = dict(
        x=x_labels,
        y=y_labels,
        text=text,
        texttemplate="%{text}",
        colorscale=colorscale,
        zmin=-1,
        zmax=1,
        xgap=2,
        ygap=2,
        customdata=[[full] * len(metrics) for full in full_labels],
        hovertemplate="%{customdata}<br>%{x}: %{text}<extra></extra>",
    )
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=z_ok,
            name="n ≥ 30",
            colorbar={
                "title": {"text": "vs company"},
                "tickvals": [-1, 0, 1],
                "ticktext": ["worse", "same", "better"],
                "len": 0.5,
                "y": 1,
                "yanchor": "top",
            },
            textfont={"color": "#0f172a", "size": 12},
            **common,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=z_low,
            name="n < 30",
            opacity=0.35,
            showscale=False,
            textfont={"color": "#475569", "size": 12},
            **common,
        )
    )
    fig.update_yaxes(autorange="reversed", tickfont={"size": 12}, showgrid=False)
    fig.update_xaxes(side="top", tickfont={"size": 13}, showgrid=False)
    fig.update_layout(
        title=f"Roll-up: journey → job → touchpoint, {month_label(month)} "
        "(value and n; † = fewer than 30 answers, faded)",
        margin={"l": 20, "r": 20, "t": 90, "b": 20},
    )
    return fig


def rollup_height(data: DashboardData) -> int:
    return max(360, 150 + 24 * (len(rollup_rows(data)) + 1))


QUADRANT_COLORS = {
    "fix first": BAD,
    "keep up": GOOD,
    "maintain": ACCENT,
    "low priority": "#94a3b8",
}


def driver_groups(drivers: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per scope and element family, the company first.

    Relative-weight shares sum to 100 within one (level, level_id, element_type),
    so each family gets its own quadrant.
    """
    frame = drivers.dropna(subset=["relative_weight_share", "performance_top_2_box_pct"])
    frame = frame.assign(
        _company=(frame["level"] != "company").astype(int),
        _family=(frame["element_type"] != "driver").astype(int),
    ).sort_values(["_company", "level_name", "_family"], kind="stable")
    groups = []
    for (_c, scope, _f, family), part in frame.groupby(
        ["_company", "level_name", "_family", "element_type"], sort=False
    ):
        what = "experience drivers" if family == "driver" else "touchpoint satisfaction"
        groups.append((f"{scope}: {what}", part))
    return groups


def _padded(lo: float, hi: float, share: float = 0.15, min_span: float = 0.0) -> list[float]:
    """An axis range around [lo, hi] with room for labels, at least `min_span` wide
    (so that a spread of two points does not fill the chart as if it were fifty)."""
    if hi - lo < min_span:
        middle = (hi + lo) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
    pad = (hi - lo) * share or max(abs(hi) * share, 1.0)
    return [lo - pad, hi + pad]


def label_positions(xs: list[float]) -> list[str]:
    """Above and below in turn, by x: neighbours' labels then do not print over each other."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    positions = [""] * len(xs)
    for rank, i in enumerate(order):
        positions[i] = "top center" if rank % 2 == 0 else "bottom center"
    return positions


def driver_quadrant_figure(drivers: pd.DataFrame) -> go.Figure | None:
    """marts.driver_importance as an importance x performance quadrant, one view per scope."""
    groups = driver_groups(drivers)
    if not groups:
        return None
    fig = go.Figure()
    buttons = []
    views = []
    for i, (label, part) in enumerate(groups):
        imp = part["relative_weight_share"].astype(float)
        perf = part["performance_top_2_box_pct"].astype(float)
        low = part["is_low_sample"].fillna(False).astype(bool).tolist()
        quadrants = part["quadrant"].fillna("").astype(str).tolist()
        hover = [
            f"<b>{_e(r.element_name)}</b> ({_e(r.quadrant)})<br>"
            f"importance {fmt_number(r.relative_weight_share, 1)} % of the explained NPS "
            f"(rank {fmt_number(r.importance_rank)})<br>"
            f"Pearson r with NPS {fmt_number(r.pearson_r, 2)}, n = {fmt_number(r.n)}"
            f"{' (low sample)' if lo else ''}<br>"
            f"performance {fmt_number(r.performance_top_2_box_pct, 1)} % top-2-box, mean "
            f"{fmt_number(r.performance_mean, 2)} on {fmt_number(r.performance_scale_min)}-"
            f"{fmt_number(r.performance_scale_max)}"
            for r, lo in zip(part.itertuples(index=False), low, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=imp,
                y=perf,
                mode="markers+text",
                text=[
                    _shorten(str(v)[:1].upper() + str(v)[1:], 26) + (" †" if lo else "")
                    for v, lo in zip(part["element_name"], low, strict=True)
                ],
                textposition=label_positions(imp.tolist()),
                textfont={"size": 12, "color": "#1e293b"},
                marker={
                    "size": 14,
                    "color": [QUADRANT_COLORS.get(q, NEUTRAL) for q in quadrants],
                    "opacity": [0.45 if lo else 1.0 for lo in low],
                    "line": {"color": "white", "width": 1},
                },
                hovertext=hover,
                hoverinfo="text",
                name=label,
                visible=(i == 0),
                showlegend=False,
            )
        )
        # The mart splits at the medians (at or above = high): draw the same lines.
        x_mid, y_mid = float(imp.median()), float(perf.median())
        view = {
            "shapes": [
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x_mid,
                    "x1": x_mid,
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dash", "color": "#94a3b8"},
                },
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": y_mid,
                    "y1": y_mid,
                    "line": {"dash": "dash", "color": "#94a3b8"},
                },
            ],
            "xaxis.range": _padded(float(imp.min()), float(imp.max()), 0.15, 20.0),
            "yaxis.range": _padded(float(perf.min()), float(perf.max()), 0.3, 20.0),
        }
        views.append(view)
        buttons.append(
            {
                "label": label,
                "method": "update",
                "args": [{"visible": [j == i for j in range(len(groups))]}, view],
            }
        )
    fig.update_layout(shapes=views[0]["shapes"])
    fig.update_xaxes(range=views[0]["xaxis.range"])
    fig.update_yaxes(range=views[0]["yaxis.range"])
    for text, xa, ya, xanchor, yanchor, color in (
        ("FIX FIRST: important, below median", 1, 0, "right", "bottom", BAD),
        ("KEEP UP: important, performing", 1, 1, "right", "top", GOOD),
        ("LOW PRIORITY", 0, 0, "left", "bottom", "#64748b"),
        ("MAINTAIN: less important, performing", 0, 1, "left", "top", ACCENT),
    ):
        fig.add_annotation(
            text=text,
            xref="paper",
            yref="paper",
            x=xa,
            y=ya,
            xanchor=xanchor,
            yanchor=yanchor,
            showarrow=False,
            font={"color": color, "size": 11},
        )
    fig.update_layout(
        title="Key drivers: importance × performance (dashed: medians; † low sample, faded)",
        xaxis_title="Importance: share of the explained NPS (Johnson's relative weight, %)",
        yaxis_title="Performance: top-2-box (%)",
        margin={"t": 100},
    )
    if len(groups) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "buttons": buttons,
                    "direction": "down",
                    "x": 1,
                    "xanchor": "right",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "showactive": True,
                }
            ],
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


# --------------------------------------------------------------------------------------
# "Three things to act on": sentences from the data.


@dataclass(frozen=True)
class Action:
    rank: int  # lower comes first
    headline: str
    detail: str


def action_worst_touchpoint(data: DashboardData, labels: dict) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    rows = worst_touchpoint_rows(data)
    if kpi is None or month is None or rows.empty:
        return None
    company = kpi_value(kpi, "nps", month)
    worst = rows.iloc[0]
    if company is None or float(worst["value"]) >= float(company["value"]):
        return None
    gap = float(company["value"]) - float(worst["value"])
    tp = data.frame("dim_touchpoint")
    journey = ""
    if tp is not None:
        match = tp[tp["touchpoint_id"] == worst["level_id"]]
        if not match.empty:
            journey = f" in the {match['journey_name'].iloc[0]} journey"
    name = label_of(labels, "touchpoint", worst["level_id"])
    interval = (
        f", 95 % interval {fmt_number(worst['ci_low'], 0)} to {fmt_number(worst['ci_high'], 0)}"
        if not is_missing(worst["ci_high"])
        else ""
    )
    small = ", a small sample" if worst["n"] < LOW_SAMPLE else ""
    return Action(
        1,
        f"Fix “{name}”{journey}.",
        f"Its NPS was {fmt_number(worst['value'], 0)} in {month_label(month)} "
        f"(n = {int(worst['n'])}{small}{interval}), {fmt_number(gap, 0)} points below the "
        f"company's {fmt_number(company['value'], 0)}. What its customers say is on the CX "
        "lead page.",
    )


def action_key_driver(data: DashboardData) -> Action | None:
    """The company's most important driver in the mart's 'fix first' quadrant."""
    drivers = data.frame("driver_importance")
    if drivers is None:
        return None
    fix = drivers[
        (drivers["level"] == "company")
        & (drivers["quadrant"] == "fix first")
        & drivers["relative_weight_share"].notna()
    ]
    if fix.empty:
        return None
    fix = fix.assign(_family=(fix["element_type"] != "driver").astype(int))
    best = fix.sort_values(["_family", "relative_weight_share"], ascending=[True, False]).iloc[0]
    family = drivers[
        (drivers["level"] == "company") & (drivers["element_type"] == best["element_type"])
    ]
    what = "experience driver" if best["element_type"] == "driver" else "touchpoint"
    return Action(
        2,
        f"Improve “{str(best['element_name'])[:1].upper()}{str(best['element_name'])[1:]}”.",
        f"Among the {len(family)} {what}s it carries "
        f"{fmt_number(best['relative_weight_share'], 0)} % of what explains customers' NPS "
        f"answers, yet only {fmt_number(best['performance_top_2_box_pct'], 0)} % rate it "
        f"well (the median is {fmt_number(family['performance_top_2_box_pct'].median(), 0)} %): "
        "the “fix first” corner of the key-driver quadrant.",
    )


def action_revenue_at_risk(data: DashboardData) -> Action | None:
    rar = revenue_at_risk_summary(data)
    if rar is None or not rar["amount"]:
        return None
    reason = top_risk_reason(data)
    because = (
        f" For {fmt_number(reason[1])} of them the strongest reason is {reason[0]}."
        if reason
        else ""
    )
    return Action(
        3,
        f"Call the {fmt_number(rar['customers'])} customers in the high churn-risk band.",
        f"They hold {fmt_money(rar['amount'], data.currency)} of monthly recurring revenue "
        f"({fmt_number(rar['share'], 1)} % of all MRR).{because} The list, largest expected "
        "loss first, is below.",
    )


def action_support(data: DashboardData) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    now = kpi_value(kpi, "median_first_response_minutes", month)
    prev = kpi_value(kpi, "median_first_response_minutes", add_months(month, -1))
    if now is None or prev is None or is_missing(now["value"]) or not prev["value"]:
        return None
    change = (float(now["value"]) - float(prev["value"])) / float(prev["value"])
    if change <= 0.1:
        return None
    return Action(
        4,
        "Bring first response times back down.",
        f"The median first response rose to {fmt_number(now['value'], 0)} minutes in "
        f"{month_label(month)}, {fmt_number(change * 100, 0)} % slower than the month before.",
    )


def action_cart(data: DashboardData, labels: dict) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    rows = kpi_rows(kpi, "touchpoint", "cart_abandonment_rate", month)
    rows = rows[rows["value"].notna() & (rows["n"] >= LOW_SAMPLE) & (rows["level_id"] != "unknown")]
    company = kpi_value(kpi, "cart_abandonment_rate", month)
    if rows.empty or company is None or is_missing(company["value"]):
        return None
    worst = rows.sort_values("value", ascending=False).iloc[0]
    if float(worst["value"]) <= float(company["value"]):
        return None
    return Action(
        5,
        f"Look at carts left behind after “{label_of(labels, 'touchpoint', worst['level_id'])}”.",
        f"{fmt_number(worst['value'], 0)} % of sessions landing there that add to the cart "
        f"do not buy (n = {int(worst['n'])}), against {fmt_number(company['value'], 0)} % overall.",
    )


def action_churn(data: DashboardData) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    now = kpi_value(kpi, "churn_rate", month)
    year = kpi_value(kpi, "churn_rate", add_months(month, -12))
    if now is None or year is None or is_missing(now["value"]) or is_missing(year["value"]):
        return None
    if float(now["value"]) <= float(year["value"]):
        return None
    return Action(
        6,
        "Customer churn is higher than a year ago.",
        f"{fmt_number(now['value'], 2)} % of customers active at the start of "
        f"{month_label(month)} left, against {fmt_number(year['value'], 2)} % a year earlier.",
    )


def three_things(data: DashboardData) -> list[Action]:
    labels = framework_labels(data)
    candidates = [
        action_worst_touchpoint(data, labels),
        action_key_driver(data),
        action_revenue_at_risk(data),
        action_support(data),
        action_cart(data, labels),
        action_churn(data),
    ]
    return sorted((a for a in candidates if a is not None), key=lambda a: a.rank)[:3]


# --------------------------------------------------------------------------------------
# Insight summaries (read as they are from the insight marts).


def revenue_at_risk_summary(data: DashboardData) -> dict[str, Any] | None:
    """The high band's row of marts.revenue_at_risk (kpis.md: revenue at risk)."""
    bands = data.frame("revenue_at_risk")
    if bands is None:
        return None
    high = bands[bands["risk_band"] == "high"]
    if high.empty:
        return {"amount": 0.0, "customers": 0, "share": 0.0, "as_of": bands["as_of_date"].max()}
    row = high.iloc[0]
    return {
        "amount": _float(row["mrr"]),
        "customers": int(row["customers"]),
        "share": _float(row["share_of_mrr"]),
        "as_of": row["as_of_date"],
    }


#: The kind of a reason text of marts.customers_at_risk, by the words it uses.
REASON_KINDS = (
    ("detractor", "a detractor NPS answer"),
    ("no nps answer", "no NPS answer yet"),
    ("survey ratings", "low survey ratings"),
    ("unresolved", "unresolved tickets"),
    ("rated bad", "tickets rated bad"),
    ("slow ticket", "slow tickets"),
    ("ticket", "many recent tickets"),
    ("session", "falling use of the website and app"),
    ("new customer", "being a new customer"),
    ("mrr", "the size of the subscription"),
)


def reason_kind(reason: str) -> str:
    text = reason.lower()
    for needle, kind in REASON_KINDS:
        if needle in text:
            return kind
    return reason


def top_risk_reason(data: DashboardData) -> tuple[str, int, int] | None:
    """(kind, customers, high-risk customers): the strongest reason named most often."""
    reasons = data.frame("high_risk_reasons")
    if reasons is None:
        return None
    first = reasons["reasons"].astype(str).str.split(";").str[0].str.strip()
    first = first[first != ""]
    if first.empty:
        return None
    counts = first.map(reason_kind).value_counts()
    return str(counts.index[0]), int(counts.iloc[0]), len(reasons)


def promoter_value(data: DashboardData) -> float | None:
    """marts.nps_financial_link: 12-month revenue of moving one detractor to promoter."""
    link = data.frame("nps_financial_link")
    if link is None:
        return None
    row = link[link["nps_category"] == "promoter"]
    return None if row.empty else _float(row["value_of_moving_one_detractor_here"].iloc[0])


# --------------------------------------------------------------------------------------
# Pages.


@dataclass
class Page:
    key: str
    title: str
    question: str
    body: list[str] = field(default_factory=list)


def _section(title: str, *parts: str, note: str = "") -> str:
    note_html = f"<p class='note'>{note}</p>" if note else ""
    return f"<section class='block'><h2>{_e(title)}</h2>{note_html}{''.join(parts)}</section>"


def _card(label: str, value: str, note: str = "", klass: str = "", wide: bool = False) -> str:
    return (
        f"<div class='card{' wide' if wide else ''}'><div class='label'>{_e(label)}</div>"
        f"<div class='value {klass}'>{_e(value)}</div>"
        + (f"<div class='n'>{_e(note)}</div>" if note else "")
        + "</div>"
    )


def _cards(*cards: str) -> str:
    return f"<div class='cards'>{''.join(cards)}</div>"


def _guarded(title: str, build: Callable[[], str]) -> str:
    """A section that fails to draw says so; the rest of the dashboard still renders."""
    try:
        return build()
    except Exception as exc:
        log.exception("dashboard: section %r failed", title)
        return _section(
            title,
            f"<div class='na section-error'><strong>{_e(title)} could not be drawn:</strong> "
            f"{_e(type(exc).__name__)}: {_e(exc)}</div>",
        )


def _month_note(data: DashboardData) -> str:
    if data.reporting_month is None:
        return ""
    text = f"Reporting month: <strong>{month_label(data.reporting_month)}</strong>."
    if data.latest_month and data.latest_month != data.reporting_month and data.data_until:
        text += (
            f" {month_label(data.latest_month)} is not complete yet (data up to "
            f"{pd.Timestamp(data.data_until):%d %b %Y}), so the last complete month is shown."
        )
    return text


def executive_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "executive", "Executive", "How are we doing, what is it worth, and what do we do next?"
    )
    kpi = data.frame("kpi_monthly")
    if kpi is None or data.reporting_month is None:
        page.body.append(
            _section(
                "Top line", _not_available("Top-line KPIs", _missing_note(data, "kpi_monthly"))
            )
        )
    else:
        page.body.append(_guarded("Top line", lambda: _top_line_section(data)))
    page.body.append(_guarded("Three things to act on", lambda: _actions_section(data)))
    page.body.append(_guarded("Money", lambda: _money_section(data, figs)))
    if kpi is not None and data.reporting_month is not None:
        page.body.append(_guarded("NPS trend", lambda: _nps_trend_section(data, figs)))
    return page


def _top_line_section(data: DashboardData) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    assert kpi is not None and month is not None
    cards = []
    for card in top_line(kpi, month):
        info = METRICS[card.metric]
        extra = ""
        if card.metric == "nps" and card.ci_low is not None:
            extra = (
                f"<div class='ci'>95 % interval {fmt_number(card.ci_low, 1)} to "
                f"{fmt_number(card.ci_high, 1)}</div>"
            )
        n = (
            f"n = {card.n:,}"
            if card.n is not None and info.kind in ("score", "percent", "mean7")
            else ""
        )
        if card.metric in ("tickets_created", "median_first_response_minutes", "conversion_rate"):
            n = f"n = {card.n:,}" if card.n is not None else ""
        low = "<span class='low'>low sample</span>" if card.is_low_sample else ""
        cards.append(
            "<div class='card'>"
            f"<div class='label'>{_e(info.label)}</div>"
            f"<div class='value'>{_e(fmt_metric(card.metric, card.value, data.currency))}</div>"
            f"{extra}"
            f"<div class='delta {delta_class(card.metric, card.vs_previous)}'>"
            f"{_e(fmt_delta(card.metric, card.vs_previous, data.currency))} vs last month</div>"
            f"<div class='delta {delta_class(card.metric, card.vs_year_ago)}'>"
            f"{_e(fmt_delta(card.metric, card.vs_year_ago, data.currency))} vs a year ago</div>"
            f"<div class='n'>{n} {low}</div>"
            "</div>"
        )
    note = (
        _month_note(data) + f" Compared with {month_label(add_months(month, -1))} and "
        f"{month_label(add_months(month, -12))}. Green is better, red is worse."
    )
    return _section("Top line", f"<div class='cards'>{''.join(cards)}</div>", note=note)


def _actions_section(data: DashboardData) -> str:
    actions = three_things(data)
    if not actions:
        return _section(
            "Three things to act on",
            _not_available("Recommendations", "The marts hold too little data to rank actions."),
        )
    items = "".join(f"<li><strong>{_e(a.headline)}</strong> {_e(a.detail)}</li>" for a in actions)
    return _section(
        "Three things to act on",
        f"<ol class='actions'>{items}</ol>",
        note="Written from this month's marts: the weakest touchpoint, the weakest important "
        "driver, the revenue at risk (and, where those are missing, support, web and churn).",
    )


def _money_section(data: DashboardData, figs: Figures) -> str:
    parts = []
    cards = []
    rar = revenue_at_risk_summary(data)
    if rar is not None:
        as_of = f" on {pd.Timestamp(rar['as_of']):%d %b %Y}" if not is_missing(rar["as_of"]) else ""
        cards.append(
            _card(
                "Revenue at risk (MRR of the high-risk band)",
                fmt_money(rar["amount"], data.currency),
                f"{fmt_number(rar['customers'])} customers, {fmt_number(rar['share'], 1)} % of "
                f"MRR{as_of}",
                wide=True,
            )
        )
    value = promoter_value(data)
    if value is not None:
        cards.append(
            _card(
                "Value of a promoter",
                fmt_money(value, data.currency),
                "12-month revenue won by turning one detractor into a promoter",
                wide=True,
            )
        )
    backtest = data.frame("churn_model_backtest")
    if backtest is not None:
        bt = backtest.iloc[-1]
        cards.append(
            _card(
                "Risk score backtest (AUC)",
                fmt_number(bt["auc"], 2),
                f"scored {fmt_number(bt['n'])} customers on {pd.Timestamp(bt['as_of_date']):%b %Y}"
                f"; {fmt_number(bt['churners'])} churned within "
                f"{fmt_number(bt['test_horizon_months'])} months. 0.5 = chance, 1 = perfect",
                wide=True,
            )
        )
    if cards:
        parts.append(_cards(*cards))
    if rar is None:
        why = _missing_note(data, "revenue_at_risk", "customers_at_risk")
        parts.append(_not_available("Revenue at risk", why))
    if value is None:
        why = _missing_note(data, "nps_financial_link")
        parts.append(_not_available("Value of a promoter", why))
    bands = data.frame("revenue_at_risk")
    if bands is not None:
        fig = risk_bands_figure(bands, data.currency)
        if fig is not None:
            parts.append(figs.html(fig, 280))
    link = data.frame("nps_financial_link")
    if link is not None:
        fig = financial_link_figure(link, data.currency)
        if fig is not None:
            parts.append(figs.html(fig, 420))
    risky = data.frame("customers_at_risk")
    if risky is not None:
        parts.append(_at_risk_table(risky, data.currency))
    return _section("Money: revenue at risk and the value of a promoter", *parts)


def _at_risk_table(risky: pd.DataFrame, currency: str) -> str:
    rows = [
        [
            r.customer_id,
            r.segment,
            r.risk_band,
            fmt_number(r.churn_risk_score, 2),
            fmt_money(r.mrr_at_risk, currency),
            fmt_money(r.expected_mrr_loss, currency),
            str(r.latest_nps_category or "").replace("_", " "),
            r.reasons,
        ]
        for r in risky.itertuples(index=False)
    ]
    headers = [
        "customer",
        "segment",
        "band",
        "churn risk",
        "MRR",
        "expected MRR loss",
        "latest NPS",
        "reasons (strongest first)",
    ]
    return (
        f"<h3>Who to call first: the {len(risky)} customers with the largest expected loss</h3>"
        + _table(headers, rows)
    )


def _nps_trend_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    fig = nps_trend_figure(kpi, data.reporting_month)  # type: ignore[arg-type]
    if fig is None:
        return _section("NPS trend", _not_available("NPS trend", "No NPS answers yet."))
    return _section("NPS trend", figs.html(fig, 380))


def cx_lead_page(data: DashboardData, figs: Figures) -> Page:
    page = Page("cx-lead", "CX lead", "Where in the journey do we win or lose customers, and why?")
    page.body.append(_guarded("Roll-up", lambda: _rollup_section(data, figs)))
    page.body.append(_guarded("Key drivers", lambda: _drivers_section(data, figs)))
    page.body.append(_guarded("Verbatims", lambda: _verbatims_section(data)))
    return page


def _rollup_section(data: DashboardData, figs: Figures) -> str:
    fig = rollup_heatmap_figure(data)
    if fig is None:
        return _section(
            "Journey → job → touchpoint",
            _not_available("The roll-up", _missing_note(data, "kpi_monthly", "dim_touchpoint")),
        )
    return _section(
        "Journey → job → touchpoint",
        figs.html(fig, rollup_height(data)),
        note=_month_note(data)
        + " Each cell: the metric of marts.kpi_monthly at that level and its sample size n. "
        "Colour shows the distance from the company value (red worse, green better); cells with "
        "fewer than 30 answers are faded and marked †: read them with care.",
    )


def _drivers_section(data: DashboardData, figs: Figures) -> str:
    drivers = data.frame("driver_importance")
    if drivers is None:
        return _section(
            "Key drivers",
            _not_available("Key drivers", _missing_note(data, "driver_importance")),
        )
    fig = driver_quadrant_figure(drivers)
    if fig is None:
        return _section(
            "Key drivers",
            _not_available("Key drivers", "marts.driver_importance has no importance/performance."),
        )
    return _section(
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
        return _section(
            "What customers say at the worst touchpoints",
            _not_available("Verbatims", _missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    kpi = data.frame("kpi_monthly")
    blocks = []
    for tp in worst:
        nps = kpi_value(kpi, "nps", data.reporting_month, "touchpoint", tp)  # type: ignore[arg-type]
        head = (
            f"{_e(label_of(labels, 'touchpoint', tp))}: NPS {fmt_number(nps['value'], 0)} "
            f"(n = {int(nps['n'])}{', low sample' if nps['n'] < LOW_SAMPLE else ''})"
            if nps is not None
            else _e(label_of(labels, "touchpoint", tp))
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
                f"</span> “{_e(mask_pii(str(q.value_text)))}” "
                f"<span class='muted'>{pd.Timestamp(q.submitted_at):%d %b %Y}</span></li>"
                for q in quotes.itertuples(index=False)
            )
        blocks.append(f"<div class='verbatims'><h3>{head}</h3><ul>{items}</ul></div>")
    return _section(
        "What customers say at the worst touchpoints",
        "".join(blocks),
        note="The three touchpoints with the lowest NPS this month, ranked by the upper end of "
        "their 95 % interval so that a handful of answers does not outrank a large sample. "
        "Comments from the last three months, lowest scores first; the number is the customer's "
        "NPS answer (0-10). E-mail addresses and phone numbers are masked.",
    )


def support_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "support", "Support lead", "How fast and how well do we help, by channel and touchpoint?"
    )
    page.body.append(_guarded("Ticket volume", lambda: _ticket_volume_section(data, figs)))
    page.body.append(_guarded("By channel", lambda: _ticket_channel_section(data, figs)))
    page.body.append(_guarded("By touchpoint", lambda: _ticket_touchpoint_section(data, figs)))
    return page


def _ticket_volume_section(data: DashboardData, figs: Figures) -> str:
    by_channel = data.frame("tickets_by_channel")
    if by_channel is None or data.reporting_month is None:
        return _section(
            "Ticket volume", _not_available("Tickets", _missing_note(data, "fct_tickets"))
        )
    frame = by_channel[pd.to_datetime(by_channel["month"]) <= pd.Timestamp(data.reporting_month)]
    fig = go.Figure()
    for i, (channel, part) in enumerate(frame.groupby("channel")):
        fig.add_trace(
            go.Bar(
                x=pd.to_datetime(part["month"]),
                y=part["tickets_created"],
                name=str(channel),
                marker_color=PALETTE[i % len(PALETTE)],
            )
        )
    kpi = data.frame("kpi_monthly")
    if kpi is not None:
        sat = frame.groupby("month")[["rated_good", "rated"]].sum()
        sat = sat[sat["rated"] > 0]
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(sat.index),
                y=100 * sat["rated_good"] / sat["rated"],
                name="CSAT after tickets (% good, right axis)",
                mode="lines+markers",
                line={"color": "#0f172a", "width": 2},
                yaxis="y2",
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Tickets created per month by channel, and satisfaction after tickets",
        xaxis_title="Month",
        yaxis_title="Tickets created",
        yaxis2={
            "title": "Rated good (%)",
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "tickmode": "auto",
            "showgrid": False,
        },
    )
    return _section(
        "Ticket volume",
        figs.html(fig, 420),
        note="Tickets counted in the month they were created (marts.fct_tickets). CSAT after "
        "tickets: the share of rated tickets rated “good”, in the month they were solved.",
    )


def _ticket_channel_section(data: DashboardData, figs: Figures) -> str:
    by_channel = data.frame("tickets_by_channel")
    month = data.reporting_month
    if by_channel is None or month is None:
        return _section(
            "By channel", _not_available("Tickets by channel", _missing_note(data, "fct_tickets"))
        )
    frame = by_channel[pd.to_datetime(by_channel["month"]) == pd.Timestamp(month)].copy()
    if frame.empty:
        return _section(
            "By channel",
            _not_available("Tickets by channel", f"No tickets in {month_label(month)}."),
        )
    frame = frame.sort_values("tickets_created", ascending=False)
    frame["low"] = frame["tickets_created"] < LOW_SAMPLE
    fig = horizontal_bars_figure(
        frame,
        "channel",
        [
            ("tickets_created", "Tickets created", 0),
            ("median_first_response_minutes", "Median first response (min)", 0),
            ("avg_resolution_hours", "Avg resolution (h)", 1),
            ("satisfaction_good_share", "Rated good (%)", 0),
        ],
        f"Support by channel, {month_label(month)} (faded: fewer than 30 tickets)",
        "Ticket channel",
        low_sample_col="low",
    )
    rows = [
        [
            r.channel,
            fmt_number(r.tickets_created),
            fmt_number(r.median_first_response_minutes, 0),
            fmt_number(r.avg_resolution_hours, 1),
            f"{fmt_number(r.satisfaction_good_share, 0)} % of {int(r.rated)}" if r.rated else "–",
        ]
        for r in frame.itertuples(index=False)
    ]
    table = _table(
        [
            "channel",
            "tickets created",
            "median first response (min)",
            "avg resolution (h)",
            "rated good",
        ],
        rows,
    )
    return _section(
        "By channel",
        figs.html(fig, max(300, 140 + 38 * len(frame))),
        table,
        note=_month_note(data) + " Same definitions as kpis.md, broken down by ticket channel.",
    )


def _ticket_touchpoint_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return _section(
            "By touchpoint",
            _not_available("Tickets by touchpoint", _missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    rows = kpi_rows(
        kpi,
        "touchpoint",
        ["tickets_created", "median_first_response_minutes", "avg_resolution_hours"],
        month,
    )
    if rows.empty:
        return _section(
            "By touchpoint",
            _not_available("Tickets by touchpoint", f"No tickets in {month_label(month)}."),
        )
    wide = rows.pivot_table(index="level_id", columns="metric", values="value", aggfunc="first")
    n = rows[rows["metric"] == "tickets_created"].set_index("level_id")["n"]
    wide = wide.reindex(
        columns=["tickets_created", "median_first_response_minutes", "avg_resolution_hours"]
    )
    sat = data.frame("ticket_satisfaction_by_touchpoint")
    if sat is not None:
        wide = wide.join(sat.set_index("touchpoint_id")[["satisfaction_good_share"]], how="left")
    else:
        wide["satisfaction_good_share"] = math.nan
    wide["n"] = n.reindex(wide.index)
    wide = wide.fillna({"tickets_created": 0}).sort_values("tickets_created", ascending=False)
    wide["label"] = [_shorten(label_of(labels, "touchpoint", i), 40) for i in wide.index]
    wide["low"] = wide["tickets_created"] < LOW_SAMPLE
    frame = wide.reset_index()
    fig = horizontal_bars_figure(
        frame,
        "label",
        [
            ("tickets_created", "Tickets created", 0),
            ("median_first_response_minutes", "Median first response (min)", 0),
            ("avg_resolution_hours", "Avg resolution (h)", 1),
            ("satisfaction_good_share", "Rated good (%)", 0),
        ],
        f"Support by touchpoint, {month_label(month)} (faded: fewer than 30 tickets)",
        "Touchpoint",
        low_sample_col="low",
    )
    return _section(
        "By touchpoint",
        figs.html(fig, max(320, 140 + 30 * len(frame))),
        note="Tickets, first response and resolution time from marts.kpi_monthly at touchpoint "
        "level; rated good from marts.fct_tickets.",
    )


def product_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "product", "Product / digital", "Which landing pages convert, and where do visitors drop?"
    )
    page.body.append(_guarded("Web trend", lambda: _web_trend_section(data, figs)))
    page.body.append(_guarded("By landing touchpoint", lambda: _web_touchpoint_section(data, figs)))
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
        return _section(
            "Web trend", _not_available("Web metrics", _missing_note(data, "kpi_monthly"))
        )
    rows = kpi_rows(kpi, "company", [m for m, _t, _d in WEB_METRICS])
    rows = rows[pd.to_datetime(rows["month"]) <= pd.Timestamp(month)].sort_values("month")
    if rows.empty:
        return _section("Web trend", _not_available("Web metrics", "No web sessions yet."))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    sessions = rows[rows["metric"] == "sessions"]
    fig.add_trace(
        go.Bar(
            x=pd.to_datetime(sessions["month"]),
            y=sessions["value"],
            name="Sessions (left axis)",
            marker_color="#cbd5e1",
        ),
        secondary_y=False,
    )
    for i, (metric, title, _d) in enumerate(WEB_METRICS[1:]):
        part = rows[rows["metric"] == metric]
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(part["month"]),
                y=part["value"],
                name=f"{title} (right axis)",
                mode="lines+markers",
                line={"color": PALETTE[i], "width": 2},
            ),
            secondary_y=True,
        )
    fig.update_layout(title="Sessions, conversion, bounce and cart abandonment by month")
    fig.update_xaxes(title_text="Month")
    fig.update_yaxes(title_text="Sessions", secondary_y=False)
    fig.update_yaxes(
        title_text="Rate (%)", secondary_y=True, showgrid=False, rangemode="tozero", tickmode="auto"
    )
    return _section("Web trend", figs.html(fig, 420), note="Company level, marts.kpi_monthly.")


def _web_touchpoint_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return _section(
            "By landing touchpoint",
            _not_available("Web by touchpoint", _missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    rows = kpi_rows(kpi, "touchpoint", [m for m, _t, _d in WEB_METRICS], month)
    if rows.empty:
        return _section(
            "By landing touchpoint",
            _not_available("Web by touchpoint", f"No sessions in {month_label(month)}."),
        )
    wide = rows.pivot_table(index="level_id", columns="metric", values="value", aggfunc="first")
    wide = wide.reindex(columns=[m for m, _t, _d in WEB_METRICS])
    wide = wide.fillna({"sessions": 0}).sort_values("sessions", ascending=False)
    wide["label"] = [_shorten(label_of(labels, "touchpoint", i), 40) for i in wide.index]
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
    return _section(
        "By landing touchpoint",
        figs.html(fig, max(320, 140 + 30 * len(frame))),
        _table(
            ["landing touchpoint", "sessions", "conversion %", "bounce %", "cart abandonment %"],
            table_rows,
        ),
        note=_month_note(data) + " A session belongs to the touchpoint of its landing page "
        "(touchpoint_rules); “Unknown” collects pages no rule matches.",
    )


def initiatives_page(data: DashboardData, figs: Figures) -> Page:
    page = Page("initiatives", "Initiatives", "Did what we changed work, and did it pay?")
    page.body.append(_guarded("Initiatives", lambda: _initiatives_section(data, figs)))
    return page


def _initiatives_section(data: DashboardData, figs: Figures) -> str:
    impact = data.frame("initiative_impact")
    if impact is None:
        return _section(
            "Initiatives",
            _not_available("Initiative impact", _missing_note(data, "initiative_impact")),
        )
    impact = impact.sort_values("started_at")
    parts = []
    sentences = [
        f"<li><strong>{_e(r.initiative_name)}</strong> ({_e(r.owner_name)}): "
        f"{_e(r.you_said_we_did)}</li>"
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
        _table(
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
    return _section(
        "Initiatives",
        *parts,
        note="From marts.initiative_impact: the target metric in equal windows before and after "
        "the start, the same change on comparable untouched journeys, the difference in "
        "differences, the revenue effect through NPS and the financial link, and ROI = "
        "(revenue effect − cost) / cost. † fewer than 30 observations.",
    )


def initiatives_figure(impact: pd.DataFrame, currency: str) -> go.Figure | None:
    """Improvement beyond the control (in the metric's unit, + = better) and ROI."""
    if impact.empty:
        return None
    names = [_shorten(str(v), 44) for v in impact["initiative_name"]]
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


def quality_page(data: DashboardData, figs: Figures, quality_href: str) -> Page:
    page = Page("quality", "Data quality", "Can we trust these numbers?")
    page.body.append(_guarded("Checks", lambda: _checks_section(data, figs, quality_href)))
    page.body.append(_guarded("Freshness", lambda: _freshness_section(data)))
    return page


def _checks_section(data: DashboardData, figs: Figures, quality_href: str) -> str:
    parts = [
        f"<p>The gate's full report, file by file and row by row: "
        f"<a href='{_e(quality_href)}'>data_quality.html</a>.</p>"
    ]
    runs = data.frame("runs")
    if runs is not None:
        last = runs.iloc[0]
        failed = json.loads(last["failed_checks"]) if isinstance(last["failed_checks"], str) else []
        steps = json.loads(last["failed_steps"]) if isinstance(last["failed_steps"], str) else []
        status = str(last["status"])
        klass = "good" if status == "success" else ("bad" if status == "failed" else "flat")
        started = f"started {pd.Timestamp(last['started_at']):%Y-%m-%d %H:%M} UTC"
        if status == "running":
            status, started = "in progress", started + " (this page was written during it)"
        parts.append(
            _cards(
                _card("Last run", status, started, klass),
                _card(
                    "Blocking checks failed",
                    str(len(failed)),
                    f"steps failed: {len(steps)}",
                    "bad" if failed else "good",
                ),
            )
        )
        if failed:
            parts.append(
                _table(
                    ["entity", "check", "description"],
                    [
                        [f.get("entity"), f.get("check"), mask_pii(str(f.get("description") or ""))]
                        for f in failed
                    ],
                )
            )
    gate = data.frame("gate_results")
    if gate is None:
        parts.append(
            _not_available("Gate results", "The quality gate has not run on this warehouse.")
        )
        return _section("Checks and quarantine", *parts)
    by_rule = []
    for r in gate.itertuples(index=False):
        try:
            rules = json.loads(r.by_rule) if r.by_rule else {}
        except (TypeError, ValueError):
            rules = {}
        for rule, count in rules.items():
            by_rule.append({"entity": r.entity, "rule": rule, "rows": int(count)})
    # Waiting rows (landing-contract.md) are valid and never count toward the reject rate.
    gate = gate.copy()
    waiting = pd.DataFrame(by_rule, columns=["entity", "rule", "rows"])
    waiting = waiting[waiting["rule"].isin(WAITING_RULES)].groupby("entity")["rows"].sum()
    gate["rows_waiting"] = gate["entity"].map(waiting).fillna(0).astype(int)
    gate["rows_rejected"] = gate["rows_quarantined"] - gate["rows_waiting"]
    totals = gate[["rows_landed", "rows_accepted", "rows_rejected", "rows_waiting"]].sum()
    landed = float(totals["rows_landed"])
    share = fmt_number(100 * totals["rows_rejected"] / landed, 2) if landed else "–"
    parts.append(
        _cards(
            _card("Rows landed", fmt_number(totals["rows_landed"])),
            _card("Rows accepted", fmt_number(totals["rows_accepted"])),
            _card("Rows rejected", fmt_number(totals["rows_rejected"]), f"{share} % of landed"),
            _card(
                "Rows waiting",
                fmt_number(totals["rows_waiting"]),
                "for a response or an FX rate: released automatically",
            ),
        )
    )
    if by_rule:
        frame = pd.DataFrame(by_rule).sort_values("rows", ascending=False)
        frame["label"] = frame["entity"] + ": " + frame["rule"]
        fig = go.Figure(
            go.Bar(
                y=frame["label"],
                x=frame["rows"],
                orientation="h",
                marker_color="#f59e0b",
                text=[fmt_number(v) for v in frame["rows"]],
                textposition="auto",
            )
        )
        fig.update_yaxes(autorange="reversed", title_text="entity: rule")
        fig.update_layout(
            title="Quarantined rows by entity and rule", xaxis_title="Rows quarantined"
        )
        parts.append(figs.html(fig, max(300, 140 + 28 * len(frame))))
    else:
        parts.append("<p class='good'>No row was quarantined.</p>")
    gate["reject_rate"] = (
        100 * gate["rows_rejected"] / gate["rows_landed"].where(gate["rows_landed"] > 0)
    )
    limit = 100 * data.max_reject_rate if data.max_reject_rate is not None else None
    fig = go.Figure(
        go.Bar(
            y=gate["entity"],
            x=gate["reject_rate"],
            orientation="h",
            marker_color=[
                BAD if limit is not None and v > limit else "#f59e0b" if v > 0 else GOOD
                for v in gate["reject_rate"].fillna(0)
            ],
            text=[
                f"{fmt_number(q)} of {fmt_number(n)}"
                for q, n in zip(gate["rows_rejected"], gate["rows_landed"], strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.3f} %% rejected (%{text})<extra></extra>",
        )
    )
    if limit is not None:
        fig.add_vline(
            x=limit,
            line={"color": BAD, "dash": "dash"},
            annotation_text=f"blocking limit {fmt_number(limit, 1)} %",
            annotation_position="top",
        )
    top = max(float(gate["reject_rate"].max() or 0), limit or 0)
    fig.update_xaxes(range=[0, top * 1.25 or 1])
    fig.update_yaxes(autorange="reversed", title_text="Entity")
    fig.update_layout(
        title="Share of landed rows rejected, per entity (label: rows rejected of rows "
        "landed; waiting rows do not count)",
        xaxis_title="Rows rejected (% of landed)",
        showlegend=False,
    )
    parts.append(figs.html(fig, max(320, 140 + 26 * len(gate))))
    parts.append(
        _table(
            [
                "entity",
                "landed",
                "accepted",
                "rejected",
                "waiting",
                "reject rate",
                "checked at (UTC)",
            ],
            [
                [
                    r.entity,
                    fmt_number(r.rows_landed),
                    fmt_number(r.rows_accepted),
                    fmt_number(r.rows_rejected),
                    fmt_number(r.rows_waiting),
                    f"{fmt_number(r.reject_rate, 2)} %",
                    f"{pd.Timestamp(r.checked_at):%Y-%m-%d %H:%M}",
                ]
                for r in gate.itertuples(index=False)
            ],
        )
    )
    return _section("Checks and quarantine", *parts)


def _freshness_section(data: DashboardData) -> str:
    if not data.freshness:
        return _section(
            "Freshness of each source", _not_available("Freshness", "No files loaded yet.")
        )
    rows = []
    now = pd.Timestamp(data.generated_at).tz_localize(None)
    for entity, loaded, mtime in data.freshness:
        age = ""
        if mtime is not None:
            days = (now - pd.Timestamp(mtime)) / timedelta(days=1)
            age = f"{fmt_number(days, 1)} days"
        rows.append(
            [
                entity,
                f"{pd.Timestamp(mtime):%Y-%m-%d %H:%M}" if mtime is not None else "–",
                age or "–",
                f"{pd.Timestamp(loaded):%Y-%m-%d %H:%M}" if loaded is not None else "–",
            ]
        )
    parts = [_table(["source entity", "newest file (UTC)", "file age", "last loaded (UTC)"], rows)]
    newest = data.frame("newest_records")
    if newest is not None:
        parts.append("<h3>Newest record in the marts</h3>")
        parts.append(
            _table(
                ["mart", "newest record (UTC)"],
                [
                    [
                        f"marts.{r.mart}",
                        f"{pd.Timestamp(r.newest_record_at):%Y-%m-%d %H:%M}"
                        if not is_missing(r.newest_record_at)
                        else "–",
                    ]
                    for r in newest.itertuples(index=False)
                ],
            )
        )
    return _section("Freshness of each source", *parts)


# --------------------------------------------------------------------------------------
# The document.

CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--accent:#2563eb}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;
  margin:0;color:var(--ink);background:var(--bg)}
header{background:#0f172a;color:white;padding:1rem 1.5rem .6rem}
header h1{margin:0;font-size:1.35rem} header .sub{color:#cbd5e1;font-size:.85rem;margin-top:.2rem}
nav.tabs{display:flex;flex-wrap:wrap;gap:.25rem;margin-top:.8rem}
nav.tabs button{font:inherit;font-size:.95rem;border:0;border-radius:.4rem .4rem 0 0;
  padding:.5rem 1rem;background:#1e293b;color:#cbd5e1;cursor:pointer}
nav.tabs button[aria-selected=true]{background:var(--bg);color:var(--ink);font-weight:600}
main{padding:1rem 1.5rem 3rem;max-width:1400px;margin:0 auto}
.page{display:none} .page.active{display:block}
.page>.question{font-size:1.1rem;color:var(--muted);margin:.3rem 0 1rem}
section.block{background:white;border:1px solid var(--line);border-radius:.6rem;
  padding:1rem 1.2rem;margin:0 0 1rem}
section.block h2{font-size:1.1rem;margin:0 0 .4rem} h3{font-size:1rem;margin:1rem 0 .4rem}
.note{color:var(--muted);font-size:.85rem;margin:.2rem 0 .8rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.7rem;
  margin:.4rem 0 .8rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem;background:#fff}
.card.wide{grid-column:span 2}
.card .label{font-size:.8rem;color:var(--muted)} .card .value{font-size:1.6rem;font-weight:650}
.card .ci,.card .n{font-size:.78rem;color:var(--muted)} .delta{font-size:.82rem}
.good{color:#15803d} .bad{color:#b91c1c} .flat{color:var(--muted)}
.low{background:#fef3c7;color:#92400e;border-radius:.3rem;padding:0 .3rem;font-size:.72rem}
ol.actions{margin:.2rem 0;padding-left:1.4rem} ol.actions li{margin:.45rem 0;line-height:1.45}
.na{background:#f1f5f9;border:1px dashed #94a3b8;border-radius:.5rem;padding:.7rem 1rem;
  color:#334155;margin:.5rem 0}
.section-error,.banner-error{border-color:#b91c1c}
table.grid{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;width:100%}
table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left}
table.grid th{background:#f1f5f9;font-weight:600}
.verbatims ul{list-style:none;padding-left:0} .verbatims li{margin:.35rem 0;line-height:1.4}
.score{display:inline-block;min-width:1.8rem;text-align:center;border-radius:.3rem;
  background:#e2e8f0;color:#334155;font-weight:600;margin-right:.4rem}
.score.detractor{background:#fee2e2;color:#991b1b} .score.passive{background:#fef3c7;color:#92400e}
.score.promoter{background:#dcfce7;color:#166534}
.muted{color:var(--muted)} ul.said-did li{margin:.35rem 0}
.chart{width:100%;margin:.4rem 0}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:1rem}
"""

TAB_JS = """
(function () {
  function show(key) {
    var pages = document.querySelectorAll('.page');
    var found = false;
    pages.forEach(function (p) { if (p.id === 'page-' + key) { found = true; } });
    if (!found) { key = pages[0].id.slice(5); }
    pages.forEach(function (p) { p.classList.toggle('active', p.id === 'page-' + key); });
    document.querySelectorAll('nav.tabs button').forEach(function (b) {
      b.setAttribute('aria-selected', b.dataset.tab === key ? 'true' : 'false');
    });
    // Charts drawn while their tab was hidden have no width yet: size them now.
    if (window.Plotly) {
      document.querySelectorAll('#page-' + key + ' .js-plotly-plot').forEach(function (el) {
        window.Plotly.Plots.resize(el);
      });
    }
  }
  document.querySelectorAll('nav.tabs button').forEach(function (b) {
    b.addEventListener('click', function () {
      history.replaceState(null, '', '#' + b.dataset.tab);
      show(b.dataset.tab);
    });
  });
  window.addEventListener('hashchange', function () { show(location.hash.slice(1)); });
  show(location.hash.slice(1));
  window.cxShowTab = show;
})();
"""


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
        f"{_e(p.title)}</button>"
        for p in pages
    )
    body = "".join(
        f"<div class='page' id='page-{p.key}' role='tabpanel'>"
        f"<p class='question'>{_e(p.question)}</p>{''.join(p.body)}</div>"
        for p in pages
    )
    banner = ""
    if data.read_error:
        banner = f"<div class='na banner-error'><strong>{_e(data.read_error)}</strong></div>"
    elif data.missing_marts:
        banner = (
            "<div class='na'>Not built yet in this warehouse: "
            + ", ".join(f"marts.{_e(m)}" for m in data.missing_marts)
            + ". The sections that need them say so.</div>"
        )
    period = (
        f" · reporting month {month_label(data.reporting_month)}" if data.reporting_month else ""
    )
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<title>cx-insights dashboard</title>",
            f"<style>{CSS}</style>",
            # plotly.js, inlined once: the file works offline and by e-mail.
            f"<script type='text/javascript'>{get_plotlyjs()}</script>",
            "</head><body>",
            "<header><h1>Customer experience dashboard</h1>",
            f"<div class='sub'>Generated {data.generated_at:%Y-%m-%d %H:%M} UTC from "
            f"{_e(data.warehouse.name)}{period} · money in {_e(data.currency)}</div>",
            f"<nav class='tabs' role='tablist'>{nav}</nav></header>",
            f"<main>{banner}{body}</main>",
            "<footer>cx-insights: every number comes from the warehouse marts "
            "(marts.kpi_monthly and the insight tables).</footer>",
            f"<script>{TAB_JS}</script>",
            "</body></html>",
        ]
    )


def write_dashboard(settings: Settings) -> Path:
    """Build `dashboard.html` beside the warehouse from the marts; returns its path."""
    data = load_dashboard_data(settings)
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
