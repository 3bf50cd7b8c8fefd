"""Alerts: a failed run, a journey's NPS or CSAT dropping significantly month on month,
a detractor among the customers who pay the most.

Each alert is written once to `<warehouse dir>/outbox/<key>.json` (its key dedupes it:
an alert already in the outbox is never sent again) and, when `CX_ALERT_WEBHOOK` is
set, POSTed there as JSON.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cx_insights.insights.stats import Z95


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str  # run_failed | kpi_drop | top_customer_detractor
    title: str
    detail: dict = field(default_factory=dict)
    owner: str | None = None


def outbox_dir(warehouse: Path) -> Path:
    return warehouse.parent / "outbox"


def _file_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".json"


def deliver(
    alerts: list[Alert], outbox: Path, webhook: str | None = None, timeout: float = 10.0
) -> list[Alert]:
    """Write (and POST) each alert not in the outbox yet; returns the new ones."""
    outbox.mkdir(parents=True, exist_ok=True)
    new = []
    for alert in alerts:
        path = outbox / _file_name(alert.key)
        if path.exists():
            continue
        body = {**asdict(alert), "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if webhook:
            body["delivered"] = _post(webhook, body, timeout)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(path)
        new.append(alert)
    return new


def _post(url: str, body: dict, timeout: float) -> bool | str:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except Exception as exc:  # the outbox keeps the alert; a failed POST is recorded
        return f"not delivered: {exc}"


def run_failed_alert(run_id: str, messages: list[str]) -> Alert:
    return Alert(
        key=f"run_failed:{run_id}",
        kind="run_failed",
        title=f"cx-insights run {run_id[:8]} did not complete",
        detail={"run_id": run_id, "messages": messages[:20]},
    )


def difference_interval(
    metric: str, last: tuple[float, float, float | None, float | None], before: tuple
) -> tuple[float, float, float]:
    """(difference, low, high) of last - before, 95 %. Each month is (value, n, ci_low,
    ci_high): NPS's standard error from its interval, CSAT's from the share p (top-2-box)."""

    def se(value: float, n: float, low: float | None, high: float | None) -> float:
        if metric == "nps" and low is not None and high is not None:
            return (high - low) / (2 * Z95)
        p = min(max(value / 100.0, 0.0), 1.0)
        return 100.0 * math.sqrt(p * (1 - p) / n) if n else math.inf

    diff = last[0] - before[0]
    spread = Z95 * math.hypot(se(*last), se(*before))
    return diff, diff - spread, diff + spread


def kpi_alerts(con: duckdb.DuckDBPyConnection) -> list[Alert]:
    """NPS or CSAT drops per journey between the last two complete months (the
    difference's 95 % interval below 0), and detractors among the top-decile MRR
    customers in the last complete month."""
    months = [
        row[0]
        for row in con.execute(
            "select month_start_date from marts.dim_month where is_complete "
            "order by month_start_date desc limit 2"
        ).fetchall()
    ]
    if len(months) < 2:
        return []
    last, before = months
    owners = _journey_owners(con)
    alerts = []
    rows = con.execute(
        """
        select level_id, metric, month, cast(value as double), cast(n as double),
            cast(ci_low as double), cast(ci_high as double)
        from marts.kpi_monthly
        where level = 'journey' and metric in ('nps', 'csat') and month in (?, ?)
            and value is not null and n > 0
        """,
        [last, before],
    ).fetchall()
    by = {(j, m, month): (v, n, lo, hi) for j, m, month, v, n, lo, hi in rows}
    for journey, metric in sorted({(j, m) for j, m, *_ in rows}):
        now, prev = by.get((journey, metric, last)), by.get((journey, metric, before))
        if now is None or prev is None:
            continue
        diff, low, high = difference_interval(metric, now, prev)
        if high < 0:
            alerts.append(
                Alert(
                    key=f"kpi_drop:{metric}:{journey}:{last:%Y-%m}",
                    kind="kpi_drop",
                    title=(
                        f"{metric.upper()} of journey {journey} fell {-diff:.1f} points "
                        f"from {before:%Y-%m} to {last:%Y-%m}"
                    ),
                    detail={
                        "journey_id": journey,
                        "metric": metric,
                        "month": str(last),
                        "previous_month": str(before),
                        "value": now[0],
                        "previous_value": prev[0],
                        "n": now[1],
                        "previous_n": prev[1],
                        "difference": diff,
                        "ci_low": low,
                        "ci_high": high,
                    },
                    owner=owners.get(journey),
                )
            )
    alerts += _top_customer_detractors(con, last, owners)
    return alerts


def _journey_owners(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """journey -> the owners of the initiatives on it (the framework names no journey owner)."""
    try:
        rows = con.execute(
            """
            select coalesce(journey_id, scope_journey_id) as journey_id,
                string_agg(distinct owner_name, ', ' order by owner_name)
            from marts.initiative_impact
            where owner_name is not null and coalesce(journey_id, scope_journey_id) is not null
            group by 1
            """
        ).fetchall()
    except duckdb.Error:
        return {}
    return dict(rows)


def _top_customer_detractors(
    con: duckdb.DuckDBPyConnection, month, owners: dict[str, str]
) -> list[Alert]:
    rows = con.execute(
        """
        with mrr as (
            select customer_id, mrr_end from marts.fct_customer_months
            where month_start_date = ? and mrr_end > 0
        ),
        cutoff as (
            select quantile_cont(cast(mrr_end as double), 0.9) as p90 from mrr
        )
        select a.response_id, a.customer_id, a.submitted_at, a.value_number, a.touchpoint_id,
            t.journey_id, cast(m.mrr_end as double) as mrr, c.p90
        from marts.fct_survey_answers as a
        inner join mrr as m on m.customer_id = a.customer_id
        cross join cutoff as c
        left join marts.dim_touchpoint as t on t.touchpoint_id = a.touchpoint_id
        where a.metric = 'nps' and a.nps_category = 'detractor'
            and a.submitted_date >= ? and a.submitted_date < ? + interval 1 month
            and cast(m.mrr_end as double) >= c.p90
        order by a.submitted_at, a.response_id
        """,
        [month, month, month],
    ).fetchall()
    return [
        Alert(
            key=f"top_customer_detractor:{response}",
            kind="top_customer_detractor",
            title=(
                f"customer {customer} (MRR {mrr:,.0f}, top 10 %) answered NPS {float(score):.0f} "
                f"on {submitted:%Y-%m-%d}"
            ),
            detail={
                "response_id": response,
                "customer_id": customer,
                "submitted_at": str(submitted),
                "nps_score": float(score),
                "touchpoint_id": touchpoint,
                "journey_id": journey,
                "mrr": mrr,
                "top_decile_mrr_from": p90,
            },
            owner=owners.get(journey) if journey else None,
        )
        for response, customer, submitted, score, touchpoint, journey, mrr, p90 in rows
    ]
