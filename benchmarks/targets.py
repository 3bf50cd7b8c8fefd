"""Benchmark: the same generated drop built on each target, timed, and compared.

Generates one landing directory with the project's generator, builds it with
`cx-insights run` on each target (DuckDB, PostgreSQL, Spark) in a fresh folder,
exports the marts, and compares every target's export with DuckDB's
(cx_insights.compare: rows equal, numbers to a relative 1e-9). Prints a table
of build and export seconds and whether the marts are equal.

    .venv/bin/python benchmarks/targets.py --customers 20000 --months 24
    CX_SPARK_MASTER=spark://127.0.0.1:7077 .venv/bin/python benchmarks/targets.py \\
        --customers 1000000 --targets duckdb spark

Not a test: nothing here asserts (tests/test_postgres_target.py and
tests/test_spark_target.py compare the targets on small drops in `make test`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent


def cli(args: list[str], landing: Path, warehouse: Path, target: str) -> float:
    env = {
        **os.environ,
        "CX_LANDING_DIR": str(landing),
        "CX_WAREHOUSE": str(warehouse),
        "CX_PII_SALT": "benchmark-salt",
        "CX_TARGET": target,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "cx-insights"), *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(
            f"{target}: cx-insights {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres", "spark"])
    parser.add_argument("--keep", action="store_true", help="keep the folders")
    args = parser.parse_args()

    from cx_insights.compare import compare_exports

    root = Path(tempfile.mkdtemp(prefix="cx-targets-"))
    root.chmod(0o755)  # PostgreSQL's server account must be able to enter it
    landing = root / "landing"
    try:
        cli(
            ["generate", "--out", str(landing), "--customers", str(args.customers),
             "--months", str(args.months), "--seed", "20"],
            landing, root / "unused.duckdb", "duckdb",
        )  # fmt: skip
        rows = []
        exports: dict[str, Path] = {}
        for target in args.targets:
            warehouse = root / target / "cx.duckdb"
            build = cli(["run", "--quiet"], landing, warehouse, target)
            out = root / target / "export"
            export = cli(["export", "--out", str(out)], landing, warehouse, target)
            exports[target] = out
            if target == "postgres":
                cli(["postgres", "stop"], landing, warehouse, target)
            rows.append((target, build, export))
        print(
            f"\n{args.customers:,} customers x {args.months} months, {date.today()}, "
            f"{platform.machine()} {os.cpu_count()} cores, "
            f"Spark master {os.environ.get('CX_SPARK_MASTER') or 'local[2]'}"
        )
        print("| target | first build (s) | export (s) | marts equal to DuckDB's |")
        print("|---|---|---|---|")
        for target, build, export in rows:
            if target == "duckdb" or "duckdb" not in exports:
                same = "-"
            else:
                differences = compare_exports(exports["duckdb"], exports[target])
                same = "yes" if not differences else f"NO: {sorted(differences)}"
            print(f"| {target} | {build:.0f} | {export:.0f} | {same} |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
