"""When the insight models recompute, and the reason a run gives for it.

The statistical insights (driver importance, churn risk and its backtest, the
NPS-to-money link, initiative impact) re-read years of history: at a million
customers they take a third of a daily drop's run, to move by a day's worth of
data. A full `cx-insights run` therefore recomputes them only when

* their inputs changed since their last computation: a landing file added,
  changed or removed, a connector pulled, the project's code, seeds or
  expectations changed, or a setting changed (`inputs_digest`); and
* they are due: `CX_INSIGHTS_EVERY` is `run` (the default: every run whose inputs
  changed) or a period (`12h`, `1d`, `2w`) since their last computation has passed;
  a change of the code, seeds or settings makes them due at once (a new or changed
  model is never left unbuilt).

`cx-insights run --refresh-insights` recomputes them whatever the schedule says. A
run that skips them leaves their marts as the computing run wrote them; the run
prints why, the run log (`raw._runs.insights`) keeps it, and the published file's
`marts._build` names, per table, the run that computed its rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cx_insights.config import DBT_PROJECT_DIR, Settings
from cx_insights.report.status import run_log_rows

#: Where a skipped run hands the published file the origin of the insight marts.
SKIPPED_ENV = "CX_INSIGHTS_SKIPPED"

_PROJECT_DIR = DBT_PROJECT_DIR.parent
_CODE = ("cx_insights/**/*.py", "expectations/**/*", "seeds/**/*")
_DBT = ("dbt_project.yml", "models/**/*", "macros/**/*", "seeds/**/*", "tests/**/*")
#: Code that only reads what a run wrote (the pages, the published copy, exports and
#: their comparison, alerts and housekeeping) or writes test data: it changes no row,
#: so a change to it (a dashboard's chart, say) does not recompute the insights.
_CODE_NOT_INPUTS = (
    "cx_insights/report/**/*.py",
    "cx_insights/serve.py",
    "cx_insights/export.py",
    "cx_insights/compare.py",
    "cx_insights/ops/**/*.py",
    "cx_insights/generate/**/*.py",
)

#: Settings that change no row of the insights: where files are (the landing files
#: count by content and time), alerting, memory, and the schedule itself.
_NOT_INPUTS = (
    "landing_dir",
    "warehouse",
    "freshness_hours",
    "data_freshness_hours",
    "duckdb_memory_limit",
    "alert_webhook",
    "insights_every",
)


@dataclass(frozen=True)
class Computation:
    run_id: str
    started_at: datetime
    inputs: str


@dataclass(frozen=True)
class InsightsPlan:
    compute: bool
    reason: str
    inputs: str
    last: Computation | None = None

    def line(self) -> str:
        return f"{'computed' if self.compute else 'skipped'}: {self.reason}"


def inputs_digest(settings: Settings, *, pulled: bool = False) -> str:
    """`<data>:<code>`: a hash of the landing files (path, size, modification time; a
    connector pull counts as a change, its source is not a file here), and one of the
    code, seeds, expectations, dbt project and the settings that change rows."""
    data = hashlib.sha256()
    for path in sorted(p for p in settings.landing_dir.rglob("*") if p.is_file()):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed since the listing: not an input of this run
            continue
        rel = path.relative_to(settings.landing_dir)
        data.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    if pulled:
        data.update(os.urandom(16))
    code = hashlib.sha256()
    for path in code_inputs():
        code.update(str(path.relative_to(_PROJECT_DIR)).encode() + b"\0")
        code.update(path.read_bytes() + b"\n")
    values = dataclasses.asdict(settings)
    for where_or_alerts_only in _NOT_INPUTS:
        values.pop(where_or_alerts_only)
    code.update(json.dumps(values, sort_keys=True, default=str).encode())
    return f"{data.hexdigest()}:{code.hexdigest()}"


def code_inputs() -> list[Path]:
    """The project's files whose change can change an insight's rows, sorted."""
    files = {p for pattern in _CODE for p in _PROJECT_DIR.glob(pattern)}
    files -= {p for pattern in _CODE_NOT_INPUTS for p in _PROJECT_DIR.glob(pattern)}
    files |= {p for pattern in _DBT for p in DBT_PROJECT_DIR.glob(pattern)}
    return sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts)


def last_computation(settings: Settings) -> Computation | None:
    """The latest successful full run that computed the insights."""
    rows = run_log_rows(
        settings,
        "insights_inputs",
        "select run_id, started_at, insights_inputs from raw._runs "
        "where status = 'success' and insights_inputs is not null "
        "order by started_at desc limit 1",
    )
    return Computation(*rows[0]) if rows else None


def insights_as_of(settings: Settings) -> datetime | None:
    """When the insight tables in the warehouse were computed: the start of the latest
    full run that computed them (the run in progress when it does), None if unknown."""
    rows = run_log_rows(
        settings,
        "insights_inputs",
        "select max(started_at) from raw._runs where insights_inputs is not null "
        "and status in ('success', 'running')",
    )
    return rows[0][0] if rows else None


def plan_insights(
    settings: Settings,
    inputs: str,
    now: datetime,
    *,
    force: bool = False,
    last: Computation | None = None,
) -> InsightsPlan:
    """Compute or skip, and why (`now`: UTC, naive, like the run log)."""
    if force:
        return InsightsPlan(True, "requested (--refresh-insights)", inputs, last)
    if last is None:
        return InsightsPlan(True, "no earlier computation in this warehouse", inputs)
    since = f"computed {last.started_at:%Y-%m-%d %H:%M} UTC (run {last.run_id[:8]})"
    if last.inputs == inputs:
        return InsightsPlan(False, f"inputs unchanged since they were {since}", inputs, last)
    if last.inputs.partition(":")[2] != inputs.partition(":")[2]:
        # New or changed models must be built now, whatever the schedule says.
        return InsightsPlan(True, "the project's code, seeds or settings changed", inputs, last)
    every = settings.insights_every
    if every is None:
        return InsightsPlan(True, "inputs changed (CX_INSIGHTS_EVERY=run)", inputs, last)
    due = last.started_at + every
    if now >= due:
        return InsightsPlan(
            True, f"inputs changed and due (every {_period(every)}; last {since})", inputs, last
        )
    return InsightsPlan(
        False,
        f"inputs changed, next computation due {due:%Y-%m-%d %H:%M} UTC "
        f"(CX_INSIGHTS_EVERY={_period(every)}; last {since})",
        inputs,
        last,
    )


def _period(every: timedelta) -> str:
    hours = int(every.total_seconds() // 3600)
    if hours % (24 * 7) == 0:
        return f"{hours // (24 * 7)}w"
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def export_skipped(plan: InsightsPlan, tables: list[str]) -> None:
    """Tell the publisher (a Dagster asset of this run) which marts a skipping run left
    as an earlier run computed them."""
    if plan.compute or plan.last is None:
        os.environ.pop(SKIPPED_ENV, None)
        return
    os.environ[SKIPPED_ENV] = json.dumps(
        {
            "run_id": plan.last.run_id,
            "computed_at": plan.last.started_at.isoformat(sep=" "),
            "tables": sorted(tables),
        }
    )


def skipped_origin() -> tuple[str, datetime, set[str]] | None:
    """(run id, computed at, mart tables) of the marts this run did not recompute."""
    raw = os.environ.get(SKIPPED_ENV)
    if not raw:
        return None
    value = json.loads(raw)
    return value["run_id"], datetime.fromisoformat(value["computed_at"]), set(value["tables"])
