"""A run killed at any point leaves the warehouse consistent; the next run completes
the work and gives the same marts as an uninterrupted run.

One warehouse is killed at every stage in turn (about 4 minutes instead of three
full builds after three separate kills, about 10)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from cx_insights.config import SAMPLE_LANDING_DIR
from tests.conftest import CLI, run_cli
from tests.test_end_to_end import table_digests


def _group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no process of group `pgid` is left: the run's children (Dagster's step
    processes, dbt) die after its main process, and one still holding the DuckDB file
    would make the next run fail on the lock instead of resuming."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _kill_when(marker: str, landing: Path, warehouse: Path) -> tuple[bool, str]:
    """Start a run and SIGKILL its whole process group once `marker` is logged; (killed,
    the end of what the run logged, to say why when the marker never came)."""
    env = {
        **os.environ,
        "CX_LANDING_DIR": str(landing),
        "CX_WAREHOUSE": str(warehouse),
        "CX_PII_SALT": "test-salt",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    proc = subprocess.Popen(
        [CLI, "run", "--verbose"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    killed = False
    deadline = time.monotonic() + 300
    tail: deque[str] = deque(maxlen=40)
    assert proc.stderr is not None
    for line in proc.stderr:
        tail.append(line)
        if marker in line and "STEP_START" in line:
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        if time.monotonic() > deadline:
            break
    if not killed:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _group_gone(proc.pid)
    return killed, "".join(tail)


def _marts(digests: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in digests.items() if k.startswith("marts.")}


#: Where the runs below are killed, in order: while files load, while the gate
#: checks answers, while dbt builds the models.
KILL_POINTS = ("raw__web__events", "accepted__feedback__answers", "cx_dbt_models")


def test_runs_killed_at_each_stage_then_a_rerun_equals_uninterrupted(sample_build, tmp_path):
    """One warehouse, killed three times in a row: during ingestion, then (by the run
    that resumes it) during the gate, then during dbt. Each killed run starts from
    what the one before left; the run after them gives the uninterrupted marts."""
    warehouse = tmp_path / "w" / "cx.duckdb"
    for marker in KILL_POINTS:
        killed, tail = _kill_when(marker, SAMPLE_LANDING_DIR, warehouse)
        assert killed, f"never reached {marker}; the run logged last:\n{tail}"
    rerun = run_cli(["run"], SAMPLE_LANDING_DIR, warehouse)
    assert rerun.returncode == 0, rerun.stderr
    assert _marts(table_digests(warehouse)) == _marts(table_digests(sample_build.warehouse))
