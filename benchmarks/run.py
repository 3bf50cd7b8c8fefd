"""Benchmark: speed, memory and scaling of the whole pipeline.

For each size (customers) it generates a landing directory with the project's
generator, runs the whole graph as one `cx-insights run` on a new warehouse (as
a user runs it: one process, so Python, Dagster and dbt start once), then adds
one daily drop and runs it again (the incremental run). It prints a table: rows
landed, wall time of both runs split into stages (from the run's Dagster step
timings and dbt's run_results.json), peak memory (RSS summed over the whole
process tree, sampled every 100 ms) and the warehouse file size, and the
slowest dbt models and tests of each run. Side by side it computes the same
company-level monthly KPIs (a) with one hand-written DuckDB SQL script over the
landing files and (b) with a plain pandas script, and prints the ratio of the
whole run to the SQL script.

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
from datetime import date, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OUT = ROOT / "benchmarks" / "out"

#: The stages a run's time is split into: each Dagster step's stage (the progress
#: lines' stages), and inside the dbt step the insight models (churn, drivers,
#: verbatims, financial links, initiatives: `models/*/insights/`) apart from the
#: other models and the dbt tests.
STAGES = ("ingest", "quality gate", "dbt models", "dbt tests", "insights", "report")


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
    #: When the peak was sampled (epoch seconds): peak_where() names the step.
    peak_at: float = 0.0
    #: Every sample: (epoch seconds, tree RSS bytes), for stage_memory().
    samples: list[tuple[float, int]] = field(default_factory=list, repr=False)


def measure(cmd: list[str], env: dict[str, str]) -> Measured:
    """Run a command, sampling the RSS of its process tree every 100 ms."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak, peak_at = 0, 0.0
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_at
        while not stop.is_set():
            rss = tree_rss_bytes(proc.pid)
            samples.append((time.time(), rss))
            if rss > peak:
                peak, peak_at = rss, samples[-1][0]
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    stop.set()
    sampler.join()
    return Measured(
        time.monotonic() - started, peak, proc.returncode, output[-4000:], peak_at, samples
    )


@dataclass
class SizeResult:
    customers: int
    rows: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0
    #: One whole `cx-insights run` on a new warehouse, and one after a daily drop.
    full: Measured | None = None
    incremental: Measured | None = None
    #: Seconds per stage of each run (STAGES, plus "start-up and other": process
    #: start, loading the definitions, Dagster's bookkeeping between steps).
    full_stages: dict[str, float] = field(default_factory=dict)
    incremental_stages: dict[str, float] = field(default_factory=dict)
    warehouse_bytes: int = 0
    baseline_sql: Measured | None = None
    baseline_pandas: Measured | None = None
    startup: Measured | None = None
    #: What the incremental run did with the insights, and why (raw._runs.insights).
    incremental_insights: str = ""
    #: The slowest dbt nodes of the full and the incremental build: kind -> [(node, s)].
    slowest: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)


def run_size(
    customers: int, seed: int, months: int, keep: bool, pandas_max: int, insights_every: str
) -> SizeResult:
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
    # What a run pays once before doing any work: starting Python and importing
    # Dagster, dbt's adapter and the definitions.
    res.startup = measure([sys.executable, "-c", "import orchestration.definitions"], env)
    # The whole graph in one process, as a user runs it: a new warehouse, then one
    # daily drop and the whole graph again (the incremental run).
    res.full = _run(cli, env, customers, "full build")
    res.full_stages = stage_seconds(warehouse, res.full.seconds)
    res.slowest["full"] = slowest_dbt_nodes(warehouse)
    print_stages(customers, "full build", res.full_stages)
    steps = ", ".join(f"{k} {t:.1f} s" for k, t in report_steps(warehouse))
    print(f"  {customers:>9,} full build's report stage: {steps}")
    where = peak_where(warehouse, res.full.peak_at)
    print(f"  {customers:>9,} full build's peak RSS during {where}")
    print(f"  {customers:>9,} full build's RSS by stage: {stage_memory(warehouse, res.full)}")
    print_slowest(customers, "full build", res.slowest["full"])
    res.warehouse_bytes = warehouse.stat().st_size if warehouse.exists() else 0
    res.baseline_sql = measure(
        [sys.executable, str(ROOT / "benchmarks" / "baseline_sql.py"), str(landing)], env
    )
    if customers <= pandas_max:
        res.baseline_pandas = measure(
            [sys.executable, str(ROOT / "benchmarks" / "baseline_pandas.py"), str(landing)], env
        )
    add_daily_drop(landing, seed=seed + 1, day=_day_after(landing))
    # The daily run as it would be scheduled: the insights on their own period
    # (CX_INSIGHTS_EVERY; `run` recomputes them on every drop, as the full build did).
    env["CX_INSIGHTS_EVERY"] = insights_every
    res.incremental = _run(cli, env, customers, "incremental")
    res.incremental_insights = insights_line(warehouse)
    print(f"  {customers:>9,} incremental run's insights: {res.incremental_insights}")
    res.incremental_stages = stage_seconds(warehouse, res.incremental.seconds)
    res.slowest["incremental"] = slowest_dbt_nodes(warehouse)
    print_stages(customers, "incremental run", res.incremental_stages)
    steps = ", ".join(f"{k} {t:.1f} s" for k, t in report_steps(warehouse))
    print(f"  {customers:>9,} incremental run's report stage: {steps}")
    where = peak_where(warehouse, res.incremental.peak_at)
    print(f"  {customers:>9,} incremental run's peak RSS during {where}")
    memory = stage_memory(warehouse, res.incremental)
    print(f"  {customers:>9,} incremental run's RSS by stage: {memory}")
    print_slowest(customers, "incremental run", res.slowest["incremental"])
    print(
        f"  {customers:>9,} incremental run = "
        f"{100 * res.incremental.seconds / res.full.seconds:.0f} % of a full build"
    )
    if not keep:
        shutil.rmtree(landing, ignore_errors=True)
    return res


def insights_line(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select insights from raw._runs order by started_at desc limit 1"
        ).fetchone()
    return row[0] if row and row[0] else "?"


def _run(cli: str, env: dict[str, str], customers: int, label: str) -> Measured:
    m = measure([cli, "run"], env)
    print(
        f"  {customers:>9,} {label:<14} {m.seconds:8.1f} s  {m.peak_rss / 2**30:5.2f} GiB"
        f"  rc={m.returncode}",
        flush=True,
    )
    if m.returncode != 0:
        print(m.output)
    return m


def latest_step_stats(warehouse: Path) -> list:
    """Dagster's step stats of the warehouse's latest run."""
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(warehouse.parent / "dagster_home"))
    try:
        runs = instance.get_runs(limit=1)
        return list(instance.get_run_step_stats(runs[0].run_id)) if runs else []
    finally:
        instance.dispose()


def stage_seconds(warehouse: Path, wall: float) -> dict[str, float]:
    """Seconds per stage of the warehouse's latest Dagster run: the steps' durations
    summed by stage (the run executes its steps one after another), the dbt step split
    by dbt's run_results.json into insight models, other models and tests."""
    from orchestration.progress import stage_of

    seconds = dict.fromkeys(STAGES, 0.0)
    dbt_step = 0.0
    for s in latest_step_stats(warehouse):
        took = (s.end_time or 0.0) - (s.start_time or 0.0)
        stage = stage_of(s.step_key)
        if stage == "dbt models":
            dbt_step += took
        elif stage in ("reports", "publish"):
            seconds["report"] += took
        elif stage in seconds:
            seconds[stage] += took
    # dbt runs nodes on several threads: their times add up to more than the step's
    # wall time, which is shared out in proportion to them.
    nodes = dbt_node_seconds(warehouse)
    busy = {k: sum(t for kind, t in nodes if kind == k) for k in ("models", "tests", "insights")}
    total = sum(busy.values()) or 1.0
    seconds["dbt models"] = dbt_step * busy["models"] / total
    seconds["dbt tests"] = dbt_step * busy["tests"] / total
    seconds["insights"] = dbt_step * busy["insights"] / total
    seconds["start-up and other"] = max(wall - sum(seconds.values()), 0.0)
    return seconds


def dbt_results(warehouse: Path) -> list[dict]:
    """The node results of the last dbt build on this warehouse (run_results.json in
    its dbt target folder) and, when that build ran some nodes again for DuckDB's
    memory limit (orchestration/defs/transform/assets.py), those runs too, marked
    `retry`: both attempts took time."""
    target = warehouse.parent / "dbt_target"
    first, retry = target / "run_results.json", target / "memory_retry" / "run_results.json"
    if not first.exists():
        return []
    results = json.loads(first.read_text()).get("results", [])
    if retry.exists() and retry.stat().st_mtime >= first.stat().st_mtime:
        results += [{**r, "retry": True} for r in json.loads(retry.read_text())["results"]]
    return results


def dbt_node_seconds(warehouse: Path) -> list[tuple[str, float]]:
    """(kind, seconds) of every node of the last dbt invocation: kind is insights (a
    model under models/*/insights/), models or tests."""
    results = dbt_results(warehouse)
    if not results:
        return []
    manifest = json.loads((warehouse.parent / "dbt_target" / "manifest.json").read_text())["nodes"]
    out = []
    for r in results:
        node = r["unique_id"]
        took = float(r.get("execution_time") or 0.0)
        if node.startswith("model."):
            path = manifest.get(node, {}).get("original_file_path", "")
            out.append(("insights" if "/insights/" in path else "models", took))
        elif node.startswith(("test.", "unit_test.")):
            out.append(("tests", took))
    return out


def peak_where(warehouse: Path, at: float) -> str:
    """The Dagster step of the latest run that was running at epoch `at` and, in the
    dbt step, the dbt nodes running then (run_results.json's execute timings)."""
    from orchestration.progress import stage_of

    stats = latest_step_stats(warehouse)
    steps = [s.step_key for s in stats if (s.start_time or 0) <= at <= (s.end_time or 0)]
    if not steps:
        return "between steps (start-up, run log, alerts)"
    where = ", ".join(steps)
    if any(stage_of(step) == "dbt models" for step in steps):
        nodes = []
        for r in dbt_results(warehouse):
            for timing in r.get("timing", []):
                if timing.get("name") != "execute" or not timing.get("started_at"):
                    continue
                began = datetime.fromisoformat(timing["started_at"].replace("Z", "+00:00"))
                ended = datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
                if began.timestamp() <= at <= ended.timestamp():
                    nodes.append(r["unique_id"].split(".")[-1])
        where += f" (dbt: {', '.join(nodes) or 'between nodes'})"
    return where


def stage_memory(warehouse: Path, m: Measured) -> str:
    """Per stage (its Dagster steps, in run order) the RSS when its first step started
    and its peak (GiB): what the process holds before a stage (the part no stage owns)
    against what the stage adds."""
    from orchestration.progress import stage_of

    stages: dict[str, list[int]] = {}
    stats = sorted(latest_step_stats(warehouse), key=lambda s: s.start_time or 0.0)
    for s in stats:
        start, end = s.start_time or 0.0, s.end_time or 0.0
        inside = [rss for at, rss in m.samples if start <= at <= end]
        if inside:
            stages.setdefault(stage_of(s.step_key), []).extend(inside)
    parts = [
        f"{stage} {rss[0] / 2**30:.2f} -> {max(rss) / 2**30:.2f}" for stage, rss in stages.items()
    ]
    return "; ".join(parts) or "no step sampled"


def report_steps(warehouse: Path) -> list[tuple[str, float]]:
    """(step, seconds) of the latest run's report-stage steps (the data-quality page,
    the dashboard, the publish), which the stage table adds up into one column."""
    from orchestration.progress import stage_of

    return [
        (s.step_key, (s.end_time or 0.0) - (s.start_time or 0.0))
        for s in latest_step_stats(warehouse)
        if stage_of(s.step_key) in ("reports", "publish")
    ]


def print_stages(customers: int, label: str, stages: dict[str, float]) -> None:
    total = sum(stages.values())
    if not total:
        return
    shares = ", ".join(f"{name} {t:.1f} s ({100 * t / total:.0f} %)" for name, t in stages.items())
    print(f"  {customers:>9,} {label}: {shares}")


#: How many of the slowest dbt models and tests the benchmark prints.
SLOWEST = 15


def slowest_dbt_nodes(warehouse: Path, top: int = SLOWEST) -> dict[str, list[tuple[str, float]]]:
    """The slowest models and tests (data and unit tests) of the last dbt build on
    this warehouse (dbt_results)."""
    kinds: dict[str, list[tuple[str, float]]] = {"models": [], "tests": []}
    for r in dbt_results(warehouse):
        node = r["unique_id"]
        kind = "models" if node.startswith("model.") else "tests"
        name = node.split(".", 2)[-1] + (" (built again: memory)" if r.get("retry") else "")
        if node.startswith(("model.", "test.", "unit_test.")):
            kinds[kind].append((name, float(r.get("execution_time") or 0.0)))
    return {k: sorted(v, key=lambda x: -x[1])[:top] for k, v in kinds.items()}


def print_slowest(customers: int, label: str, slowest: dict[str, list[tuple[str, float]]]) -> None:
    for kind, nodes in slowest.items():
        total = sum(s for _, s in nodes)
        print(f"  {customers:>9,} slowest dbt {kind} ({label}; top {len(nodes)}: {total:.1f} s)")
        for node, seconds in nodes:
            print(f"  {'':>9} {seconds:8.1f} s  {node}")


def _day_after(landing: Path) -> date:
    """The day after the newest event of the generated data (read from the fx file names)."""
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
        "| customers | rows landed | ingest s | gate s | dbt models s | dbt tests s | insights s "
        "| report s | start-up and other s | full build s | peak RSS GiB | warehouse MiB "
        "| incremental s | incremental / full | gate share full / incremental | SQL baseline s "
        "| pandas baseline s | run / SQL |"
    )
    lines.append(head)
    lines.append("|" + "---|" * (head.count("|") - 1))
    nan = float("nan")
    for r in results:
        full = r.full.seconds if r.full and r.full.returncode == 0 else nan
        inc = r.incremental.seconds if r.incremental and r.incremental.returncode == 0 else nan
        peak = max(m.peak_rss for m in (r.full, r.incremental) if m) if r.full else 0
        ok_sql = r.baseline_sql and r.baseline_sql.returncode == 0
        ok_pd = r.baseline_pandas and r.baseline_pandas.returncode == 0
        sql = r.baseline_sql.seconds if ok_sql else nan  # nan: the baseline failed
        pdm = r.baseline_pandas.seconds if ok_pd else nan  # nan: failed or skipped
        gate_full = r.full_stages.get("quality gate", nan) / full
        gate_inc = r.incremental_stages.get("quality gate", nan) / inc
        lines.append(
            f"| {r.customers:,} | {sum(r.rows.values()):,} | "
            + " | ".join(
                f"{r.full_stages.get(s, nan):.1f}" for s in (*STAGES, "start-up and other")
            )
            + f" | {full:.1f} | {peak / 2**30:.2f} | {r.warehouse_bytes / 2**20:.0f} | "
            f"{inc:.1f} | {100 * inc / full:.0f} % | {100 * gate_full:.0f} % / "
            f"{100 * gate_inc:.0f} % | {sql:.1f} | {pdm:.1f} | {full / sql:.1f}x |"
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
    parser.add_argument(
        "--insights-every",
        default="1w",
        help="CX_INSIGHTS_EVERY of the incremental run (the full build computes them): "
        "`run` recomputes the insights on the daily drop too",
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
            run_size(
                customers,
                args.seed,
                args.months,
                args.keep,
                args.pandas_max_customers,
                args.insights_every,
            )
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
                    "full": _summary(r.full),
                    "incremental": _summary(r.incremental),
                    "incremental_insights": r.incremental_insights,
                    "full_stages": r.full_stages,
                    "incremental_stages": r.incremental_stages,
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


def _summary(m: Measured | None) -> dict | None:
    """A run for results.json: without its output and RSS samples."""
    return None if m is None else vars(m) | {"output": "", "samples": len(m.samples)}


if __name__ == "__main__":
    sys.exit(main())
