"""Benchmark: the publish after a daily drop, by written keys against by row hashes.

Builds one generated drop with `cx-insights run`, keeps the published file it leaves,
adds a daily drop (`add_daily_drop`) and runs again. Then, on those same files, times
cx_insights.serve.publish from the first published file to the working file's marts
twice per way: as the run does it (each incremental mart's rows replaced by the keys
its upstream wrote since, cx_insights/written_keys.py) and with the manifest hidden
(every mart by the hash of every column, the way before). Prints a table of seconds
and how each mart was brought up to date, and checks both files hold the same rows.

    .venv/bin/python benchmarks/publish.py --customers 100000

Not a test: nothing here asserts (tests/test_incremental_models.py proves the
published file equal to the marts after every drop of the designed scenario).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
OUT = ROOT / "benchmarks" / "out" / "publish"


def run(env: dict[str, str]) -> float:
    """Seconds of one `cx-insights run` (benchmarks/determinism.py's `cli`: it exits
    with the run's output when the run fails)."""
    from benchmarks.determinism import cli

    started = time.monotonic()
    cli("run", "--quiet", env=env)
    return time.monotonic() - started


def digest(path: Path) -> dict[str, tuple[int, int]]:
    """{mart: (rows, order-independent sum of row hashes)}: equal files, equal digests."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_name <> '_build' "
            "and table_type = 'BASE TABLE'"
        ).fetchall()
        query = 'select count(*), sum(hash(r)::hugeint) from marts."{}" as r'
        return {t: con.execute(query.format(t)).fetchone() for (t,) in tables}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()

    from cx_insights import serve, written_keys
    from cx_insights.config import load_settings
    from cx_insights.generate import add_daily_drop, generate

    shutil.rmtree(OUT, ignore_errors=True)
    landing, warehouse = OUT / "landing", OUT / "warehouse" / "cx.duckdb"
    generate(landing, customers=args.customers, seed=args.seed, months=args.months)
    env = {
        **os.environ,
        "CX_LANDING_DIR": str(landing),
        "CX_WAREHOUSE": str(warehouse),
        "CX_PII_SALT": "benchmark",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    settings = load_settings(env)
    full = run(env)
    first = OUT / "first_published.duckdb"
    shutil.copyfile(settings.published, first)
    from benchmarks.run import _day_after

    add_daily_drop(landing, seed=args.seed + 1, day=_day_after(landing))
    daily = run(env)
    want = digest(warehouse)

    outcomes: list[bool | None] = []
    replace_written = written_keys.replace_written

    def counted(*a, **k):
        outcomes.append(replace_written(*a, **k))
        return outcomes[-1]

    written_keys.replace_written = counted
    manifest = serve.MANIFEST
    rows = []
    ways = [("written keys", False), ("row hashes", True)] * 2
    for way, hidden in ways:
        serve.MANIFEST = OUT / "no-manifest.json" if hidden else manifest
        shutil.copyfile(first, settings.published)
        outcomes.clear()
        started = time.monotonic()
        serve.publish(settings, run_id=f"benchmark {way}")
        took = time.monotonic() - started
        same = digest(settings.published) == want
        rows.append((way, took, outcomes.count(True), outcomes.count(False), same))
    written_keys.replace_written = replace_written

    print(
        f"\npublish after a daily drop, {args.customers:,} customers x {args.months} months "
        f"({date.today()}, {platform.machine()}, {os.cpu_count()} cores); "
        f"full build {full:.1f} s, daily drop run {daily:.1f} s\n"
    )
    print(
        "| way | publish s | marts by written keys | copied whole (most rows written) "
        "| equal to the marts |"
    )
    print("|---|---:|---:|---:|---|")
    for way, took, by_keys, copied, same in rows:
        print(f"| {way} | {took:.1f} | {by_keys} | {copied} | {'yes' if same else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
