"""The dbt step never leaves dbt running behind it (it would hold the warehouse file),
and builds again, one node at a time, what failed only for DuckDB's memory limit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from orchestration.defs.transform.assets import memory_retry_selection, stop_process
from tests.conftest import run_cli


def test_stop_process_interrupts_a_running_process_and_waits_for_it():
    # The child says when it runs: a SIGINT that lands while the interpreter is still
    # starting may be missed, and a loaded CI machine must not turn that into a kill.
    # It also restores Python's SIGINT handler and unblocks SIGINT: a child inherits
    # an ignored or blocked SIGINT from the test process (a run started in the
    # background, a library that blocks it), and would then be killed after the
    # timeout, as stop_process is meant to do, failing the test for its surroundings.
    code = (
        "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"
    stop_process(process, timeout=30)
    # Ended by the interrupt (Python re-raises SIGINT: -2), not killed (-9), waited for.
    assert process.returncode == -2


def test_stop_process_kills_a_process_that_ignores_the_interrupt():
    code = (
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == b"ready"
    stop_process(process, timeout=0.5)
    assert process.returncode == -9


def test_stop_process_leaves_a_finished_process_alone():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    stop_process(process)
    assert process.returncode == 0


def _results(path: Path, *nodes: tuple[str, str, str]) -> Path:
    """A run_results.json with (unique_id, status, message) results."""
    results = [{"unique_id": u, "status": s, "message": m} for u, s, m in nodes]
    path.write_text(json.dumps({"results": results}))
    return path


OOM = "Runtime Error\n  Out of Memory Error: failed to pin block of size 256.0 KiB (4.0 GiB used)"


def test_memory_failures_are_built_again_with_what_was_skipped_for_them(tmp_path):
    path = _results(
        tmp_path / "run_results.json",
        ("model.cx_insights.int_a", "error", OOM),
        ("model.cx_insights.int_b", "error", OOM),
        ("test.cx_insights.not_null_int_a_x.0a1b2c", "skipped", ""),
        ("model.cx_insights.kpi_monthly", "skipped", ""),
        ("model.cx_insights.int_c", "success", "OK"),
        ("test.cx_insights.unique_int_c_id.9f8e7d", "pass", ""),
        ("operation.cx_insights.cx_insights-on-run-start-0", "success", ""),
    )
    assert memory_retry_selection(path) == [
        "int_a",
        "int_b",
        "kpi_monthly",
        "not_null_int_a_x",
    ]


def test_any_other_failure_is_not_built_again(tmp_path):
    # A failing test, a SQL error beside a memory error, a clean build, no results:
    # building again would not help (or there is nothing to build).
    failing_test = ("test.cx_insights.unique_int_c_id.9f8e7d", "fail", "Got 3 results")
    sql_error = ("model.cx_insights.int_c", "error", "Binder Error: column x not found")
    oom = ("model.cx_insights.int_a", "error", OOM)
    assert memory_retry_selection(_results(tmp_path / "a.json", oom, failing_test)) == []
    assert memory_retry_selection(_results(tmp_path / "b.json", oom, sql_error)) == []
    assert memory_retry_selection(_results(tmp_path / "c.json", ("m.p.x", "success", ""))) == []
    assert memory_retry_selection(tmp_path / "missing.json") == []


def test_a_model_out_of_memory_is_built_again_alone_and_its_error_reported(sample_build, tmp_path):
    # A memory limit no build of this model fits in (16 MB: enough for the run's own
    # connections, not for the session aggregate): the step builds it again in a new
    # dbt process with one thread, its tests with it, and fails with that error.
    warehouse = tmp_path / "cx.duckdb"
    shutil.copy2(sample_build.warehouse, warehouse)
    model = "int_session_metrics_aggregated"
    done = run_cli(
        ["run", "--select", f"key:intermediate/{model}"],
        sample_build.landing,
        warehouse,
        CX_DUCKDB_MEMORY_LIMIT="16MB",
    )
    assert done.returncode != 0
    target = tmp_path / "dbt_target"
    first = json.loads((target / "run_results.json").read_text())
    retry = json.loads((target / "memory_retry" / "run_results.json").read_text())
    status = {r["unique_id"].split(".")[2]: r["status"] for r in first["results"]}
    assert status[model] == "error"
    assert retry["args"]["threads"] == 1
    assert sorted(retry["args"]["select"]) == sorted(
        n for n, s in status.items() if s in ("error", "skipped")
    )
    assert len(retry["args"]["select"]) > 1  # the model's tests, skipped the first time
    assert f"--threads 1 --target duckdb --select {model}" in done.stdout + done.stderr
    assert "Out of Memory Error" in done.stdout + done.stderr
