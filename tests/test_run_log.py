"""The run log decides which rows the staging tests check (last_tested_at)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb

from cx_insights.config import load_settings
from cx_insights.report.status import (
    RUNS_DDL,
    dbt_tests_digest,
    last_tested_at,
    record_run_start,
)

STAGING = {"staging/stg_web__events", "staging/stg_crm__customers"}


def _settings(warehouse: Path):
    return load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "test"})


def _run(con, run_id: str, started: str, status: str, materialized: set[str], digest: str):
    begin = datetime.fromisoformat(started)
    con.execute(
        "insert into raw._runs (run_id, started_at, ended_at, status, assets_materialized, "
        "tests_digest) values (?, ?, ?, ?, ?, ?)",
        [
            run_id,
            begin,
            begin.replace(minute=30),
            status,
            json.dumps(sorted(materialized)),
            digest,
        ],
    )


def test_rows_are_tested_since_the_end_of_the_last_successful_full_build_with_the_same_tests(
    tmp_path,
):
    warehouse = tmp_path / "cx.duckdb"
    settings = _settings(warehouse)
    assert last_tested_at(settings, STAGING, "d1") is None  # no warehouse: every row
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute(RUNS_DDL)
    assert last_tested_at(settings, STAGING, "d1") is None  # no run yet
    with duckdb.connect(str(warehouse)) as con:
        _run(con, "a", "2026-11-01 08:00", "success", STAGING | {"marts/kpi_monthly"}, "d1")
        _run(con, "b", "2026-11-02 08:00", "failed", STAGING, "d1")  # its tests may have failed
        _run(con, "c", "2026-11-03 08:00", "success", {"staging/stg_web__events"}, "d1")  # subset
        _run(con, "d", "2026-11-04 08:00", "success", STAGING, "d0")  # other tests
    assert last_tested_at(settings, STAGING, "d1") == datetime(2026, 11, 1, 8, 30)
    assert last_tested_at(settings, STAGING, "d0") == datetime(2026, 11, 4, 8, 30)
    assert last_tested_at(settings, STAGING, "new tests") is None


def test_a_run_log_from_before_the_digest_tests_every_row_and_gains_the_column(tmp_path):
    warehouse = tmp_path / "cx.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw._runs (run_id varchar primary key, started_at timestamp not null, "
            "ended_at timestamp, status varchar not null, landing_dir varchar, "
            "files_loaded bigint, rows_by_entity varchar, failed_checks varchar, "
            "failed_steps varchar)"
        )
    settings = _settings(warehouse)
    assert last_tested_at(settings, STAGING, "d1") is None
    record_run_start(settings, "r1", datetime(2026, 11, 5), "d1")
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select tests_digest from raw._runs").fetchall() == [("d1",)]


def test_the_digest_is_stable():
    digest = dbt_tests_digest()
    assert len(digest) == 64 and digest == dbt_tests_digest()
