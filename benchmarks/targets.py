"""Benchmark: the same generated drop built on each target, timed, and compared.

Generates one landing directory with the project's generator, builds it with
`cx-insights run` on each target (DuckDB, PostgreSQL, Spark) in a fresh folder,
exports the marts, and compares every target's export with DuckDB's
(cx_insights.compare: rows equal, numbers to a relative 1e-9). Prints a table
of build and export seconds and whether the marts are equal. With
`--daily-drop`, then adds one daily drop to the landing folder and runs every
target again (incremental), timed and compared the same way.

    .venv/bin/python benchmarks/targets.py --customers 20000 --months 24
    .venv/bin/python benchmarks/targets.py --customers 1000000 --targets duckdb spark \\
        --standalone-workers 2          # a local standalone cluster: 1 master, 2 workers
    CX_SPARK_MASTER=spark://host:7077 .venv/bin/python benchmarks/targets.py ...  # yours

Not a test: nothing here asserts (tests/test_postgres_target.py and
tests/test_spark_target.py compare the targets on small drops in `make test`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


@contextmanager
def standalone_cluster(workers: int, root: Path, memory: str) -> Iterator[str]:
    """A Spark standalone cluster on this machine, from the pyspark wheel: one master
    (127.0.0.1:7077) and `workers` workers of one core and `memory` each; yields its
    URL and stops every process at the end."""
    from pyspark.find_spark_home import _find_spark_home

    home = Path(_find_spark_home())
    spark_class = str(home / "bin" / "spark-class")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(root / "logs")}
    env.pop("SPARK_REMOTE", None)
    url = "spark://127.0.0.1:7077"
    processes: list[subprocess.Popen] = []

    def start(name: str, *command: str) -> None:
        (root / "logs").mkdir(parents=True, exist_ok=True)
        with (root / "logs" / f"{name}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [spark_class, *command], stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True,
                )
            )  # fmt: skip

    try:
        start("master", "org.apache.spark.deploy.master.Master",
              "--host", "127.0.0.1", "--port", "7077", "--webui-port", "18080")  # fmt: skip
        _wait_for_port(7077)
        for n in range(workers):
            work = root / f"worker-{n}"
            work.mkdir(parents=True, exist_ok=True)
            start(f"worker-{n}", "org.apache.spark.deploy.worker.Worker",
                  "--cores", "1", "--memory", memory, "--work-dir", str(work),
                  "--webui-port", str(18081 + n), url)  # fmt: skip
        deadline = time.monotonic() + 120
        log = root / "logs" / "master.log"
        while log.read_text(errors="replace").count("Registering worker") < workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"the standalone workers did not register: {root / 'logs'}")
            time.sleep(1)
        yield url
    finally:
        for process in reversed(processes):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def _wait_for_port(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")
        time.sleep(0.5)


def build_and_export(
    args: argparse.Namespace, target: str, landing: Path, root: Path, export_name: str = "export"
) -> tuple[float, float, Path]:
    """`cx-insights run` on `target` (its warehouse under root/<target>, kept between
    calls: a second call is an incremental run) and its export: seconds of each,
    and the export's folder."""
    warehouse = root / target / "cx.duckdb"
    if target == "spark" and args.standalone_workers:
        cluster = standalone_cluster(args.standalone_workers, root / "cluster", args.worker_memory)
        with cluster as url:
            os.environ["CX_SPARK_MASTER"] = url
            build = cli(["run", "--quiet"], landing, warehouse, target)
    else:
        build = cli(["run", "--quiet"], landing, warehouse, target)
    out = root / target / export_name
    export = cli(["export", "--out", str(out)], landing, warehouse, target)
    if target == "postgres":
        cli(["postgres", "stop"], landing, warehouse, target)
    return build, export, out


def _same(results: dict[str, tuple[float, float, Path]], target: str, out: Path) -> str:
    if target == "duckdb" or "duckdb" not in results:
        return "-"
    from cx_insights.compare import compare_exports

    differences = compare_exports(results["duckdb"][2], out)
    return "yes" if not differences else f"NO: {sorted(differences)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres", "spark"])
    parser.add_argument("--keep", action="store_true", help="keep the folders")
    parser.add_argument(
        "--standalone-workers",
        type=int,
        default=0,
        help="build the spark target on a standalone cluster of this many 1-core workers "
        "started here (0: CX_SPARK_MASTER, or local[2])",
    )
    parser.add_argument("--worker-memory", default="4g")
    parser.add_argument(
        "--daily-drop",
        action="store_true",
        help="then add one daily drop (add_daily_drop) and run every target again: "
        "the incremental run, timed and compared too",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cx-targets-"))
    root.chmod(0o755)  # PostgreSQL's server account must be able to enter it
    landing = root / "landing"
    try:
        cli(
            ["generate", "--out", str(landing), "--customers", str(args.customers),
             "--months", str(args.months), "--seed", "20"],
            landing, root / "unused.duckdb", "duckdb",
        )  # fmt: skip
        rows = {target: build_and_export(args, target, landing, root) for target in args.targets}
        drop_rows = {}
        if args.daily_drop:
            from run import _day_after  # benchmarks/run.py, beside this script

            from cx_insights.generate import add_daily_drop

            add_daily_drop(landing, seed=21, day=_day_after(landing))
            drop_rows = {
                target: build_and_export(args, target, landing, root, "drop")
                for target in args.targets
            }
        print(
            f"\n{args.customers:,} customers x {args.months} months, {date.today()}, "
            f"{platform.machine()} {os.cpu_count()} cores, "
            f"Spark master {os.environ.get('CX_SPARK_MASTER') or 'local[2]'}"
            + (
                f" ({args.standalone_workers} workers x 1 core, {args.worker_memory})"
                if args.standalone_workers
                else ""
            )
        )
        print(
            "| target | first build (s) | export (s) | marts equal to DuckDB's |"
            + (" daily drop (s) | marts equal after it |" if drop_rows else "")
        )
        print("|---|---|---|---|" + ("---|---|" if drop_rows else ""))
        for target in args.targets:
            build, export, out = rows[target]
            line = f"| {target} | {build:.0f} | {export:.0f} | {_same(rows, target, out)} |"
            if drop_rows:
                build, _, out = drop_rows[target]
                line += f" {build:.0f} | {_same(drop_rows, target, out)} |"
            print(line)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
