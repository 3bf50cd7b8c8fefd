"""What the dashboard reads: the marts (read-only, one short connection) and the reporting month."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cx_insights.config import LOW_SAMPLE_N, Settings
from cx_insights.report.dashboard.formatting import TOP_LINE, add_months, is_missing, is_true
from cx_insights.warehouse import table_exists

log = logging.getLogger(__name__)

#: The marts the dashboard reads: the Dagster asset depends on these and the
#: dbt exposure declares them.
CORE_MARTS = (
    "kpi_monthly",
    "kpi_monthly_by_segment",
    "kpi_tickets_by_channel",
    "kpi_ticket_satisfaction",
    "fct_verbatims",
    "dim_touchpoint",
    "dim_journey",
    "fct_survey_answers",
    "fct_survey_responses",
    "fct_tickets",
    "fct_web_sessions",
    "fct_invoices",
    "dim_month",
    "dim_customer",
    "fct_mrr_movements",
    "fct_verbatim_topics",
)
INSIGHT_MARTS = (
    "driver_importance",
    "nps_financial_link",
    "customers_at_risk",
    "revenue_at_risk",
    "churn_model_backtest",
    "initiative_impact",
    "verbatim_topic_impact",
)
MARTS_READ = CORE_MARTS + INSIGHT_MARTS

LOW_SAMPLE = LOW_SAMPLE_N
#: How many of the latest months the month picker offers (each segment x month is
#: one precomputed view of the role pages).
MONTH_CHOICES = 6
#: Frames a segment view shows over every customer (no breakdown by segment in the
#: marts they come from); the sections that read them say so.
ALL_SEGMENT_FRAMES = frozenset(
    {
        "tickets_by_channel",
        "ticket_satisfaction_by_touchpoint",
        "driver_importance",
        "nps_financial_link",
        "churn_model_backtest",
        "verbatim_topic_impact",
        "initiative_impact",
    }
)
#: Verbatims shown per worst touchpoint, and how many touchpoints.
VERBATIMS_PER_TOUCHPOINT = 6
WORST_TOUCHPOINTS = 3


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
    #: Months dim_month does not call complete (the month or a source's data not over).
    partial_months: set[date] = field(default_factory=set)
    #: True when the reporting month was asked for (`cx-insights report --month`).
    month_chosen: bool = False
    data_until: datetime | None = None
    #: When the insight tables were computed (they follow CX_INSIGHTS_EVERY).
    insights_as_of: datetime | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    freshness: list[tuple[str, Any, Any]] = field(default_factory=list)
    max_reject_rate: float | None = None
    read_error: str | None = None
    #: The segment this view is filtered to (None: every customer).
    segment: str | None = None
    #: What the filters offer: segments (kpi_monthly_by_segment) and the latest months.
    segments: list[str] = field(default_factory=list)
    month_choices: list[date] = field(default_factory=list)
    #: Every (segment, month) view of the role pages; views[0] is this one.
    views: list[DashboardData] = field(default_factory=list)

    @property
    def view_key(self) -> str:
        month = f"{self.reporting_month:%Y-%m}" if self.reporting_month else ""
        return f"{self.segment or 'all'}|{month}"

    def is_all_segments(self, name: str) -> bool:
        """Whether frame `name` is shown over every customer in this segment's view."""
        return self.segment is not None and name in ALL_SEGMENT_FRAMES

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

TICKETS_BY_CHANNEL_SQL = "select * from marts.kpi_tickets_by_channel order by 1, 2"

TICKET_SATISFACTION_SQL = """
select touchpoint_id, rated_good, rated, satisfaction_good_share
from marts.kpi_ticket_satisfaction
where month = ?
"""

#: The first verbatims of each touchpoint in a window, in fct_verbatims' order.
VERBATIMS_SQL = """
select touchpoint_id, submitted_at, value_text, nps_score from (
    select verbatims.*, row_number() over (
        partition by verbatims.touchpoint_id order by verbatims.verbatim_rank
    ) as rank_in_window
    from marts.fct_verbatims as verbatims
    left join {customers} as customers
        on verbatims.customer_id = customers.customer_id
    where
        verbatims.submitted_at >= ? and verbatims.submitted_at < ?
        and verbatims.touchpoint_id in (select unnest(?))
        and (cast(? as varchar) is null or coalesce(customers.segment, 'unknown') = ?)
) as ranked
where rank_in_window <= ?
order by touchpoint_id, rank_in_window
"""


AT_RISK_TOP = 15

#: Invoices per month of issued_at and status: revenue counts the paid ones (kpis.md);
#: the open ones beside it say why a recent month looks low. Every segment's rows
#: and every customer's (segment null) in one scan: one query per segment scanned
#: the invoices each time (about 2 s per segment at 1 M customers).
INVOICES_BY_STATUS_SQL = """
select
    case when grouping(segment) = 0 then segment end as segment,
    month,
    invoice_status,
    count(*) as invoices,
    sum(amount_reporting) as amount_reporting
from (
    select
        coalesce(customers.segment, 'unknown') as segment,
        cast(date_trunc('month', invoices.issued_at) as date) as month,
        invoices.invoice_status,
        invoices.amount_reporting
    from marts.fct_invoices as invoices
    left join {customers} as customers
        on invoices.customer_id = customers.customer_id
) as invoices
group by grouping sets ((segment, month, invoice_status), (month, invoice_status))
order by segment nulls first, month, invoice_status
"""

#: Sentiment of every verbatim (once each, whatever its topics).
VERBATIM_SENTIMENT_SQL = """
select
    sentiment_label,
    count(*) as verbatims,
    case
        when sentiment_label is not null
            then 100.0 * count(*) / sum(count(*)) filter (where sentiment_label is not null) over ()
    end as share
from (
    select distinct topics.response_id, topics.question_id, topics.sentiment_label
    from marts.fct_verbatim_topics as topics
    left join {customers} as customers
        on topics.customer_id = customers.customer_id
    where cast(? as varchar) is null or coalesce(customers.segment, 'unknown') = ?
)
group by sentiment_label
order by sentiment_label nulls last
"""

#: The MRR bridge of every month, for every segment and every customer (segment
#: null), from fct_mrr_movements (it reconciles with kpi_monthly's mrr_start and
#: mrr_end to the cent: a singular test checks it). One scan: a query per view (a
#: segment and month) scanned the movements 35 times, about 1.4 s each at 1 M customers.
MRR_BRIDGE_SQL = """
select
    month_start_date,
    case when grouping(segment) = 0 then segment end as segment,
    sum(mrr_start) as mrr_start,
    sum(new_mrr) as new_mrr,
    sum(expansion_mrr) as expansion_mrr,
    sum(contraction_mrr) as contraction_mrr,
    sum(churned_mrr) as churned_mrr,
    sum(reactivation_mrr) as reactivation_mrr,
    sum(fx_revaluation_mrr) as fx_revaluation_mrr,
    sum(mrr_end) as mrr_end
from (
    select * replace (coalesce(segment, 'unknown') as segment)
    from marts.fct_mrr_movements
) as movements
group by grouping sets ((month_start_date, segment), (month_start_date))
"""


def segment_rows(frame: pd.DataFrame, segment: str | None) -> pd.DataFrame:
    """The rows of a frame read for every segment at once (MRR_BRIDGE_SQL,
    INVOICES_BY_STATUS_SQL) that belong to `segment` (None: every customer's rows),
    without the segment column."""
    rows = frame[frame["segment"].isna()] if segment is None else frame[frame["segment"] == segment]
    return rows.drop(columns=["segment"]).reset_index(drop=True)


def month_bridge(bridges: pd.DataFrame, month: date, segment: str | None) -> pd.DataFrame:
    """The view's one-row MRR bridge (every sum null when the month has no movements,
    as an aggregate over no rows gives)."""
    rows = segment_rows(bridges, segment)
    rows = rows[pd.to_datetime(rows["month_start_date"]) == pd.Timestamp(month)]
    rows = rows.drop(columns=["month_start_date"]).reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame([[float("nan")] * len(rows.columns)], columns=rows.columns)
    return rows


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


class ReportingMonthError(ValueError):
    """`--month` names a month the marts have no KPI for."""


def complete_months(dim_month: pd.DataFrame | None) -> set[date] | None:
    """The months dim_month calls complete (None without dim_month)."""
    if dim_month is None or "is_complete" not in dim_month.columns:
        return None
    return {
        pd.Timestamp(m).date()
        for m, ok in zip(dim_month["month_start_date"], dim_month["is_complete"], strict=True)
        if is_true(ok)
    }


def reporting_month_from(
    kpi_months: Iterable[date],
    complete: set[date] | None,
    data_until: datetime | None,
    asked: date | None = None,
) -> tuple[date | None, date | None]:
    """(reporting month, latest month): the month asked for, else the last of the
    `complete` months (complete_months: it has ended and every source's data reaches
    past it, with nothing of it waiting in quarantine), else the heuristic on the
    data's end."""
    ordered = sorted({pd.Timestamp(m).date() for m in kpi_months})
    if not ordered:
        return None, None
    if asked is not None:
        if asked not in ordered:
            raise ReportingMonthError(
                f"--month {asked:%Y-%m}: the marts have months {ordered[0]:%Y-%m} to "
                f"{ordered[-1]:%Y-%m}"
            )
        return asked, ordered[-1]
    if complete is not None:
        candidates = [m for m in ordered if m in complete]
        if candidates:
            return candidates[-1], ordered[-1]
    return choose_reporting_month(ordered, data_until)


#: The run log's newest runs (the Data quality page's "Last run").
RUNS_SQL = (
    "select run_id, started_at, ended_at, status, files_loaded, failed_checks, "
    "failed_steps from raw._runs order by started_at desc limit 10"
)


def load_dashboard_data(settings: Settings, month: date | None = None) -> DashboardData:
    data = DashboardData(
        currency=settings.reporting_currency,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        warehouse=settings.warehouse,
        max_reject_rate=settings.max_reject_rate,
        month_chosen=month is not None,
    )
    if not settings.warehouse.exists():
        data.missing_marts = list(MARTS_READ)
        data.read_error = f"no warehouse at {settings.warehouse}: run `cx-insights run` first"
        return data
    try:
        _read_marts(settings, data, month)
    except ReportingMonthError:
        raise
    except Exception as exc:  # a dashboard that cannot read says so on the page
        log.exception("dashboard: reading the marts failed")
        data.read_error = f"reading the warehouse failed: {exc}"
    try:
        from cx_insights.insights.schedule import insights_as_of

        data.insights_as_of = insights_as_of(settings)
    except Exception as exc:
        log.warning("dashboard: when the insights were computed is unknown: %s", exc)
    try:
        from cx_insights.report.quality_report import collect

        data.quality = collect(settings)
    except Exception as exc:
        log.warning("dashboard: data-quality summary unavailable: %s", exc)
    return data


def _read_marts(settings: Settings, data: DashboardData, month: date | None = None) -> None:
    from cx_insights.target import marts_reader

    with marts_reader(settings, MARTS_READ) as con:
        present = {name for name in MARTS_READ if table_exists(con, "marts", name)}
        data.missing_marts = [name for name in MARTS_READ if name not in present]
        for name in ("kpi_monthly", "dim_touchpoint", "dim_journey", *INSIGHT_MARTS):
            if name in present and name != "customers_at_risk":
                data.frames[name] = _query(con, f"select * from marts.{name}")
        untils = [
            con.execute(sql).fetchone()[0]
            for name, sql in DATA_UNTIL_SQL.items()
            if name in present
        ]
        untils = [u for u in untils if u is not None]
        data.data_until = max(untils) if untils else None
        complete = None
        if "dim_month" in present:
            dim = _query(con, "select * from marts.dim_month order by month_start_date")
            data.frames["dim_month"] = dim
            complete = complete_months(dim)
            spine = {pd.Timestamp(m).date() for m in dim["month_start_date"]}
            data.partial_months = spine - (complete or set())
        kpi = data.frame("kpi_monthly")
        if kpi is not None:
            months = kpi.loc[kpi["level"] == "company", "month"]
            data.reporting_month, data.latest_month = reporting_month_from(
                months, complete, data.data_until, month
            )
            data.month_choices = month_choices(months, data.reporting_month)
        if "kpi_tickets_by_channel" in present:
            data.frames["tickets_by_channel"] = _query(con, TICKETS_BY_CHANNEL_SQL)
        by_segment = None
        if "kpi_monthly_by_segment" in present and kpi is not None:
            by_segment = _query(con, "select * from marts.kpi_monthly_by_segment")
            data.segments = sorted(by_segment["segment"].dropna().unique().tolist())
        _read_views(con, present, data, by_segment)
        try:
            from cx_insights.report.status import freshness

            data.freshness = freshness(con)
        except Exception as exc:
            log.warning("dashboard: freshness unavailable: %s", exc)
        if table_exists(con, "raw", "_runs"):
            data.frames["runs"] = _query(con, RUNS_SQL)
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


def month_choices(kpi_months: Iterable[date], reporting: date | None) -> list[date]:
    """The months the picker offers: the latest MONTH_CHOICES with KPIs, newest first,
    and the reporting month whatever its age (`--month` may ask for an older one)."""
    ordered = sorted({pd.Timestamp(m).date() for m in kpi_months}, reverse=True)
    chosen = ordered[:MONTH_CHOICES]
    if reporting is not None and reporting not in chosen:
        chosen.append(reporting)
    return chosen


def segment_kpis(kpi: pd.DataFrame, by_segment: pd.DataFrame, segment: str) -> pd.DataFrame:
    """kpi_monthly as the segment's view reads it: the company, journey, job and touchpoint
    rows counted within the segment (kpi_monthly_by_segment), and the segment level as is."""
    within = by_segment[by_segment["segment"] == segment].drop(columns=["segment"])
    return pd.concat([within[kpi.columns], kpi[kpi["level"] == "segment"]], ignore_index=True)


#: The segment of each customer, for the segment views' joins (nobody has one without
#: dim_customer: a segment's view then shows no invoice, verbatim or sentiment).
NO_CUSTOMERS = "(select cast(null as varchar) as customer_id, cast(null as varchar) as segment)"


def _with_customers(sql: str, present: set[str]) -> str:
    return sql.format(customers="marts.dim_customer" if "dim_customer" in present else NO_CUSTOMERS)


def _read_views(
    con: Any, present: set[str], data: DashboardData, by_segment: pd.DataFrame | None
) -> None:
    """Fill `data` (every customer, its reporting month) and make every (segment, month)
    view of the role pages: data.views, data first."""
    per_segment: dict[str | None, dict[str, pd.DataFrame]] = {}
    invoices = None
    if "fct_invoices" in present:
        invoices = _query(con, _with_customers(INVOICES_BY_STATUS_SQL, present))
    for segment in [None, *data.segments]:
        frames: dict[str, pd.DataFrame] = {}
        if segment is not None and by_segment is not None:
            frames["kpi_monthly"] = segment_kpis(data.frames["kpi_monthly"], by_segment, segment)
        if segment is not None and data.has("revenue_at_risk"):
            rar = data.frames["revenue_at_risk"]
            frames["revenue_at_risk"] = rar[rar["segment"] == segment].assign(segment="all")
        if "customers_at_risk" in present:
            frames.update(_read_customers_at_risk(con, segment))
        if "fct_verbatim_topics" in present:
            frames["verbatim_sentiment"] = _query(
                con, _with_customers(VERBATIM_SENTIMENT_SQL, present), [segment, segment]
            )
        if invoices is not None:
            frames["invoices_by_status"] = segment_rows(invoices, segment)
        per_segment[segment] = frames
    data.frames.update(per_segment[None])
    bridges = _query(con, MRR_BRIDGE_SQL) if "fct_mrr_movements" in present else None
    _read_month(con, present, data, bridges)
    data.views = [data]
    for segment in [None, *data.segments]:
        for month in data.month_choices:
            if segment is None and month == data.reporting_month:
                continue
            view = replace(
                data,
                frames={**data.frames, **per_segment[segment]},
                segment=segment,
                reporting_month=month,
                month_chosen=data.month_chosen or month != data.reporting_month,
                views=[],
            )
            _read_month(con, present, view, bridges)
            data.views.append(view)


#: The frames _read_month reads for a view's month.
MONTH_FRAMES = ("mrr_bridge", "ticket_satisfaction_by_touchpoint", "verbatims")


def _read_month(
    con: Any, present: set[str], view: DashboardData, bridges: pd.DataFrame | None
) -> None:
    """The frames of a view that depend on its month (and segment); `bridges`:
    MRR_BRIDGE_SQL's rows (None without fct_mrr_movements)."""
    month, segment = view.reporting_month, view.segment
    for name in MONTH_FRAMES:
        view.frames.pop(name, None)
    if month is None:
        return
    if bridges is not None:
        view.frames["mrr_bridge"] = month_bridge(bridges, month, segment)
    if "kpi_ticket_satisfaction" in present:
        view.frames["ticket_satisfaction_by_touchpoint"] = _query(
            con, TICKET_SATISFACTION_SQL, [month]
        )
    worst = worst_touchpoints(view)
    if worst and "fct_verbatims" in present:
        view.frames["verbatims"] = _query(
            con,
            _with_customers(VERBATIMS_SQL, present),
            [
                add_months(month, -2),
                add_months(month, 1),
                list(worst),
                segment,
                segment,
                VERBATIMS_PER_TOUCHPOINT,
            ],
        )


AT_RISK_SQL = """
-- Who to call first: the high band, largest expected MRR loss first.
select customer_id, segment, churn_risk_score, risk_band, mrr_at_risk, expected_mrr_loss,
    latest_nps_category, reasons
from marts.customers_at_risk
where cast(? as varchar) is null or coalesce(segment, 'unknown') = ?
order by case when risk_band = 'high' then 0 else 1 end, expected_mrr_loss desc nulls last,
    churn_risk_score desc, customer_id
limit ?
"""

#: The high band's customers by their strongest reason (the first of reason_codes,
#: empty when it has none), counted here: the page needs the counts, not 100 k rows.
HIGH_RISK_REASONS_SQL = """
select
    regexp_replace(split_part(reason_codes, ';', 1), '^\\s+|\\s+$', '', 'g') as first_reason_code,
    count(*) as customers
from marts.customers_at_risk
where
    risk_band = 'high' and reason_codes is not null
    and (cast(? as varchar) is null or coalesce(segment, 'unknown') = ?)
group by first_reason_code
order by first_reason_code
"""


def _read_customers_at_risk(con: Any, segment: str | None) -> dict[str, pd.DataFrame]:
    """The top of the list, and the high band's customers by their strongest reason."""
    return {
        "customers_at_risk": _query(con, AT_RISK_SQL, [segment, segment, AT_RISK_TOP]),
        "high_risk_reasons": _query(con, HIGH_RISK_REASONS_SQL, [segment, segment]),
    }


# --------------------------------------------------------------------------------------
# Reading kpi_monthly (pure functions over the frame).


#: (id of a frame) -> (a weak reference to it, {what: value derived from it}). The pages
#: look the same rows up thousands of times per dashboard (every view, every card).
_DERIVED: dict[int, tuple[weakref.ref, dict[Hashable, Any]]] = {}


def derived(frame: pd.DataFrame, what: Hashable, build: Callable[[], Any]) -> Any:
    """`build()`, computed once per frame (it must not be changed in place afterwards)
    and forgotten with it."""
    key = id(frame)
    cached = _DERIVED.get(key)
    if cached is None or cached[0]() is not frame:
        cached = (weakref.ref(frame, lambda _: _DERIVED.pop(key, None)), {})
        _DERIVED[key] = cached
    values = cached[1]
    if what not in values:
        values[what] = build()
    return values[what]


def _kpi_groups(kpi: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """kpi_monthly's rows by (level, metric)."""
    return derived(
        kpi,
        "groups",
        lambda: {key: rows for key, rows in kpi.groupby(["level", "metric"], sort=False)},
    )


def _kpi_months(kpi: pd.DataFrame, level: str, metric: str) -> dict[pd.Timestamp, pd.DataFrame]:
    """The rows of (level, metric) by month."""

    def build() -> dict[pd.Timestamp, pd.DataFrame]:
        rows = _kpi_groups(kpi).get((level, metric))
        if rows is None:
            return {}
        return dict(iter(rows.groupby(pd.to_datetime(rows["month"]), sort=False)))

    return derived(kpi, ("months", level, metric), build)


def _kpi_positions(kpi: pd.DataFrame, level: str, metric: str) -> dict[tuple, int]:
    """(month, level_id) -> the position of its first row in the (level, metric) group."""

    def build() -> dict[tuple, int]:
        rows = _kpi_groups(kpi).get((level, metric))
        if rows is None:
            return {}
        keys = zip(pd.to_datetime(rows["month"]), rows["level_id"], strict=True)
        positions: dict[tuple, int] = {}
        for i, key in enumerate(keys):
            positions.setdefault(key, i)
        return positions

    return derived(kpi, ("positions", level, metric), build)


def kpi_rows(
    kpi: pd.DataFrame, level: str, metric: str | Iterable[str], month: date | None = None
) -> pd.DataFrame:
    if isinstance(metric, str) and month is not None:
        rows = _kpi_months(kpi, level, metric).get(pd.Timestamp(month))
        return kpi.iloc[0:0] if rows is None else rows
    metrics = [metric] if isinstance(metric, str) else list(metric)
    groups = _kpi_groups(kpi)
    parts = [groups[(level, m)] for m in metrics if (level, m) in groups]
    if not parts:
        return kpi.iloc[0:0]
    rows = parts[0] if len(parts) == 1 else pd.concat(parts).sort_index()
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
    position = _kpi_positions(kpi, level, metric).get((pd.Timestamp(month), level_id))
    return None if position is None else _kpi_groups(kpi)[(level, metric)].iloc[position]


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


def as_float(value: object) -> float | None:
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
                value=as_float(now["value"]) if now is not None else None,
                previous=as_float(prev["value"]) if prev is not None else None,
                year_ago=as_float(year["value"]) if year is not None else None,
                n=int(now["n"]) if now is not None and not is_missing(now["n"]) else None,
                ci_low=as_float(now["ci_low"]) if now is not None else None,
                ci_high=as_float(now["ci_high"]) if now is not None else None,
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


#: driver_importance's windows, as the pages name them.
DRIVER_WINDOWS = {
    "all": "every answer so far",
    "last_12_months": "the last 12 complete months",
    "last_3_months": "the last 3 complete months",
}


def driver_window(
    drivers: pd.DataFrame, preferred: tuple[str, ...] = ("last_12_months", "all")
) -> tuple[pd.DataFrame, str]:
    """The rows of the first preferred window driver_importance has, and its words (a mart
    without windows is one window: every answer)."""
    if "window_name" not in drivers.columns:
        return drivers, DRIVER_WINDOWS["all"]
    for window in preferred:
        rows = drivers[drivers["window_name"] == window]
        if not rows.empty:
            return rows, DRIVER_WINDOWS[window]
    return drivers.iloc[0:0], DRIVER_WINDOWS["all"]
