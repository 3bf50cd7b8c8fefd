"""Same input, same bits: build one generated drop twice, from scratch, into two
warehouses and compare every staging, intermediate and mart table.

The sample is too small to show it: DuckDB adds a float column in whatever order
its threads deliver the rows, and on one thread that order never changes. On a
100k-customer drop it did (churn snapshots, revenue at risk, the calibration
table differed in their last bits between two runs of the same code), which is
why sums of measured values go through exact decimals. This script is how that
was found and how it is checked again; it takes about 12 minutes at 100k on two
cores.

    .venv/bin/python benchmarks/determinism.py --customers 100000

With `--daily-drop`, the same check for the incremental models at scale: the first
warehouse is built, then a daily drop (`add_daily_drop`, as `make benchmark` adds)
lands and it runs again, incrementally; the second is built from scratch on the
landing folder with the drop. Every table must be the same: what the incremental
models kept and recomputed equals what a full build computes.

Prints one line per table (rows, digest, same or DIFFERENT) and exits 1 when any
table differs. Columns that record when a row was loaded or gated are left out:
they differ between two builds by design.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

#: Column names that hold the time of the build, not data.
BUILD_TIME_MARKERS = (
    "_gated_at",
    "_loaded_at",
    "_sessionised_at",
    "_written_at",
    "_subject_marker",
    "built_at",
    "computed_at",
    "generated_at",
)


def cli(*args: str, env: dict[str, str] | None = None) -> None:
    command = [str(Path(sys.executable).parent / "cx-insights"), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:1])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def digests(warehouse: Path) -> dict[str, tuple[int, str]]:
    """(rows, sha256 of the sorted rows) of every staging, intermediate and mart table."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts') "
            "and table_type = 'BASE TABLE' and not starts_with(table_name, '_') "
            "order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if not any(marker in name for marker in BUILD_TIME_MARKERS)
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {listed} from {schema}."{table}" order by all').fetchall()
            out[f"{schema}.{table}"] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="folder to keep the drop and warehouses in")
    parser.add_argument(
        "--daily-drop",
        action="store_true",
        help="first build + a daily drop run incrementally against a build from scratch",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="cx-determinism-"))
    landing = work / "landing"
    if not landing.exists():
        cli(
            "generate",
            "--out",
            str(landing),
            "--customers",
            str(args.customers),
            "--seed",
            str(args.seed),
        )
    builds = []
    for name in ("first", "second"):
        warehouse = work / name / "cx.duckdb"
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CX_LANDING_DIR": str(landing), "CX_WAREHOUSE": str(warehouse)}
        started = time.perf_counter()
        cli("run", env=env)
        print(f"{name} build: {time.perf_counter() - started:.0f} s", flush=True)
        if args.daily_drop and name == "first":
            from run import _day_after  # benchmarks/run.py, beside this script

            from cx_insights.generate import add_daily_drop

            add_daily_drop(landing, seed=args.seed + 1, day=_day_after(landing))
            started = time.perf_counter()
            cli("run", env=env)
            print(f"first build's daily drop: {time.perf_counter() - started:.0f} s", flush=True)
        builds.append(digests(warehouse))

    first, second = builds
    differ = 0
    print(f"{'table':60} {'rows':>10}  result")
    for table in sorted(set(first) | set(second)):
        a, b = first.get(table), second.get(table)
        same = a == b
        differ += not same
        rows = a[0] if a else b[0]
        print(f"{table:60} {rows:>10,}  {'same' if same else 'DIFFERENT'}")
    print(f"{len(first)} tables, {differ} different ({args.customers:,} customers, in {work})")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
