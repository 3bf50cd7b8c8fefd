"""Benchmark: speed, memory and scaling of the whole pipeline.

For each size (customers) it generates a landing directory with the project's
generator, runs the pipeline stage by stage on a fresh warehouse (each stage a
`cx-insights run --select ...` subprocess, so the numbers are what a user
sees), then one incremental daily drop, and prints a table: rows per entity,
wall time per stage, peak memory (RSS summed over the whole process tree,
sampled every 100 ms) and the warehouse file size. Side by side it computes
the same company-level monthly KPIs (a) with one hand-written DuckDB SQL
script over the landing files and (b) with a plain pandas script, and prints
the ratio pipeline / baseline.

    .venv/bin/python benchmarks/run.py --sizes 10000 100000 1000000

Not a test: nothing here asserts. Results also go to benchmarks/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OUT = ROOT / "benchmarks" / "out"

STAGES: list[tuple[str, str]] = [
    ("ingest", "group:ingest"),
    ("quality gate", "group:quality"),
    ("dbt", "group:staging or group:intermediate or group:marts"),
    ("insights", "group:insights"),
    ("report", "group:report"),
]


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


@dataclass
class Measured:
    seconds: float
    peak_rss: int
    returncode: int
    output: str = ""


def measure(cmd: list[str], env: dict[str, str]) -> Measured:
    """Run a command, sampling the RSS of its process tree every 100 ms."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    stop.set()
    sampler.join()
    return Measured(time.monotonic() - started, peak, proc.returncode, output[-4000:])


@dataclass
class SizeResult:
    customers: int
    rows: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0
    stages: dict[str, Measured] = field(default_factory=dict)
    incremental: dict[str, Measured] = field(default_factory=dict)
    warehouse_bytes: int = 0
    baseline_sql: Measured | None = None
    baseline_pandas: Measured | None = None
    startup: Measured | None = None
    #: The slowest dbt nodes of the full and the incremental build: kind -> [(node, s)].
    slowest: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)


def run_size(customers: int, seed: int, months: int, keep: bool, pandas_max: int) -> SizeResult:
    from cx_insights.generate import add_daily_drop, generate

    work = OUT / f"c{customers}"
    shutil.rmtree(work, ignore_errors=True)
    landing, warehouse = work / "landing", work / "warehouse" / "cx.duckdb"
    res = SizeResult(customers)
    t = time.monotonic()
    res.rows = generate(landing, customers=customers, seed=seed, months=months)
    res.generate_s = time.monotonic() - t
    env = {
        **os.environ,
        "CX_LANDING_DIR": str(landing),
        "CX_WAREHOUSE": str(warehouse),
        "CX_PII_SALT": "benchmark",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    cli = str(BIN / "cx-insights")
    # What every stage pays before doing any work: starting Python and importing
    # Dagster, dbt's adapter and the definitions (each stage runs in its own process).
    res.startup = measure([sys.executable, "-c", "import orchestration.definitions"], env)
    for name, selection in STAGES:
        res.stages[name] = m = measure([cli, "run", "--select", selection], env)
        print(
            f"  {customers:>9,} {name:<14} {m.seconds:8.1f} s  {m.peak_rss / 2**30:5.2f} GiB"
            f"  rc={m.returncode}",
            flush=True,
        )
        if m.returncode != 0:
            print(m.output)
        if name == "dbt":
            res.slowest["full"] = slowest_dbt_nodes(warehouse)
            print_slowest(customers, "full build", res.slowest["full"])
    print_shares(customers, res.stages)
    res.warehouse_bytes = warehouse.stat().st_size if warehouse.exists() else 0
    res.baseline_sql = measure(
        [sys.executable, str(ROOT / "benchmarks" / "baseline_sql.py"), str(landing)], env
    )
    if customers <= pandas_max:
        res.baseline_pandas = measure(
            [sys.executable, str(ROOT / "benchmarks" / "baseline_pandas.py"), str(landing)], env
        )
    # One new daily drop, then the whole graph again (the incremental run).
    add_daily_drop(landing, seed=seed + 1, day=_day_after(landing))
    res.incremental["all"] = m = measure([cli, "run"], env)
    print(
        f"  {customers:>9,} {'incremental':<14} {m.seconds:8.1f} s  "
        f"{m.peak_rss / 2**30:5.2f} GiB  rc={m.returncode}",
        flush=True,
    )
    res.slowest["incremental"] = slowest_dbt_nodes(warehouse)
    print_slowest(customers, "incremental run", res.slowest["incremental"])
    full = sum(s.seconds for s in res.stages.values())
    if full:
        print(f"  {customers:>9,} incremental run = {100 * m.seconds / full:.0f} % of a full build")
    if not keep:
        shutil.rmtree(landing, ignore_errors=True)
    return res


#: How many of the slowest dbt models and tests the benchmark prints.
SLOWEST = 15


def slowest_dbt_nodes(warehouse: Path, top: int = SLOWEST) -> dict[str, list[tuple[str, float]]]:
    """The slowest models and tests (data and unit tests) of the last dbt invocation on
    this warehouse, from dbt's run_results.json in the warehouse's dbt target folder."""
    path = warehouse.parent / "dbt_target" / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text()).get("results", [])
    kinds: dict[str, list[tuple[str, float]]] = {"models": [], "tests": []}
    for r in results:
        node = r["unique_id"]
        kind = "models" if node.startswith("model.") else "tests"
        if node.startswith(("model.", "test.", "unit_test.")):
            kinds[kind].append((node.split(".", 2)[-1], float(r.get("execution_time") or 0.0)))
    return {k: sorted(v, key=lambda x: -x[1])[:top] for k, v in kinds.items()}


def print_slowest(customers: int, label: str, slowest: dict[str, list[tuple[str, float]]]) -> None:
    for kind, nodes in slowest.items():
        total = sum(s for _, s in nodes)
        print(f"  {customers:>9,} slowest dbt {kind} ({label}; top {len(nodes)}: {total:.1f} s)")
        for node, seconds in nodes:
            print(f"  {'':>9} {seconds:8.1f} s  {node}")


def print_shares(customers: int, stages: dict[str, Measured]) -> None:
    total = sum(m.seconds for m in stages.values())
    if not total:
        return
    shares = ", ".join(f"{name} {100 * m.seconds / total:.0f} %" for name, m in stages.items())
    print(f"  {customers:>9,} share of the full build: {shares}")


def _day_after(landing: Path) -> date:
    """The day after the newest event of the generated data (read from the fx file names)."""
    import duckdb

    files = str(landing / "web" / "events" / "*")
    with duckdb.connect() as con:
        newest = con.execute(
            f"select max(cast(occurred_at as timestamptz))::date from read_parquet('{files}')"
            if any((landing / "web" / "events").glob("*.parquet"))
            else f"select max(cast(occurred_at as timestamptz))::date from read_csv('{files}')"
        ).fetchone()[0]
    return date.fromordinal(newest.toordinal() + 1)


def print_table(results: list[SizeResult]) -> str:
    lines = []
    head = (
        "| customers | rows landed | process start s | ingest s | gate s | dbt s | insights s "
        "| report s | total s | peak RSS GiB | warehouse MiB | incremental s | SQL baseline s "
        "| pandas baseline s | pipeline / SQL |"
    )
    lines.append(head)
    lines.append("|" + "---|" * (head.count("|") - 1))
    for r in results:
        total = sum(m.seconds for m in r.stages.values())
        peak = max([m.peak_rss for m in r.stages.values()] + [0])
        inc = r.incremental.get("all")
        ok_sql = r.baseline_sql and r.baseline_sql.returncode == 0
        ok_pd = r.baseline_pandas and r.baseline_pandas.returncode == 0
        sql = r.baseline_sql.seconds if ok_sql else float("nan")  # nan: the baseline failed
        pdm = r.baseline_pandas.seconds if ok_pd else float("nan")  # nan: failed or skipped
        company = (
            r.stages["ingest"].seconds + r.stages["quality gate"].seconds + r.stages["dbt"].seconds
        )
        lines.append(
            f"| {r.customers:,} | {sum(r.rows.values()):,} | "
            f"{r.startup.seconds if r.startup else float('nan'):.1f} | "
            + " | ".join(f"{r.stages[s].seconds:.1f}" for s, _ in STAGES)
            + f" | {total:.1f} | {peak / 2**30:.2f} | {r.warehouse_bytes / 2**20:.0f} | "
            f"{inc.seconds if inc else float('nan'):.1f} | {sql:.1f} | {pdm:.1f} | "
            f"{company / sql if sql else float('nan'):.1f}x |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--keep", action="store_true", help="keep the generated landing data")
    parser.add_argument(
        "--pandas-max-customers",
        type=int,
        default=100_000,
        help="skip the pandas baseline above this size: it reads each whole table into "
        "one frame (128 s at 100 k customers; at 1 M, 50 M events in one frame)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    )
    results = []
    for customers in args.sizes:
        results.append(
            run_size(customers, args.seed, args.months, args.keep, args.pandas_max_customers)
        )
    table = print_table(results)
    (OUT / "results.md").write_text(table + "\n")
    (OUT / "results.json").write_text(
        json.dumps(
            [
                {
                    "customers": r.customers,
                    "rows": r.rows,
                    "generate_s": r.generate_s,
                    "stages": {k: vars(v) | {"output": ""} for k, v in r.stages.items()},
                    "incremental": {k: vars(v) | {"output": ""} for k, v in r.incremental.items()},
                    "warehouse_bytes": r.warehouse_bytes,
                    "baseline_sql_s": r.baseline_sql.seconds if r.baseline_sql else None,
                    "baseline_pandas_s": r.baseline_pandas.seconds if r.baseline_pandas else None,
                    "slowest_dbt_nodes": r.slowest,
                }
                for r in results
            ],
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
