"""`cx-insights status`: the last runs and the freshness of each source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from cx_insights.config import Settings
from cx_insights.connectors.runner import status_lines as connector_status_lines
from cx_insights.contract import ENTITIES
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.warehouse import WarehouseLockedError, connect, table_exists

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
    assets_materialized varchar       -- json list of asset keys (dbt models included)
)
"""


def record_run_start(settings: Settings, run_id: str, started_at: datetime) -> None:
    with connect(settings.warehouse) as con:
        con.execute(RUNS_DDL)
        # The caller holds the run lock: a run still marked running was killed.
        con.execute("update raw._runs set status = 'interrupted' where status = 'running'")
        con.execute(
            "insert or replace into raw._runs (run_id, started_at, status, landing_dir) "
            "values (?, ?, 'running', ?)",
            [run_id, started_at, str(settings.landing_dir)],
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


def print_status(settings: Settings, limit: int = 10) -> int:
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}: run `cx-insights run` first")
        return 1
    try:
        with connect(settings.warehouse, read_only=True) as con:
            print(f"warehouse {settings.warehouse}\n")
            if table_exists(con, "raw", "_runs"):
                print("last runs (UTC)")
                print(
                    f"  {'started':19}  {'ended':19}  {'status':11}  files  assets  failed checks"
                )
                for started, ended, status, files, checks, assets in con.execute(
                    "select started_at, ended_at, status, files_loaded, failed_checks, "
                    "assets_materialized "
                    f"from raw._runs order by started_at desc limit {int(limit)}"
                ).fetchall():
                    n_failed = len(json.loads(checks)) if checks else 0
                    n_assets = len(json.loads(assets)) if assets else 0
                    print(
                        f"  {started:%Y-%m-%d %H:%M:%S}  "
                        f"{(f'{ended:%Y-%m-%d %H:%M:%S}' if ended else '-'):19}  "
                        f"{status:11}  {files or 0:5}  {n_assets:6}  {n_failed}"
                    )
            print("\nfreshness of each source (UTC)")
            print(f"  {'entity':30}  {'last loaded':19}  newest file")
            for entity, loaded, mtime in freshness(con):
                print(
                    f"  {entity:30}  {(f'{loaded:%Y-%m-%d %H:%M:%S}' if loaded else '-'):19}  "
                    f"{(f'{mtime:%Y-%m-%d %H:%M:%S}' if mtime else '-')}"
                )
            print("\n".join(connector_status_lines(settings)))
    except WarehouseLockedError as exc:
        print(f"cx-insights: {exc}")
        return 3
    return 0
