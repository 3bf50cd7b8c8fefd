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
    from orchestration.resources import CxSettingsResource

    # The settings come from the resource, not from the environment.
    monkeypatch.delenv("CX_LANDING_DIR", raising=False)
    cx = CxSettingsResource(landing_dir=str(landing.root), warehouse=str(warehouse))
    landing.write("tickets/tickets/a.csv", "ticket_id,created_at,status\nT1,2024-01-01,open\n")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, definitions=defs, resources={"cx": cx})
        result = landing_files_sensor(ctx)
        assert len(result.run_requests) == 1
        keys = {k.to_user_string() for k in result.run_requests[0].asset_selection}
        assert "raw/tickets__tickets" in keys and "accepted/tickets__tickets" in keys
        assert "raw/crm__customers" not in keys
        assert "marts/kpi_monthly" in keys
        # Same files: no new run.
        ctx2 = dg.build_sensor_context(
            instance=instance, definitions=defs, cursor=result.cursor, resources={"cx": cx}
        )
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


def test_a_run_is_on_the_warehouse_dagster_instance_with_progress_and_a_summary(sample_build):
    """The session's sample build (`cx-insights run`, output redirected to a pipe)."""
    import os
    import re

    import duckdb

    out = sample_build.stdout
    # One line per stage as it starts and ends, no dbt log lines, no colour codes.
    for stage in ("ingest", "quality gate", "dbt models", "reports", "publish"):
        assert re.search(rf"^\d\d:\d\d:\d\d  {stage} +started$", out, re.M), (stage, out)
        assert re.search(rf"^\d\d:\d\d:\d\d  {stage} +done: .* s$", out, re.M), (stage, out)
    assert re.search(r"insights +done: \d+ insight models", out)
    assert re.search(r"ingest +done: .*files loaded, [\d,]+ rows loaded", out)
    assert "\x1b[" not in out + sample_build.stderr
    assert "Running with dbt" not in out and len(out.splitlines()) < 40, out
    assert "succeeded: built " in out and "BI tools open:" in out

    # Runs, materialisations and check results are on the instance `make dev` opens.
    home = Path(os.environ.get("DAGSTER_HOME") or sample_build.warehouse.parent / "dagster_home")
    assert (home / "dagster.yaml").exists()
    with duckdb.connect(str(sample_build.warehouse), read_only=True) as con:
        [(run_id, status)] = con.execute(
            "select run_id, status from raw._runs order by started_at limit 1"
        ).fetchall()
    assert status == "success" and f"Dagster run:         {run_id}" in out
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        # (Other tests may run again on this warehouse: look at this run's events.)
        materialized = {
            entry.dagster_event.asset_key.to_user_string()
            for entry in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
        }
        assert {"marts/kpi_monthly", "raw/crm__customers", "report/published_marts"} <= (
            materialized
        )
        for key, check in (
            (["raw", "crm__customers"], "files_readable"),
            (["accepted", "feedback__responses"], "data_freshness"),
        ):
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(key), check), limit=50
            )
            assert any(record.run_id == run_id for record in history), (key, check)

    # The dashboard written at the end of the run shows the run finished.
    page = sample_build.warehouse.with_name("dashboard.html").read_text(encoding="utf-8")
    assert "this page was written during it" not in page
    assert "Last run</div><div class='value good'>success" in page
