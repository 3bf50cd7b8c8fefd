"""Compile check for Databricks (`make databricks-check`, part of `make test`).

dbt-databricks cannot be installed beside the project's pins (it needs dbt-spark
1.10 and pandas 2.2), so `make databricks-check` gives it a virtual environment
of its own and this script compiles the project twice, without a workspace or a
Spark session: with dbt-databricks (`CX_TARGET=databricks`) and with the
project's dbt-spark (`CX_TARGET=spark`). Every compiled model, test and unit
test must be the same SQL on both, relation names aside (Databricks names them
`catalog`.`schema`.`table`) and the run's start time: Databricks then runs
exactly the SQL that tests/test_spark_target.py proves equal to DuckDB's.

    python -m tests.databricks_compile --databricks-dbt .venv-databricks/bin/dbt
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cx_insights.config import DBT_PROJECT_DIR

#: `main`.`marts`.`kpi_monthly` (Databricks, catalog `main`) -> marts.kpi_monthly (Spark)
THREE_PART = re.compile(r"`[^`]+`\.`([^`]+)`\.`([^`]+)`")
#: The run's start (run_marker()): differs between any two compiles.
RUN_STARTED = re.compile(r"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}'")


def compile_project(dbt: str, target: str, out: Path) -> Path:
    """`dbt compile` for `target`, offline: no cache of the warehouse's relations and
    no introspective query (the project asks none of a table-only target)."""
    env = {
        **os.environ,
        "CX_TARGET": target,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "CX_SPARK_FILES": "/cx/spark/files",
    }
    command = [
        str(Path(dbt).absolute()),
        "compile",
        "--no-introspect",
        "--no-populate-cache",
        "--target-path",
        str(out / "target"),
        "--log-path",
        str(out / "logs"),
    ]
    done = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"dbt compile for {target} failed ({dbt}):\n{done.stdout[-4000:]}")
    return out / "target" / "compiled"


def normalised(path: Path) -> str:
    text = THREE_PART.sub(r"\1.\2", path.read_text())
    return RUN_STARTED.sub("'<run started>'", text)


def differences(spark: Path, databricks: Path) -> list[str]:
    """What differs between the two compiles, per file (empty when nothing does)."""
    found = []
    names = {p.relative_to(spark) for p in spark.rglob("*.sql")}
    others = {p.relative_to(databricks) for p in databricks.rglob("*.sql")}
    for name in sorted(names ^ others):
        found.append(f"{name}: compiled for {'Spark' if name in names else 'Databricks'} only")
    for name in sorted(names & others):
        a, b = normalised(spark / name), normalised(databricks / name)
        if a != b:
            diff = difflib.unified_diff(
                a.splitlines(keepends=True), b.splitlines(keepends=True), "spark", "databricks"
            )
            found.append(f"{name}:\n{''.join(list(diff)[:30])}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databricks-dbt", required=True, help="dbt of the dbt-databricks venv")
    parser.add_argument("--spark-dbt", default=str(Path(sys.executable).with_name("dbt")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cx-databricks-") as tmp:
        spark = compile_project(args.spark_dbt, "spark", Path(tmp) / "spark")
        databricks = compile_project(args.databricks_dbt, "databricks", Path(tmp) / "databricks")
        count = sum(1 for _ in databricks.rglob("*.sql"))
        found = differences(spark, databricks)
    if found:
        sys.exit(
            f"{len(found)} of {count} compiled files differ between Databricks and Spark:\n"
            + "\n".join(found[:20])
        )
    print(f"databricks-check: {count} compiled models and tests, the same SQL as on Spark")


if __name__ == "__main__":
    main()
