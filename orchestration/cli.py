"""`cx-insights`: the command line. `run` and `pull` (orchestration/run.py) drive
Dagster; `generate`, `report`, `export` and `status` call the package directly."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cx_insights.config import SettingsError, load_settings
from cx_insights.connectors.registry import CONNECTORS
from orchestration.run import _quiet_colours, cmd_pull, cmd_run  # noqa: F401


def _month(text: str):  # noqa: ANN202 - argparse type
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month as YYYY-MM") from None


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings()
    from cx_insights.report.dashboard import write_dashboard
    from cx_insights.report.dashboard.data import ReportingMonthError
    from cx_insights.report.quality_report import write_quality_report

    write_quality_report(settings)
    try:
        path = write_dashboard(settings, month=getattr(args, "month", None))
    except ReportingMonthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"dashboard:           {path}")
    print(f"data-quality report: {settings.quality_report}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cx_insights.generate import generate

    out = Path(args.out).expanduser()
    if args.end_month is not None and not _is_month(args.end_month):
        print(f"cx-insights: --end-month {args.end_month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    if not args.overwrite and out.is_dir() and any(out.iterdir()):
        print(
            f"cx-insights: {out} is not empty; pass --overwrite to replace its landing data, "
            "or choose an empty --out",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    try:
        counts = generate(
            out,
            customers=args.customers,
            seed=args.seed,
            months=args.months,
            end_month=args.end_month,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError) as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(counts, indent=2))
    print(f"wrote {sum(counts.values()):,} rows to {out} in {time.monotonic() - started:.1f} s")
    return 0


def _is_month(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        return False
    return len(text) == 7


def cmd_export(args: argparse.Namespace) -> int:
    from cx_insights.export import ExportError, export_marts

    settings = load_settings()
    out = Path(args.out).expanduser().resolve()
    try:
        manifest = export_marts(settings, out, args.format)
    except ExportError as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 1
    rows = sum(t["rows"] for t in manifest["tables"])
    print(
        f"exported {len(manifest['tables'])} mart tables ({rows:,} rows, {args.format}) "
        f"from {manifest['source']} (built {manifest['built_at']}) to {out}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from cx_insights.report.status import print_status

    return print_status(load_settings())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cx-insights")
    except PackageNotFoundError:
        return "unknown"


def _end_month() -> str:
    from cx_insights.generate.timeline import DEFAULT_END_MONTH

    return DEFAULT_END_MONTH


def cmd_postgres(args: argparse.Namespace) -> int:
    """The PostgreSQL target's server: start the local cluster, stop it, or print the
    DSN a BI tool connects with (CX_POSTGRES_DSN when set)."""
    import os

    from cx_insights import postgres

    settings = load_settings()
    external = bool(os.environ.get("CX_POSTGRES_DSN", "").strip())
    cluster = postgres.LocalCluster(settings)
    if args.action == "stop":
        if external:
            print("CX_POSTGRES_DSN is set: that server is not ours to stop", file=sys.stderr)
            return 2
        was_running = cluster.stop()
        print(f"stopped the local cluster in {cluster.data}" if was_running else "not running")
        return 0
    if args.action == "start" or (args.action == "dsn" and not external):
        print(postgres.connection(settings).dsn)
        return 0
    print(postgres.connection(settings, start=False).dsn)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cx-insights",
        description="Customer-experience warehouse: surveys, CRM, web, tickets, joined to money.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="materialise assets through Dagster (all by default)")
    p.add_argument(
        "--select",
        default="*",
        help="Dagster asset selection, e.g. 'group:ingest' or 'key:marts/kpi_monthly+' "
        "(one that matches nothing is an error)",
    )
    p.add_argument(
        "--refresh-insights",
        action="store_true",
        help="recompute the insight models now, whatever CX_INSIGHTS_EVERY says",
    )
    loud = p.add_mutually_exclusive_group()
    loud.add_argument(
        "--verbose",
        action="store_true",
        help="also print dbt's output, Dagster's debug log and tracebacks",
    )
    loud.add_argument("--quiet", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("generate", help="write a realistic landing directory of any size")
    p.add_argument("--out", required=True, help="landing directory to write (empty or new)")
    p.add_argument("--customers", type=int, required=True, help="number of customers")
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    p.add_argument("--months", type=int, default=24, help="months of data (at least 2)")
    p.add_argument(
        "--end-month", default=None, help=f"last month of data, YYYY-MM (default {_end_month()})"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the landing data already in --out"
    )
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("report", help="(re)build the dashboard and the data-quality report")
    p.add_argument(
        "--month",
        type=_month,
        help="the dashboard's reporting month, YYYY-MM (default: the last complete month)",
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("export", help="every mart table, one file each, with manifest.json")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument(
        "--format", choices=["parquet", "csv"], default="parquet", help="file format of each table"
    )
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("pull", help="run the configured connectors (vendor APIs -> landing)")
    p.add_argument(
        "--source",
        nargs="+",
        metavar="NAME",
        help=f"only these connectors, of: {', '.join(CONNECTORS)}",
    )
    p.add_argument("--full-refresh", action="store_true", help="forget cursors, pull all again")
    p.set_defaults(func=cmd_pull)
    p = sub.add_parser("postgres", help="the PostgreSQL target's local cluster (CX_TARGET)")
    p.add_argument(
        "action",
        choices=["start", "stop", "dsn"],
        help="start the local cluster, stop it, or print the DSN for BI tools",
    )
    p.set_defaults(func=cmd_postgres)
    p = sub.add_parser("status", help="the last runs and the freshness of each source")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # Dagster's and dbt's INFO chatter stays out
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # Dagster's beta/preview notices are for its developers, not for a run's reader.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a bad setting stops the command before anything changes
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from cx_insights.postgres import PostgresError

        if not isinstance(exc, PostgresError):
            raise
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
