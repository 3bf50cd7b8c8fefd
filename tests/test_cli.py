"""The CLI says what it does: options, selections, crashes, progress, the Dagster instance,
freshness and housekeeping (fast: no end-to-end build here; see test_operations.py)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from cx_insights.config import SettingsError, load_settings
from orchestration import cli, run

#: Variables the CLI sets in its own process; a test restores them afterwards.
CLI_SETS = (
    "DAGSTER_HOME",
    "CX_RUN_ID",
    "NO_COLOR",
    "DBT_USE_COLORS",
    "CX_TARGET",
    "CX_REPORTING_CURRENCY",
)


def _isolate(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.setenv(name, "x")  # recorded, so restored (or removed) afterwards
        monkeypatch.delenv(name)


TICKETS = "ticket_id,created_at,status\nT1,2024-01-01 10:00:00,open\nT2,2024-03-05 08:00:00,open\n"


@pytest.fixture
def env(monkeypatch, landing, warehouse):
    """A tiny landing dir and a throwaway warehouse; no connector, no DAGSTER_HOME."""
    landing.write("tickets/tickets/a.csv", TICKETS)
    monkeypatch.setenv("CX_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("CX_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CX_PII_SALT", "test-salt")
    _isolate(monkeypatch, *CLI_SETS)
    for name in list(os.environ):
        if name.startswith(("ZENDESK_", "STRIPE_", "CX_ZENDESK", "CX_STRIPE")):
            monkeypatch.delenv(name)
    return SimpleNamespace(landing=landing, warehouse=warehouse)


def test_version_and_every_option_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "cx-insights 0.1.0"
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.choices and "run" in a.choices)
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"cx-insights {name} {action.option_strings} has no help"
    run = sub.choices["run"]
    assert {"--select", "--verbose", "--quiet"} <= {
        o for a in run._actions for o in a.option_strings
    }


def test_a_selection_that_matches_nothing_is_an_error_naming_what_exists(env, capsys):
    assert cli.main(["run", "--select", "group:nope"]) == 2
    err = capsys.readouterr().err
    assert "--select 'group:nope' matches no asset" in err
    assert "ingest" in err and "marts" in err and "raw/" in err and "marts/" in err
    assert "Traceback" not in err
    assert not env.warehouse.exists()  # nothing ran, nothing changed


def test_generate_honours_end_month_and_overwrite(tmp_path, capsys):
    out = tmp_path / "landing"
    args = ["generate", "--out", str(out), "--customers", "3", "--months", "2"]
    assert cli.main([*args, "--end-month", "2025-06"]) == 0
    # Drops are stamped right after the window: the month after the last month of data.
    assert sorted(p.name[:6] for p in (out / "framework" / "fx_rates").iterdir()) == ["202507"]
    capsys.readouterr()
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and "Traceback" not in err
    assert cli.main([*args, "--end-month", "2024-02", "--overwrite"]) == 0
    assert sorted(p.name[:6] for p in (out / "framework" / "fx_rates").iterdir()) == ["202403"]
    assert cli.main([*args, "--end-month", "June", "--overwrite"]) == 2


def _runs(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select status, failed_steps, ended_at from raw._runs").fetchall()


def test_a_run_that_raises_ends_its_row_failed_and_prints_the_summary(env, monkeypatch, capsys):
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(run, "materialize", explode)
    assert cli.main(["run"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED   step run: RuntimeError: disk on fire" in err
    assert "Traceback" not in err + out
    assert "the run did not complete" in err and "data-quality report:" in out
    [(status, steps, ended)] = _runs(env.warehouse)
    assert status == "failed" and ended is not None
    assert "disk on fire" in json.loads(steps)[0]["error"]
    # --verbose adds the traceback.
    assert cli.main(["run", "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert sorted(s for s, _, _ in _runs(env.warehouse)) == ["failed", "failed"]


def test_quiet_prints_errors_only(env, monkeypatch, capsys):
    monkeypatch.setattr(run, "materialize", lambda *a, **k: (_ for _ in ()).throw(OSError("x")))
    assert cli.main(["run", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "FAILED   step run: OSError: x" in err


def test_no_colour_codes_when_output_is_not_a_terminal(monkeypatch):
    _isolate(monkeypatch, "DBT_USE_COLORS", "NO_COLOR")
    monkeypatch.setattr("sys.stdout", SimpleNamespace(isatty=lambda: False))
    cli._quiet_colours()
    assert os.environ["DBT_USE_COLORS"] == "false" and os.environ["NO_COLOR"] == "1"


# --- progress ----------------------------------------------------------------


def _event(kind: str, step: str, **data) -> SimpleNamespace:
    specific = None
    if kind == "ASSET_MATERIALIZATION":
        key = SimpleNamespace(to_user_string=lambda: data["key"])
        specific = SimpleNamespace(
            materialization=SimpleNamespace(asset_key=key, metadata=data.get("metadata", {}))
        )
    elif kind == "ASSET_CHECK_EVALUATION":
        specific = SimpleNamespace(passed=data["passed"], severity=data.get("severity", "ERROR"))
    return SimpleNamespace(
        dagster_event=SimpleNamespace(
            event_type_value=kind, step_key=step, event_specific_data=specific
        )
    )


def test_progress_prints_one_line_per_stage_start_and_end():
    import io

    from orchestration.progress import ProgressPrinter

    out = io.StringIO()
    steps = ["raw__a", "raw__a_freshness", "accepted__a", "cx_dbt_models", "report__dashboard"]
    printer = ProgressPrinter(out, steps, insight_keys={"marts/driver_importance"})
    files = SimpleNamespace(value={"loaded": 2, "unchanged": 1})
    for entry in [
        _event("STEP_START", "raw__a"),
        _event("ASSET_MATERIALIZATION", "raw__a", key="raw/a",
               metadata={"files": files, "rows_loaded_this_run": 120}),
        _event("STEP_SUCCESS", "raw__a"),
        _event("STEP_START", "raw__a_freshness"),
        _event("ASSET_CHECK_EVALUATION", "raw__a_freshness", passed=False),
        _event("ASSET_CHECK_EVALUATION", "raw__a_freshness", passed=False, severity="WARN"),
        _event("STEP_SUCCESS", "raw__a_freshness"),
        _event("STEP_START", "accepted__a"),
        _event("STEP_FAILURE", "accepted__a"),
        _event("STEP_SKIPPED", "cx_dbt_models"),
        SimpleNamespace(dagster_event=SimpleNamespace(
            event_type_value="RUN_FAILURE", step_key=None, event_specific_data=None)),
    ]:  # fmt: skip
        printer(entry)
    lines = [line.split("  ", 1)[1].strip() for line in out.getvalue().splitlines()]
    assert lines[0] == "ingest        started"
    assert lines[1].startswith("ingest        done: 1 assets, 2 files loaded, 120 rows loaded")
    assert "1 checks failed, 1 checks warned" in lines[1]
    assert lines[2] == "quality gate  started"
    assert lines[3].startswith("quality gate  FAILED: ") and "1 steps failed" in lines[3]
    assert lines[4].startswith("dbt models    skipped")
    assert lines[5].startswith("reports       skipped")
    assert len(lines) == 6


def test_a_terminal_gets_a_bar_for_the_dbt_models_and_a_file_plain_lines():
    import io

    from orchestration.progress import ProgressPrinter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def feed(out: io.StringIO) -> str:
        printer = ProgressPrinter(
            out, ["cx_dbt_models"], insight_keys={"marts/driver_importance"}, dbt_models=4
        )
        printer(_event("STEP_START", "cx_dbt_models"))
        for key in ("staging/a", "marts/b", "marts/driver_importance"):
            printer(_event("ASSET_MATERIALIZATION", "cx_dbt_models", key=key, metadata={}))
        printer(_event("STEP_SUCCESS", "cx_dbt_models"))
        return out.getvalue()

    shown = feed(Terminal())
    assert "[" + "#" * 7 + "." * 23 + "] 1/4 models" in shown
    assert "] 3/4 models" in shown and "\r\x1b[K" in shown
    assert shown.rstrip().splitlines()[-1].split("  ", 1)[1].startswith("insights")
    plain = feed(io.StringIO())
    assert "\r" not in plain and "\x1b" not in plain and "models]" not in plain
    assert [line.split("  ", 1)[1].split()[0] for line in plain.splitlines()] == [
        "dbt",
        "dbt",
        "insights",
    ]


# --- the Dagster instance ----------------------------------------------------


def test_dagster_home_is_beside_the_warehouse_unless_set(tmp_path, monkeypatch):
    from orchestration.instance import MARKER, dagster_home, ensure_dagster_home

    _isolate(monkeypatch, "DAGSTER_HOME")
    settings = load_settings(
        {"CX_WAREHOUSE": str(tmp_path / "w" / "cx.duckdb"), "CX_PII_SALT": "x"}
    )
    home = ensure_dagster_home(settings)
    assert home == tmp_path / "w" / "dagster_home" == Path(os.environ["DAGSTER_HOME"])
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(MARKER) and "enabled: false" in text and str(home / "storage") in text
    assert dagster_home(settings, {"DAGSTER_HOME": str(tmp_path / "mine")}) == tmp_path / "mine"
    # A dagster.yaml the user wrote is left alone.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ensure_dagster_home(settings)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    # A DAGSTER_HOME the user set is used as it is.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "mine"))
    assert ensure_dagster_home(settings) == tmp_path / "mine"
    assert not (tmp_path / "mine" / "dagster.yaml").exists()


def test_old_runs_are_pruned_keeping_the_newest():
    from orchestration.instance import runs_to_prune

    now = datetime(2026, 12, 1, tzinfo=UTC)
    runs = [(f"r{i}", now - timedelta(hours=i)) for i in range(60)]
    assert runs_to_prune(runs, now, keep=50, days=30) == [f"r{i}" for i in range(50, 60)]
    old = [("new", now - timedelta(days=40)), ("older", now - timedelta(days=41))]
    assert runs_to_prune(old, now, keep=50, days=30) == ["older"]  # the newest is kept


def _tiny_job():
    """A job of one op that does nothing: runs to fill an instance with."""
    import dagster as dg

    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def tiny() -> None:
        noop()

    return tiny


def test_prune_runs_deletes_runs_from_the_instance():
    import dagster as dg

    from orchestration.instance import prune_runs

    tiny = _tiny_job()
    with dg.instance_for_test() as instance:
        for _ in range(4):
            tiny.execute_in_process(instance=instance)
        assert prune_runs(instance, keep=2, days=30) == 2
        assert len(instance.get_run_records()) == 2


def test_the_instance_keeps_its_event_log_connected_and_its_history(tmp_path, monkeypatch):
    from orchestration.dagster_storage import PooledSqliteEventLogStorage
    from orchestration.instance import open_instance, prune_runs

    _isolate(monkeypatch, "DAGSTER_HOME")
    settings = load_settings({"CX_WAREHOUSE": str(tmp_path / "cx.duckdb"), "CX_PII_SALT": "x"})
    tiny = _tiny_job()
    instance = open_instance(settings)
    try:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        # More runs than engines kept open: the least recently used are closed on the way.
        run_ids = [tiny.execute_in_process(instance=instance).run_id for _ in range(6)]
        assert prune_runs(instance, keep=2, days=30) == 4
    finally:
        instance.dispose()
    shards = tmp_path / "dagster_home" / "storage" / "history" / "runs"
    assert (shards / "index.db").exists()
    assert not list(shards.glob("*.db-wal"))  # every connection closed, each WAL checkpointed
    instance = open_instance(settings)  # what the next process (or `make dev`) reads
    try:
        assert {r.dagster_run.run_id for r in instance.get_run_records()} == set(run_ids[-2:])
        events = [e.dagster_event for e in instance.all_logs(run_ids[-1]) if e.dagster_event]
        assert "PIPELINE_SUCCESS" in {e.event_type_value for e in events}, events
    finally:
        instance.dispose()


# --- freshness and housekeeping -----------------------------------------------


def test_data_freshness_setting_is_validated():
    assert load_settings({"CX_PII_SALT": "x"}).data_freshness_hours == 72
    assert (
        load_settings({"CX_PII_SALT": "x", "CX_DATA_FRESHNESS_HOURS": "24"}).data_freshness_hours
        == 24
    )
    for bad in ("abc", "-1", "0", "nan"):
        with pytest.raises(SettingsError, match="CX_DATA_FRESHNESS_HOURS"):
            load_settings({"CX_PII_SALT": "x", "CX_DATA_FRESHNESS_HOURS": bad})


def test_freshness_judges_files_and_the_newest_event_in_the_data(
    landing, warehouse, load_and_gate, monkeypatch, capsys
):
    from cx_insights.contract import entity
    from cx_insights.ops.freshness import source_freshness
    from cx_insights.report.status import print_status
    from cx_insights.warehouse import connect

    landing.write("tickets/tickets/a.csv", TICKETS, mtime=int(datetime.now(UTC).timestamp()))
    load_and_gate(only=["tickets__tickets"])
    with connect(warehouse) as con:
        fresh = source_freshness(con, entity("tickets__tickets"))
    assert fresh.newest_event == datetime(2024, 3, 5, 8, 0)
    _isolate(monkeypatch, "DAGSTER_HOME")
    settings = load_settings(
        {"CX_WAREHOUSE": str(warehouse), "CX_LANDING_DIR": str(landing.root), "CX_PII_SALT": "x"}
    )
    assert print_status(settings) == 0
    out = capsys.readouterr().out
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("tickets__tickets")]
    assert " ok " in line  # the file is new
    assert "2024-03-05 08:00" in line and "STALE" in line  # its data is not
    assert "disk: warehouse " in out and "dagster_home" in out and "dbt_target" in out


def test_data_freshness_check_warns_on_old_events(landing, warehouse, monkeypatch):
    import dagster as dg

    from orchestration.definitions import defs

    landing.write("tickets/tickets/a.csv", TICKETS, mtime=int(datetime.now(UTC).timestamp()))
    monkeypatch.setenv("CX_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("CX_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CX_PII_SALT", "test-salt")
    result = defs.resolve_job_def("cx_all").execute_in_process(
        asset_selection=[
            dg.AssetKey(["raw", "tickets__tickets"]),
            dg.AssetKey(["accepted", "tickets__tickets"]),
        ],
        raise_on_error=False,
    )
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("raw/tickets__tickets", "freshness")].passed
    data = checks[("accepted/tickets__tickets", "data_freshness")]
    assert not data.passed and data.severity == dg.AssetCheckSeverity.WARN
    assert "2024-03-05 08:00" in (data.description or "") and "late" in data.description


def test_spill_and_temp_files_are_removed_after_a_run(tmp_path):
    from cx_insights.ops.housekeeping import clean_after_run

    settings = load_settings({"CX_WAREHOUSE": str(tmp_path / "cx.duckdb"), "CX_PII_SALT": "x"})
    spill = tmp_path / "cx.duckdb.tmp"
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"x" * 10)
    half = tmp_path / ".cx_marts.duckdb.123-abcd.tmp"
    half.write_bytes(b"x")
    keep = tmp_path / "cx.duckdb"
    keep.write_bytes(b"x")
    assert sorted(clean_after_run(settings)) == sorted([spill, half])
    assert not spill.exists() and not half.exists() and keep.exists()


# --- alerts -------------------------------------------------------------------


@pytest.fixture
def webhook():
    """A local HTTP stub that records the JSON bodies POSTed to it."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/hook", received=received)
    server.shutdown()


def _marts(path: Path) -> None:
    """The few marts the KPI alerts read: J1's NPS falls 40 points from September to
    October (n = 200 each), J2's CSAT falls 5 points on 20 answers (not significant),
    November is incomplete; C9 (top MRR) is a detractor in October."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.dim_month as select * from (values "
            "(date '2026-09-01', true), (date '2026-10-01', true), (date '2026-11-01', false)"
            ") as t(month_start_date, is_complete)"
        )
        con.execute(
            "create table marts.kpi_monthly as select * from (values "
            "(date '2026-09-01', 'journey', 'J1', 'nps', 40.0, 200, 30.0, 50.0), "
            "(date '2026-10-01', 'journey', 'J1', 'nps', 0.0, 200, -10.0, 10.0), "
            "(date '2026-11-01', 'journey', 'J1', 'nps', -90.0, 3, -100.0, 0.0), "
            "(date '2026-09-01', 'journey', 'J2', 'csat', 80.0, 20, null, null), "
            "(date '2026-10-01', 'journey', 'J2', 'csat', 75.0, 20, null, null)"
            ") as t(month, level, level_id, metric, value, n, ci_low, ci_high)"
        )
        con.execute(
            "create table marts.fct_customer_months as "
            "select 'C' || i as customer_id, date '2026-10-01' as month_start_date, "
            "cast(i * 100 as decimal(38, 18)) as mrr_end from range(1, 10) as r(i)"
        )
        con.execute(
            "create table marts.fct_survey_answers as select * from (values "
            "('R1', 'C9', timestamp '2026-10-05', date '2026-10-05', 'nps', 3, 'detractor', 'T1'), "
            "('R2', 'C1', timestamp '2026-10-06', date '2026-10-06', 'nps', 2, 'detractor', 'T1'), "
            "('R3', 'C9', timestamp '2026-10-07', date '2026-10-07', 'nps', 10, 'promoter', 'T1')"
            ") as t(response_id, customer_id, submitted_at, submitted_date, metric, "
            "value_number, nps_category, touchpoint_id)"
        )
        con.execute(
            "create table marts.dim_touchpoint as select 'T1' as touchpoint_id, 'J1' as journey_id"
        )
        con.execute(
            "create table marts.initiative_impact as select 'INI-1' as initiative_id, "
            "'Head of Care' as owner_name, 'J1' as journey_id, "
            "cast(null as varchar) as scope_journey_id"
        )


def test_kpi_alerts_are_sent_once_with_their_owner(tmp_path, webhook):
    from cx_insights.ops.alerts import deliver, kpi_alerts, run_failed_alert

    _marts(tmp_path / "m.duckdb")
    with duckdb.connect(str(tmp_path / "m.duckdb"), read_only=True) as con:
        alerts = kpi_alerts(con)
    assert [a.key for a in alerts] == [
        "kpi_drop:nps:J1:2026-10",
        "top_customer_detractor:R1",
    ]
    drop = alerts[0]
    assert drop.owner == "Head of Care" and drop.detail["ci_high"] < 0
    assert alerts[1].owner == "Head of Care" and alerts[1].detail["customer_id"] == "C9"
    outbox = tmp_path / "outbox"
    alerts.append(run_failed_alert("abcd1234", ["FAILED   step run: x"]))
    assert deliver(alerts, outbox, webhook.url) == alerts
    assert deliver(alerts, outbox, webhook.url) == []  # each alert once
    assert sorted(p.name for p in outbox.iterdir()) == [
        "kpi_drop_nps_J1_2026-10.json",
        "run_failed_abcd1234.json",
        "top_customer_detractor_R1.json",
    ]
    assert [b["key"] for b in webhook.received] == [a.key for a in alerts]
    saved = json.loads((outbox / "kpi_drop_nps_J1_2026-10.json").read_text())
    assert saved["delivered"] is True and saved["owner"] == "Head of Care"


def test_a_failed_run_alerts_once_to_the_outbox_and_the_webhook(env, monkeypatch, webhook):
    monkeypatch.setenv("CX_ALERT_WEBHOOK", webhook.url)
    monkeypatch.setattr(run, "materialize", lambda *a, **k: (_ for _ in ()).throw(OSError("x")))
    assert cli.main(["run", "--quiet"]) == 1
    [alert] = list((env.warehouse.parent / "outbox").iterdir())
    assert alert.name.startswith("run_failed_")
    assert [b["kind"] for b in webhook.received] == ["run_failed"]
    assert "FAILED   step run: OSError: x" in webhook.received[0]["detail"]["messages"]
    with pytest.raises(SettingsError, match="CX_ALERT_WEBHOOK"):
        load_settings({"CX_PII_SALT": "x", "CX_ALERT_WEBHOOK": "ftp://x"})
