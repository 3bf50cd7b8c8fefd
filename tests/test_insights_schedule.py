"""The insight models' schedule (cx_insights/insights/schedule.py): when a run recomputes
them, when it leaves them as an earlier run computed them, and that it says which."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cx_insights.config import DBT_PROJECT_DIR, SAMPLE_LANDING_DIR, SettingsError, load_settings
from cx_insights.insights.schedule import (
    Computation,
    code_inputs,
    inputs_digest,
    plan_insights,
)
from tests.conftest import run_cli

NOW = datetime(2026, 12, 5, 12, 0)


def _settings(tmp_path: Path, **env: str):
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    return load_settings(
        {
            "CX_LANDING_DIR": str(landing),
            "CX_WAREHOUSE": str(tmp_path / "w" / "cx.duckdb"),
            "CX_PII_SALT": "s",
            **env,
        }
    )


@pytest.mark.parametrize(
    ("value", "every"),
    [("", None), ("run", None), ("12h", timedelta(hours=12)), ("1d", timedelta(days=1)),
     ("2W", timedelta(weeks=2))],
)  # fmt: skip
def test_the_period_is_run_or_hours_days_weeks(tmp_path, value, every):
    assert _settings(tmp_path, CX_INSIGHTS_EVERY=value).insights_every == every


@pytest.mark.parametrize("value", ["0d", "weekly", "7", "-1d", "1.5d"])
def test_a_bad_period_names_the_variable_and_what_is_accepted(tmp_path, value):
    with pytest.raises(SettingsError, match=r"CX_INSIGHTS_EVERY.*`run` or a period"):
        _settings(tmp_path, CX_INSIGHTS_EVERY=value)


def test_the_plan_computes_first_when_forced_and_when_changed_and_due(tmp_path):
    weekly = _settings(tmp_path, CX_INSIGHTS_EVERY="1w")
    last = Computation("a" * 36, NOW - timedelta(days=2), "old:code")

    first = plan_insights(weekly, "new:code", NOW)
    assert first.compute and first.reason == "no earlier computation in this warehouse"

    unchanged = plan_insights(weekly, "old:code", NOW + timedelta(days=30), last=last)
    assert not unchanged.compute
    assert unchanged.reason.startswith("inputs unchanged since they were computed 2026-12-03")

    not_due = plan_insights(weekly, "new:code", NOW, last=last)
    assert not not_due.compute
    assert "next computation due 2026-12-10 12:00 UTC (CX_INSIGHTS_EVERY=1w" in not_due.reason

    due = plan_insights(weekly, "new:code", NOW + timedelta(days=5), last=last)
    assert due.compute and due.reason.startswith("inputs changed and due (every 1w")

    forced = plan_insights(weekly, "old:code", NOW, force=True, last=last)
    assert forced.compute and "--refresh-insights" in forced.reason

    recoded = plan_insights(weekly, "old:new code", NOW, last=last)
    assert recoded.compute and recoded.reason == "the project's code, seeds or settings changed"

    each_run = replace(weekly, insights_every=None)
    every_run = plan_insights(each_run, "new:code", NOW, last=last)
    assert every_run.compute and every_run.reason == "inputs changed (CX_INSIGHTS_EVERY=run)"
    assert not plan_insights(each_run, "old:code", NOW, last=last).compute


def test_the_inputs_digest_follows_the_landing_files_and_settings_not_the_paths(tmp_path):
    settings = _settings(tmp_path)
    data = settings.landing_dir / "crm" / "customers.csv"
    data.parent.mkdir()
    data.write_text("customer_id\nc1\n")
    os.utime(data, ns=(1_700_000_000_000_000_000,) * 2)
    before = inputs_digest(settings)
    assert inputs_digest(settings) == before

    moved = tmp_path / "elsewhere"
    shutil.copytree(settings.landing_dir, moved / "landing")  # copy2 keeps the times
    assert inputs_digest(_settings(moved)) == before  # other folder, other warehouse
    assert inputs_digest(_settings(tmp_path, CX_INSIGHTS_EVERY="1d")) == before
    assert inputs_digest(_settings(tmp_path, CX_FRESHNESS_HOURS="5")) == before

    os.utime(data, ns=(1_700_000_060_000_000_000,) * 2)  # re-exported, same bytes
    assert inputs_digest(settings) != before
    os.utime(data, ns=(1_700_000_000_000_000_000,) * 2)
    (settings.landing_dir / "crm" / "invoices.csv").write_text("invoice_id\n")
    assert inputs_digest(settings) != before
    (settings.landing_dir / "crm" / "invoices.csv").unlink()
    assert inputs_digest(settings) == before
    usd = inputs_digest(_settings(tmp_path, CX_REPORTING_CURRENCY="USD"))
    assert usd.split(":")[0] == before.split(":")[0] and usd != before  # same files
    pulled = inputs_digest(settings, pulled=True)
    assert pulled != inputs_digest(settings, pulled=True)
    assert pulled.split(":")[1] == before.split(":")[1]  # same code


def test_the_code_inputs_are_what_writes_rows_not_what_reads_them():
    files = {str(p.relative_to(DBT_PROJECT_DIR.parent)) for p in code_inputs()}
    # What builds rows: the insights' own code, the gate, the loaders, the dbt project.
    for builds in (
        "cx_insights/insights/schedule.py",
        "cx_insights/quality/gate.py",
        "cx_insights/contract.py",
        "dbt_project/dbt_project.yml",
    ):
        assert builds in files, builds
    assert any(f.startswith("cx_insights/ingest/") for f in files)
    assert any(f.startswith("dbt_project/models/marts/") for f in files)
    # What only reads them (a chart of the dashboard, the published copy, exports).
    for reads in ("cx_insights/report/", "cx_insights/serve.py", "cx_insights/export.py"):
        assert not any(f.startswith(reads) for f in files), reads


def test_a_landing_file_removed_while_the_digest_lists_them_is_not_an_input(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    data = settings.landing_dir / "crm" / "customers.csv"
    data.parent.mkdir()
    data.write_text("customer_id\nc1\n")
    before = inputs_digest(settings)
    listed = [data, settings.landing_dir / "crm" / "gone.csv"]
    gone_after_listing = {listed[1]}
    real_is_file = Path.is_file
    monkeypatch.setattr(Path, "rglob", lambda self, pattern: iter(listed))
    monkeypatch.setattr(
        Path, "is_file", lambda self: self in gone_after_listing or real_is_file(self)
    )
    assert inputs_digest(settings) == before


def test_only_insights_no_other_model_reads_are_left_out():
    from orchestration.definitions import defs
    from orchestration.run import scheduled_insight_keys

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in scheduled_insight_keys(graph)}
    assert {"marts/driver_importance", "marts/customers_at_risk", "marts/initiative_impact"} <= keys
    assert "intermediate/int_churn_snapshots_computed" in keys
    # Topics come from one fit over every verbatim: the topic fact is on the schedule too.
    assert {"intermediate/int_verbatims_analysed", "marts/fct_verbatim_topics"} <= keys
    assert "marts/fct_verbatims" not in keys and "marts/kpi_monthly" not in keys
    for key in scheduled_insight_keys(graph):
        for child in graph.get(key).child_keys:
            assert child in scheduled_insight_keys(graph) or graph.get(child).group_name == "report"


def _insight_marts(warehouse: Path) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "and table_name in ('driver_importance', 'customers_at_risk', 'nps_financial_link')"
            ).fetchall()
        ]
        return {n: con.execute(f"select * from marts.{n} order by all").fetchall() for n in names}


def _build_log(published: Path) -> dict[str, tuple]:
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "select table_name, run_id, computed_by_run, computed_at from marts._build"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _run_ids(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_id, insights, insights_inputs is not null, started_at from raw._runs "
            "order by started_at"
        ).fetchall()


def test_runs_leave_the_insights_as_computed_and_say_which(sample_build, tmp_path):
    """A copy of the sample build: a rerun on unchanged files skips the insights; a
    re-exported file with a weekly schedule skips them as not due; both say so."""
    warehouse = tmp_path / "w" / "cx.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(sample_build.warehouse, warehouse)
    computed = _insight_marts(warehouse)
    # The run that computed them (test_end_to_end reruns the sample build, skipping them).
    first_run, first_started = [(r[0], r[3]) for r in _run_ids(warehouse) if r[2]][-1]

    again = run_cli(["run"], SAMPLE_LANDING_DIR, warehouse)
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
    assert "insights:  skipped: inputs unchanged since they were computed" in again.stdout
    assert f"(run {first_run[:8]})" in again.stdout
    assert _insight_marts(warehouse) == computed
    second_run, reason, recorded, _ = _run_ids(warehouse)[-1]
    assert reason.startswith("skipped: inputs unchanged") and not recorded
    page = warehouse.with_name("dashboard.html").read_text(encoding="utf-8")
    assert f"insights computed {first_started:%Y-%m-%d %H:%M} UTC" in page
    log = _build_log(warehouse.with_name("cx_marts.duckdb"))
    assert log["driver_importance"][:2] == (second_run, first_run)
    assert log["kpi_monthly"][:2] == (second_run, second_run)
    assert log["fct_verbatim_topics"][:2] == (second_run, first_run)
    assert log["fct_verbatims"][:2] == (second_run, second_run)  # never skipped

    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING_DIR, landing)
    touched = next(p for p in sorted(landing.rglob("*.csv")))
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    weekly = run_cli(["run"], landing, warehouse, CX_INSIGHTS_EVERY="1w")
    assert weekly.returncode == 0, f"{weekly.stdout}\n{weekly.stderr}"
    assert "insights:  skipped: inputs changed, next computation due" in weekly.stdout
    assert "(CX_INSIGHTS_EVERY=1w; last computed" in weekly.stdout
    assert _insight_marts(warehouse) == computed
    status = run_cli(["status"], landing, warehouse)
    assert "skipped: inputs changed, next computation due" in status.stdout
    assert _run_ids(warehouse)[-1][2] is False
