"""dbt's unit tests (`unit_tests:` next to the models they pin), in the fast tier.

A unit test needs its model's parents to exist (for their column types), not
their rows: the accepted tables are created empty from the contract, the
parents are built with `--empty`, then `dbt test --select test_type:unit` runs
every unit test on its given rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cx_insights.config import DBT_PROJECT_DIR
from cx_insights.contract import ENTITIES, accepted_table_ddl
from cx_insights.quality.gate import WAITING_DDL
from cx_insights.warehouse import connect


def _dbt(args: list[str], warehouse: Path, target: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CX_WAREHOUSE": str(warehouse),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    return subprocess.run(
        [dbt, *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


def test_every_dbt_unit_test_passes(tmp_path):
    warehouse = tmp_path / "cx.duckdb"
    with connect(warehouse) as con:
        con.execute("create schema if not exists raw")
        for e in ENTITIES:
            con.execute(accepted_table_ddl(e))
        con.execute(WAITING_DDL)
    target = tmp_path / "target"
    built = _dbt(["run", "--select", "+test_type:unit", "--empty", "-q"], warehouse, target)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    tested = _dbt(["--no-use-colors", "test", "--select", "test_type:unit"], warehouse, target)
    assert tested.returncode == 0, tested.stdout[-6000:]
    summary = re.search(r"Done\. PASS=(\d+) WARN=\d+ ERROR=(\d+)", tested.stdout)
    assert summary and int(summary[1]) > 0 and summary[2] == "0", tested.stdout[-3000:]
