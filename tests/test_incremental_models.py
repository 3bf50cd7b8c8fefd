"""The incremental models (web sessions, touchpoint assignments, scored answers,
converted invoices, customer-months, the survey, web session, invoice,
customer-month and MRR movement marts) equal a full refresh after every drop,
and the proof is not vacuous: deliberate mutants of their incremental logic
fail it.

Both run tests/incremental_proof.py in a subprocess (dbt in-process there,
without touching this process's dbt or DuckDB state).
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.incremental_proof import MUTANTS, same_rows

ROOT = Path(__file__).resolve().parent.parent


def _proof(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.incremental_proof", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow  # about a minute: dbt runs twice per step
def test_incremental_runs_equal_a_full_refresh_after_every_drop():
    done = _proof("--seeds", "1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "designed scenario: 12 steps, incremental == full refresh" in done.stdout
    assert "random 0 scenario: 5 steps, incremental == full refresh" in done.stdout


@pytest.mark.slow  # a minute or two: the project's own cluster, dbt on it and on DuckDB per step
def test_incremental_runs_equal_a_full_refresh_on_postgresql():
    done = _proof("--postgres")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert (
        "designed scenario on postgres: 12 steps, incremental == full refresh (on DuckDB)"
        in done.stdout
    )


@pytest.mark.slow  # 10-25 minutes (beside the Spark proofs): a copy of the project each
def test_every_mutant_of_the_incremental_logic_is_caught():
    done = _proof("--mutants", timeout=2700)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    caught = [line for line in done.stdout.splitlines() if line.startswith("mutant caught: ")]
    assert len(caught) == len(MUTANTS) == 26, done.stdout[-4000:]


@pytest.mark.slow  # half a minute: dbt test twice per planted row
def test_the_key_tests_read_the_keys_written_since_the_last_tested_run():
    """A duplicate written after the last run whose tests passed fails the key test of
    each incremental model; one written before it (that run would have failed) is not
    looked at again, and the test of every key (no run log: dbt by hand) finds it."""
    done = _proof("--key-tests")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert (
        "key tests: 5 models with a marker and 7 without, planted duplicates found" in done.stdout
    )


@pytest.mark.slow  # two to three minutes: dbt once or twice per step, a publish after each
def test_the_published_file_follows_the_incremental_marts_by_their_written_keys():
    """cx_insights.serve.publish replaces an incremental mart's published rows by the
    keys written since the last publish (cx_insights/written_keys.py): after every drop
    of the designed scenario (every other one after a run of the upstream alone) the
    published file equals the marts, without falling back to comparing every row;
    after a full refresh the marts that note it fall back."""
    done = _proof("--publish")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "publish: 12 steps, published == marts;" in done.stdout, done.stdout[-2000:]


def test_rows_of_two_engines_compare_as_numbers_in_any_order():
    """How the PostgreSQL and Spark proofs compare their rows with DuckDB's."""
    assert same_rows([(1, Decimal("2.50"), "a")], [(1, 2.5, "a")])
    assert same_rows([(2, "b"), (1, "a")], [(1, "a"), (2, "b")])
    assert same_rows([(0.1 + 0.2,)], [(0.3,)])
    assert not same_rows([(0.3001,)], [(0.3,)])
    assert not same_rows([(1, 2.5, "a")], [(1, 2.5, "b")])
    assert not same_rows([(1,)], [(1,), (1,)])
    assert not same_rows([(None,)], [(0,)])
