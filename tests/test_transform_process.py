"""The dbt step never leaves dbt running behind it (it would hold the warehouse file)."""

from __future__ import annotations

import subprocess
import sys
import time

from orchestration.defs.transform.assets import stop_process


def test_stop_process_interrupts_a_running_process_and_waits_for_it():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    stop_process(process, timeout=10)
    assert process.returncode is not None
    assert time.monotonic() - started < 10


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
