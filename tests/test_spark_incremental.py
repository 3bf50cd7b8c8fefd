"""The incremental models on Spark (Parquet: no DELETE or MERGE, so the project
replaces rows by key with a rewrite of the table, macros/incremental/spark_rewrite.sql)
equal a full refresh after every drop of the designed scenario (DuckDB's, of the
same accepted rows: half the Spark runs), and mistakes in the Spark-only
statements fail that proof.

Run by tests/incremental_proof.py --spark in a subprocess of its own: its local
Spark session (one JVM, one metastore) lives and dies with that process. A file
of its own, so that pytest-xdist runs it beside the other proofs.
"""

from __future__ import annotations

import pytest

from tests.incremental_proof import SPARK_MUTANTS
from tests.test_incremental_models import _proof


@pytest.mark.slow  # about 7 minutes on 2 cores: a dbt run on Spark and one on DuckDB per step
def test_incremental_runs_on_spark_equal_a_full_refresh_after_every_drop():
    done = _proof("--spark", timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert (
        "designed scenario on spark: 12 steps, incremental == full refresh (on DuckDB)"
        in done.stdout
    )


@pytest.mark.slow  # about 3 minutes
def test_a_mutant_of_the_spark_rewrite_is_caught():
    """The rewrite keeping the rows it should replace. The first two drops are enough:
    the second one updates rows by key. (The other of SPARK_MUTANTS, a delete that
    deletes nothing, is caught the same way, at step 1; it is left to
    `python -m tests.incremental_proof --spark --steps 2 --mutant 'deletes nothing'`
    to keep `make test` within CI's time.)"""
    mutant = "spark keeps the replaced rows"
    assert mutant in SPARK_MUTANTS
    done = _proof("--spark", "--steps", "2", "--mutant", mutant, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert f"mutant caught on spark: {mutant}" in done.stdout
