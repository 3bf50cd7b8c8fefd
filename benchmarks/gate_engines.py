"""Benchmark: the quality gate in DuckDB and as Spark SQL, on the same landed rows.

Generates a landing directory (or takes `--landing`), loads it once into a DuckDB
file, copies that file twice and gates every entity (`force`: every row) once
with the DuckDB gate and once with the Spark gate (`cx_insights.quality.spark_gate`,
on a local session or `--master spark://host:7077`, or on a standalone cluster of
`--standalone-workers` started here). Prints a table of seconds per entity (the
Spark gate's steps too: hand-over of the landed rows, quarantine, accepted, read
back) and whether every quarantine and accepted table is equal (rows compared
with EXCEPT ALL both ways, the gate's own timestamps aside).

    .venv/bin/python benchmarks/gate_engines.py --customers 100000
    .venv/bin/python benchmarks/gate_engines.py --customers 100000 --standalone-workers 2

Not a test: nothing here asserts (tests/test_spark_gate.py compares the two gates
on hostile input in `make test`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.targets import standalone_cluster  # noqa: E402
from cx_insights import spark  # noqa: E402
from cx_insights.config import load_settings  # noqa: E402
from cx_insights.contract import ENTITIES, accepted_table, entity  # noqa: E402
from cx_insights.ingest.loader import load_entity  # noqa: E402
from cx_insights.quality.gate import gate_order, run_gate  # noqa: E402
from cx_insights.quality.rules import GateOptions  # noqa: E402
from cx_insights.quality.spark_gate import SparkGate  # noqa: E402
from cx_insights.warehouse import connect, quote_ident  # noqa: E402

STEPS = ("hand_over", "quarantine", "accepted", "take_back")


def gate_all(warehouse: Path, spark: SparkGate | None) -> dict[str, dict[str, float]]:
    times: dict[str, dict[str, float]] = {}
    options = GateOptions(pii_salt="benchmark")
    with connect(warehouse) as con:
        for q in gate_order():
            started = time.monotonic()
            run_gate(con, entity(q), options, force=True, spark=spark)
            times[q] = {"total": time.monotonic() - started, **(spark.timings if spark else {})}
    return times


def differing(a: Path, b: Path) -> tuple[int, int]:
    """(tables that differ, rows compared) between two gated DuckDB files."""
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    tables, rows = 0, 0
    for e in ENTITIES:
        for schema, table in (("quarantine", e.qualified), ("raw", accepted_table(e))):
            cols = [
                quote_ident(c)
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog = 'a' "
                    "and table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in ("_gated_at", "_quarantined_at")
            ]
            listed = ", ".join(cols)
            one, other = f"a.{schema}.{table}", f"b.{schema}.{table}"
            diff = con.execute(
                f"select count(*) from ((select {listed} from {one} except all "
                f"select {listed} from {other}) union all (select {listed} from {other} "
                f"except all select {listed} from {one}))"
            ).fetchone()[0]
            rows += con.execute(f"select count(*) from {one}").fetchone()[0]
            tables += diff > 0
    return tables, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--landing", type=Path, help="gate this landing instead of a generated one")
    parser.add_argument("--master", help="CX_SPARK_MASTER (default: local[2])")
    parser.add_argument("--standalone-workers", type=int, default=0)
    parser.add_argument("--worker-memory", default="3g")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cx-gate-engines-"))
    try:
        landing = args.landing
        if landing is None:
            from cx_insights.generate import generate

            landing = work / "landing"
            generate(landing, customers=args.customers, seed=11, months=args.months)
        base = work / "loaded.duckdb"
        started = time.monotonic()
        with connect(base) as con:
            for q in gate_order():
                load_entity(con, landing, entity(q))
            landed = sum(
                con.execute(f"select count(*) from raw.{q}").fetchone()[0] for q in gate_order()
            )
        load_s = time.monotonic() - started
        for name in ("duckdb", "spark"):
            (work / name).mkdir()
            shutil.copy(base, work / name / "cx.duckdb")

        duck = gate_all(work / "duckdb" / "cx.duckdb", None)
        cluster = (
            standalone_cluster(args.standalone_workers, work / "cluster", args.worker_memory)
            if args.standalone_workers
            else nullcontext(args.master)
        )
        with cluster as master:
            if master:
                os.environ["CX_SPARK_MASTER"] = master
            settings = load_settings(
                {
                    "CX_WAREHOUSE": str(work / "spark" / "cx.duckdb"),
                    "CX_PII_SALT": "benchmark",
                    "CX_TARGET": "spark",
                }
            )
            # As in a run: the gate talks to the run's Connect server on the master.
            started = time.monotonic()
            with spark.connect_server(settings):
                gate = SparkGate.for_settings(settings)
                session_s = time.monotonic() - started
                on_spark = gate_all(work / "spark" / "cx.duckdb", gate)
        tables, rows = differing(work / "duckdb" / "cx.duckdb", work / "spark" / "cx.duckdb")

        where = os.environ.get("CX_SPARK_MASTER") or "local[2]"
        print(
            f"\nquality gate, DuckDB vs Spark ({where}); {date.today()}, "
            f"{os.cpu_count()} cores, {platform.machine()}; {landed:,} landed rows "
            f"(loaded once in {load_s:.1f} s); Spark Connect server and session up in "
            f"{session_s:.1f} s\n"
        )
        print(f"| entity | DuckDB (s) | Spark (s) | {' | '.join(STEPS)} |")
        print(f"|---|---:|---:|{'---:|' * len(STEPS)}")
        for q in sorted(duck, key=lambda q: -on_spark[q]["total"]):
            steps = " | ".join(f"{on_spark[q].get(s, 0):.1f}" for s in STEPS)
            print(f"| {q} | {duck[q]['total']:.1f} | {on_spark[q]['total']:.1f} | {steps} |")
        total_d = sum(t["total"] for t in duck.values())
        total_s = sum(t["total"] for t in on_spark.values())
        sums = " | ".join(f"{sum(t.get(s, 0) for t in on_spark.values()):.1f}" for s in STEPS)
        print(f"| **all** | {total_d:.1f} | {total_s:.1f} | {sums} |")
        print(
            f"\nquarantine and accepted tables equal: "
            f"{'yes' if tables == 0 else f'NO ({tables} differ)'} ({rows:,} rows compared)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
