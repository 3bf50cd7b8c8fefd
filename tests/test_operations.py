"""Operations: the landing sensor, freshness, one writer at a time."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from cx_insights.config import load_settings
from orchestration.defs.ingest.sensors import changed_entities, landing_state
from tests.conftest import run_cli


def test_changed_entities_from_landing_state(landing):
    landing.write("tickets/tickets/a.csv", "ticket_id,created_at,status\nT1,2024-01-01,open\n")
    first = landing_state(landing.root)
    assert changed_entities({}, first) == ["tickets__tickets"]
    assert changed_entities(first, landing_state(landing.root)) == []
    landing.write("crm/customers/c.csv", "customer_id,signed_up_at\nC1,2024-01-01\n")
    assert changed_entities(first, landing_state(landing.root)) == ["crm__customers"]


def test_sensor_triggers_once_per_new_file_and_only_downstream(landing, warehouse, monkeypatch):
    from orchestration.definitions import defs
    from orchestration.defs.ingest.sensors import landing_files_sensor

    monkeypatch.setenv("CX_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("CX_WAREHOUSE", str(warehouse))
    landing.write("tickets/tickets/a.csv", "ticket_id,created_at,status\nT1,2024-01-01,open\n")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        result = landing_files_sensor(ctx)
        assert len(result.run_requests) == 1
        keys = {k.to_user_string() for k in result.run_requests[0].asset_selection}
        assert "raw/tickets__tickets" in keys and "accepted/tickets__tickets" in keys
        assert "raw/crm__customers" not in keys
        assert "marts/kpi_monthly" in keys
        # Same files: no new run.
        ctx2 = dg.build_sensor_context(instance=instance, definitions=defs, cursor=result.cursor)
        again = landing_files_sensor(ctx2)
        assert not again.run_requests


def test_stale_source_fails_its_freshness_check(landing, warehouse, monkeypatch):
    from orchestration.definitions import defs

    old = int(time.time()) - 72 * 3600
    landing.write(
        "tickets/tickets/a.csv", "ticket_id,created_at,status\nT1,2024-01-01,open\n", mtime=old
    )
    monkeypatch.setenv("CX_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("CX_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CX_FRESHNESS_HOURS", "36")
    result = defs.resolve_job_def("cx_all").execute_in_process(
        asset_selection=[dg.AssetKey(["raw", "tickets__tickets"])], raise_on_error=False
    )
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    fresh = evaluations[("raw/tickets__tickets", "freshness")]
    assert not fresh.passed
    assert fresh.severity == dg.AssetCheckSeverity.WARN
    assert "late" in (fresh.description or "")
    assert evaluations[("raw/tickets__tickets", "files_readable")].passed


def test_a_second_run_stops_at_once_naming_the_first(tmp_path):
    import fcntl

    warehouse = tmp_path / "w" / "cx.duckdb"
    settings = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"})
    lock = settings.warehouse.with_suffix(".run.lock")
    lock.parent.mkdir(parents=True)
    with lock.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("pid 4242 started 2026-11-22T05:00:00Z")
        fh.flush()
        started = time.monotonic()
        result = run_cli(["run"], Path(tmp_path / "landing"), warehouse)
    assert result.returncode == 3
    assert "another cx-insights run" in result.stderr and "pid 4242" in result.stderr
    assert time.monotonic() - started < 60


def test_duckdb_memory_is_capped_by_default_and_by_setting(tmp_path, monkeypatch):
    from cx_insights.warehouse import connect

    monkeypatch.delenv("CX_DUCKDB_MEMORY_LIMIT", raising=False)
    with connect(tmp_path / "w.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("5.0 GiB",)
    monkeypatch.setenv("CX_DUCKDB_MEMORY_LIMIT", "2GiB")
    with connect(tmp_path / "w.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("2.0 GiB",)
