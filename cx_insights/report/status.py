"""`cx-insights status`: the last runs and the freshness of each source."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cx_insights.config import Settings, dagster_home
from cx_insights.connectors.runner import status_lines as connector_status_lines
from cx_insights.contract import ENTITIES
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.warehouse import WarehouseLockedError, connect, table_columns, table_exists

if TYPE_CHECKING:
    from cx_insights.insights.schedule import InsightsPlan

RUNS_DDL = """
create table if not exists raw._runs (
    run_id varchar primary key,
    started_at timestamp not null,
    ended_at timestamp,
    status varchar not null,          -- running | success | failed
    landing_dir varchar,
    files_loaded bigint,
    rows_by_entity varchar,           -- json: entity -> landed / accepted / quarantined
    failed_checks varchar,            -- json list
    failed_steps varchar,             -- json list
    assets_materialized varchar,      -- json list of asset keys (dbt models included)
    tests_digest varchar,             -- dbt_tests_digest() of the run's dbt project
    insights varchar,                 -- computed or skipped, and why (insights/schedule.py)
    insights_inputs varchar           -- inputs_digest() when the run computes the insights
)
"""


def dbt_tests_digest() -> str:
    """A hash of what decides which tests a build runs on the rows new since an earlier
    build: the models' yml files (sources, staging, intermediate, and the marts, whose
    key tests read written keys too), dbt_project.yml, the test
    macros and the generic tests. A build tests only the rows gated (staging) or
    written (incremental models) since an earlier build with the same digest
    (last_tested_at); a test added or changed since then checks every row once."""
    import hashlib

    from cx_insights.config import DBT_PROJECT_DIR

    files = sorted(
        [
            *DBT_PROJECT_DIR.glob("models/**/*.yml"),
            *DBT_PROJECT_DIR.glob("macros/tests/*.sql"),
            *DBT_PROJECT_DIR.glob("tests/generic/*.sql"),
            DBT_PROJECT_DIR / "dbt_project.yml",
        ]
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_log_rows(
    settings: Settings, column: str, sql: str, params: list | None = None
) -> list[tuple]:
    """The rows of a query on the run log `raw._runs`; none while the warehouse, the log
    or its `column` (added by a later version of the project) does not exist yet."""
    if not settings.warehouse.exists():
        return []
    with connect(settings.warehouse, read_only=True) as con:
        if column not in table_columns(con, "raw", "_runs"):
            return []
        return con.execute(sql, params or []).fetchall()


def last_tested_at(settings: Settings, assets: set[str], digest: str) -> datetime | None:
    """When the latest successful run that built every model of `assets` (so ran all
    their tests) with the same tests (`digest`) ended: every row gated before then
    passed the staging tests (a run gates before its dbt step, and nothing gates after
    it), every row an incremental model wrote before then passed its key test. None
    when there is no such run: test every row."""
    runs = run_log_rows(
        settings,
        "tests_digest",
        "select ended_at, assets_materialized from raw._runs where status = 'success' "
        "and tests_digest = ? and ended_at is not null order by ended_at desc",
        [digest],
    )
    for ended_at, materialized in runs:
        if assets <= set(json.loads(materialized or "[]")):
            return ended_at
    return None


def record_run_start(
    settings: Settings,
    run_id: str,
    started_at: datetime,
    tests_digest: str | None = None,
    insights: InsightsPlan | None = None,
) -> None:
    with connect(settings.warehouse) as con:
        con.execute(RUNS_DDL)
        # Warehouses created before these columns existed get them now.
        con.execute("alter table raw._runs add column if not exists assets_materialized varchar")
        for column in ("tests_digest", "insights", "insights_inputs"):
            con.execute(f"alter table raw._runs add column if not exists {column} varchar")
        # The caller holds the run lock: a run still marked running was killed.
        con.execute("update raw._runs set status = 'interrupted' where status = 'running'")
        con.execute(
            "insert or replace into raw._runs (run_id, started_at, status, landing_dir, "
            "tests_digest, insights, insights_inputs) values (?, ?, 'running', ?, ?, ?, ?)",
            [
                run_id,
                started_at,
                str(settings.landing_dir),
                tests_digest,
                insights.line() if insights else None,
                insights.inputs if insights and insights.compute else None,
            ],
        )


def record_run_end(
    settings: Settings,
    run_id: str,
    *,
    success: bool,
    failed_checks: list[dict[str, str]],
    failed_steps: list[dict[str, str]],
    materialized: list[str] | None = None,
) -> None:
    with connect(settings.warehouse) as con:
        con.execute(RUNS_DDL)
        # Warehouses created before this column existed get it on the next run.
        con.execute("alter table raw._runs add column if not exists assets_materialized varchar")
        rows: dict[str, dict[str, int]] = {}
        if table_exists(con, "raw", "_gate_results"):
            for entity, landed, accepted, quarantined in con.execute(
                """
                select entity, rows_landed, rows_accepted, rows_quarantined from (
                    select *, row_number() over (partition by entity order by checked_at desc)
                        as recency
                    from raw._gate_results
                ) as latest where recency = 1
                """
            ).fetchall():
                rows[entity] = {
                    "landed": landed,
                    "accepted": accepted,
                    "quarantined": quarantined,
                }
        started = con.execute(
            "select started_at from raw._runs where run_id = ?", [run_id]
        ).fetchone()
        files = 0
        if started and table_exists(con, "raw", "_files"):
            files = con.execute(
                "select count(*) from raw._files where loaded_at >= ? and status = 'loaded'",
                [started[0]],
            ).fetchone()[0]
        con.execute(
            """
            update raw._runs set ended_at = ?, status = ?, files_loaded = ?, rows_by_entity = ?,
                failed_checks = ?, failed_steps = ?, assets_materialized = ?
            where run_id = ?
            """,
            [
                datetime.now(UTC).replace(tzinfo=None),
                "success" if success else "failed",
                files,
                json.dumps(rows, sort_keys=True),
                json.dumps(failed_checks),
                json.dumps(failed_steps),
                json.dumps(sorted(materialized or [])),
                run_id,
            ],
        )


def freshness(con: duckdb.DuckDBPyConnection) -> list[tuple[str, object, object]]:
    """(entity, last file loaded at, newest landed file's modification time)."""
    return [(e.qualified, *newest_loaded_file(con, e.qualified)) for e in ENTITIES]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def disk_usage(settings: Settings) -> list[tuple[str, Path, int]]:
    """(label, path, bytes) of what a warehouse keeps on disk."""
    return [
        ("warehouse", settings.warehouse, _size(settings.warehouse)),
        ("published", settings.published, _size(settings.published)),
        ("dagster_home", dagster_home(settings), _size(dagster_home(settings))),
        (
            "dbt_target",
            settings.output_dir / "dbt_target",
            _size(settings.output_dir / "dbt_target"),
        ),
    ]


def dagster_runs(settings: Settings, limit: int) -> list[dict[str, object]] | None:
    """The last runs on the warehouse's Dagster instance (None when it has none yet)."""
    home = dagster_home(settings)
    if not home.is_dir() or not any(home.iterdir()):
        return None
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = []
        for record in instance.get_run_records(limit=limit):
            run = record.dagster_run
            started = record.start_time or record.create_timestamp.timestamp()
            runs.append(
                {
                    "run_id": run.run_id,
                    "status": run.status.value.lower(),
                    "started": datetime.fromtimestamp(started, UTC).replace(tzinfo=None),
                    "ended": (
                        datetime.fromtimestamp(record.end_time, UTC).replace(tzinfo=None)
                        if record.end_time
                        else None
                    ),
                    "trigger": run.tags.get("cx/trigger")
                    or run.tags.get("dagster/schedule_name")
                    or run.tags.get("dagster/sensor_name")
                    or "ui",
                }
            )
        return runs


def _print_runs(settings: Settings, con: duckdb.DuckDBPyConnection, limit: int) -> None:
    logged: dict[str, tuple] = {}
    if table_exists(con, "raw", "_runs"):
        for row in con.execute(
            "select run_id, started_at, ended_at, status, files_loaded, failed_checks, "
            f"assets_materialized from raw._runs order by started_at desc limit {int(limit)}"
        ).fetchall():
            logged[row[0]] = row
    runs = dagster_runs(settings, limit)
    print("last runs (UTC; Dagster instance, the same as `make dev` shows)")
    print(f"  {'started':19}  {'ended':19}  {'status':11}  files  assets  failed checks  run")
    shown = 0
    for run in runs or []:
        row = logged.pop(str(run["run_id"]), None)
        status = row[3] if row else run["status"]  # the run log knows a blocked run
        files, checks, assets = (row[4], row[5], row[6]) if row else (None, None, None)
        _print_run_line(run["started"], run["ended"], status, files, checks, assets)
        print(f"  {str(run['run_id'])[:8]} ({run['trigger']})")
        shown += 1
    for row in logged.values():  # runs from before the instance existed
        if shown >= limit:
            break
        _print_run_line(row[1], row[2], row[3], row[4], row[5], row[6])
        print("  (run log only)")
        shown += 1


def _print_insights(con: duckdb.DuckDBPyConnection) -> None:
    """The insight models of the last full run: computed or skipped, and why."""
    if "insights" not in table_columns(con, "raw", "_runs"):
        return
    row = con.execute(
        "select started_at, insights from raw._runs where insights is not null "
        "order by started_at desc limit 1"
    ).fetchone()
    if row:
        print(f"\ninsights (CX_INSIGHTS_EVERY), run of {row[0]:%Y-%m-%d %H:%M}: {row[1]}")


def _print_run_line(started, ended, status, files, checks, assets) -> None:
    n_failed = len(json.loads(checks)) if checks else 0
    n_assets = len(json.loads(assets)) if assets else 0
    print(
        f"  {started:%Y-%m-%d %H:%M:%S}  "
        f"{(f'{ended:%Y-%m-%d %H:%M:%S}' if ended else '-'):19}  "
        f"{status:11}  {files or 0:5}  {n_assets:6}  {n_failed:13}",
        end="",
    )


def _print_freshness(settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
    from cx_insights.ops.freshness import age_hours, describe_age, source_freshness, verdict

    now = datetime.now(UTC).replace(tzinfo=None)
    print(
        f"\nfreshness of each source (UTC): newest file (limit CX_FRESHNESS_HOURS "
        f"{settings.freshness_hours:g} h) and newest event in the data "
        f"(limit CX_DATA_FRESHNESS_HOURS {settings.data_freshness_hours:g} h)"
    )
    print(f"  {'entity':27}  {'newest file':16}  {'age':10}  {'file':22}  ", end="")
    print(f"{'newest event':16}  {'age':10}  data")
    for e in ENTITIES:
        f = source_freshness(con, e)
        file_age = age_hours(f.newest_file, now)
        data_age = age_hours(f.newest_event, now)
        print(
            f"  {f.entity:27}  {_stamp(f.newest_file):16}  "
            f"{(describe_age(file_age) if file_age is not None else '-'):10}  "
            f"{verdict(file_age, settings.freshness_hours):22}  "
            f"{_stamp(f.newest_event):16}  "
            f"{(describe_age(data_age) if data_age is not None else '-'):10}  "
            f"{verdict(data_age, settings.data_freshness_hours) if f.event_columns else 'n/a'}"
        )


def _stamp(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def print_status(settings: Settings, limit: int = 10) -> int:
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}: run `cx-insights run` first")
        return 1
    try:
        with connect(settings.warehouse, read_only=True) as con:
            print(f"warehouse {settings.warehouse}\n")
            _print_runs(settings, con, limit)
            _print_insights(con)
            _print_freshness(settings, con)
            print("\n".join(connector_status_lines(settings)))
            usage = disk_usage(settings)
            print(
                "\ndisk: "
                + ", ".join(f"{label} {human_size(n)}" for label, _, n in usage)
                + f" (total {human_size(sum(n for _, _, n in usage))})"
            )
    except WarehouseLockedError as exc:
        print(f"cx-insights: {exc}")
        return 3
    return 0
