"""The dbt step never leaves dbt running behind it (it would hold the warehouse file)."""

from __future__ import annotations

import subprocess
import sys

from orchestration.defs.transform.assets import stop_process


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
