"""The drop zoo on another target: each foreign-shaped drop built on DuckDB and on
PostgreSQL or Spark, the company and segment KPIs of the DuckDB build compared with
the independent calculation (tests/kpi_oracle.py), and every mart of the other
target compared with DuckDB's (`cx-insights export`, cx_insights.compare).

`tests/test_drop_zoo.py` proves the zoo on DuckDB in `make test`; a Spark build of a
drop takes minutes (about a hundred models, each a Spark job), so the zoo on Spark
is run by hand:

    .venv/bin/python -m tests.zoo_on_targets --target spark --jobs 2   # all six drops
    .venv/bin/python -m tests.zoo_on_targets --target postgres --variants no_crm

It prints one line per drop and a table; exits 1 when a build fails or anything
differs. PostgreSQL needs `make postgres` (the run starts its own server).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from cx_insights.compare import compare_exports
from cx_insights.config import DBT_PROJECT_DIR
from orchestration.defs.transform.project import manifest_is_stale, parse_manifest, target_path
from tests.conftest import CLI, Build, export_of, run_cli
from tests.kpi_oracle import compare, kpi_monthly
from tests.test_drop_zoo import ZOO, _assert_accounted_for, _build


def _oracle_differences(build: Build) -> list[str]:
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        _assert_accounted_for(con)
        got = con.execute(
            "select * from marts.kpi_monthly where level in ('company', 'segment')"
        ).df()
    return compare(kpi_monthly(build.landing), got)


def check(variant: str, base: Path, work: Path, target: str) -> dict:
    """One drop on DuckDB and on `target`: times, and what differs."""
    salt = f"zoo-salt-{uuid.uuid4().hex}"  # the same for both: equal e-mail hashes
    row: dict = {"variant": variant, "problems": []}
    builds = {}
    short = str(sorted(ZOO).index(variant))  # a Unix socket's path has at most 107 bytes
    for name in ("duckdb", target):
        on_target = {} if name == "duckdb" else {"CX_TARGET": name}
        env = {"CX_PII_SALT": salt, **on_target}
        started = time.monotonic()
        build = _build(base, work / short / name, ZOO[variant], salt, **on_target)
        row[name] = time.monotonic() - started
        if build.returncode != 0:
            said = (build.stdout + build.stderr).splitlines()
            errors = [line for line in said if "Error" in line or "FAILED" in line]
            row["problems"].append(f"{name} run failed: " + "\n".join(errors[:30] or said[-30:]))
            return row
        builds[name] = (build, env)
    row["oracle"] = _oracle_differences(builds["duckdb"][0])
    row["problems"] += [f"KPI vs oracle: {d}" for d in row["oracle"][:5]]
    exports = {
        name: export_of(build, work / short / f"export-{name}", **env)
        for name, (build, env) in builds.items()
    }
    if target == "postgres":  # the run started the project's own server
        build = builds[target][0]
        run_cli(["postgres", "stop"], build.landing, build.warehouse)
    differing = compare_exports(exports["duckdb"], exports[target])
    row["problems"] += [f"{table}: {what}" for table, what in differing.items()]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("postgres", "spark"), required=True)
    parser.add_argument("--variants", nargs="+", choices=sorted(ZOO), default=sorted(ZOO))
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=1, help="drops built side by side")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cx-zoo-targets-"))
    work.chmod(0o755)  # PostgreSQL's server runs as 'postgres' and must enter it
    base = work / "base"
    subprocess.run(
        [CLI, "generate", "--out", str(base), "--customers", str(args.customers), "--seed", "11"],
        check=True,
        capture_output=True,
    )

    for target in ("duckdb", args.target):  # parsed once here, not by runs side by side
        if manifest_is_stale(DBT_PROJECT_DIR / target_path(target) / "manifest.json"):
            parse_manifest(target)

    def one(variant: str) -> dict:
        try:
            row = check(variant, base, work, args.target)
        except subprocess.TimeoutExpired as stopped:  # run_cli's 15 minutes per command
            row = {"variant": variant, "problems": [f"timed out: {stopped.cmd}"]}
        verdict = "equal" if not row["problems"] else f"{len(row['problems'])} problems"
        print("\n  ".join([f"{variant}: {verdict}", *row["problems"]]), flush=True)
        return row

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(one, args.variants))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n| drop ({args.customers} customers) | DuckDB run (s) | {args.target} run (s) "
        "| KPIs = oracle | marts = DuckDB's |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        oracle = "yes" if row.get("oracle") == [] else "no"
        same = "yes" if not row["problems"] else "no"
        print(
            f"| {row['variant']} | {row.get('duckdb', 0):.0f} | {row.get(args.target, 0):.0f} "
            f"| {oracle} | {same} |"
        )
    return 1 if any(row["problems"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
