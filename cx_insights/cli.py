"""`cx-insights`: run the warehouse, generate data, rebuild the reports."""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cx_insights.config import Settings, SettingsError, check_landing_dir, load_settings

if TYPE_CHECKING:
    from cx_insights.serve import LockHolder


class RunLockedError(RuntimeError):
    pass


@contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """One writer at a time: a second run stops at once and names the first."""
    lock_path = settings.warehouse.with_suffix(".run.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fh = lock_path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise RunLockedError(
            f"another cx-insights run is writing {settings.warehouse} ({holder}); "
            "wait for it to finish and run again"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} started {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
    fh.flush()
    try:
        yield
    finally:
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


@dataclass
class RunOutcome:
    success: bool
    failed_checks: list[dict[str, str]] = field(default_factory=list)
    failed_steps: list[dict[str, str]] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def messages(self) -> list[str]:
        lines = []
        for c in self.failed_checks:
            lines.append(f"BLOCKED  entity {c['entity']}  check {c['check']}: {c['description']}")
        for s in self.failed_steps:
            lines.append(f"FAILED   step {s['step']}: {s['error']}")
        return lines


def _export_env(settings: Settings) -> None:
    """The Dagster resources and dbt read these; make every path absolute."""
    os.environ.update(settings.dbt_env())
    os.environ["CX_LANDING_DIR"] = str(settings.landing_dir)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def materialize(
    settings: Settings, select: str | None = None, log_level: str = "WARNING"
) -> RunOutcome:
    """Materialise the assets (all by default) in this process through Dagster."""
    import dagster as dg

    _export_env(settings)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("cx_all")
    kwargs: dict = {}
    if select and select != "*":
        graph = defs.resolve_asset_graph()
        keys = dg.AssetSelection.from_string(select).resolve(graph)
        kwargs["asset_selection"] = list(keys)
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            **kwargs,
        )
        outcome = RunOutcome(success=result.success, seconds=time.monotonic() - started)
        outcome.materialized = sorted(
            {
                ev.asset_key.to_user_string()
                for ev in result.all_events
                if ev.is_step_materialization and ev.asset_key is not None
            }
        )
        for ev in result.get_asset_check_evaluations():
            # Warnings (e.g. a stale source) are reported, never fatal.
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                outcome.failed_checks.append(
                    {
                        "entity": "/".join(ev.asset_key.path),
                        "check": ev.check_name,
                        "description": ev.description or "",
                    }
                )
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                if error and "DagsterAssetCheckFailedError" in (error.cls_name or ""):
                    continue  # already reported as a failed check
                step = {
                    "step": event.step_key or "?",
                    "error": (error.message.strip() if error else "unknown error"),
                }
                root = error
                while root and root.cause:
                    root = root.cause
                if root and root is not error:
                    step["cause"] = root.message.strip()  # e.g. DuckDB's lock error
                outcome.failed_steps.append(step)
    if outcome.failed_checks:
        outcome.success = False
    return outcome


def cmd_run(args: argparse.Namespace) -> int:
    from cx_insights.serve import WarehouseInUseError, check_warehouse_free, in_use_message
    from cx_insights.warehouse import WarehouseLockedError

    settings = load_settings()
    print(f"landing:   {settings.landing_dir}")
    print(f"warehouse: {settings.warehouse}")
    try:
        with run_lock(settings):
            pulled = _pull_first(settings, args)
            check_landing_dir(settings.landing_dir)  # a mistyped or empty one changes nothing
            check_warehouse_free(settings)  # a BI tool holding the file: stop before any change
            from orchestration.defs.report.status import record_run_start

            run_id = uuid.uuid4().hex
            os.environ["CX_RUN_ID"] = run_id  # the published file's marts._build names it
            record_run_start(settings, run_id, datetime.now(UTC).replace(tzinfo=None))
            outcome = materialize(settings, pulled[0], "DEBUG" if args.verbose else "CRITICAL")
            outcome.failed_steps[:0] = pulled[1]
            outcome.success = outcome.success and not pulled[1]
            _publish_unless_published(settings, outcome, run_id)
            holder = _lock_conflict(outcome)
            _record_run_end(settings, run_id, outcome)
            if holder:
                raise WarehouseInUseError(in_use_message(settings, holder))
            _write_reports(settings, outcome)
    except RunLockedError as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 3
    except (WarehouseInUseError, WarehouseLockedError) as exc:
        print(f"cx-insights: {_in_use_line(settings, exc)}", file=sys.stderr)
        return 3
    for line in outcome.messages():
        print(line, file=sys.stderr)
    print(f"run took {outcome.seconds:.1f} s")
    print(f"warehouse:           {settings.warehouse} (the run's working file)")
    if settings.published.exists():
        kept = "" if outcome.success else " (the last good build, unchanged)"
        print(f"BI tools open:       {settings.published} (read-only){kept}")
    print(f"data-quality report: {settings.quality_report}")
    if settings.dashboard.exists():
        print(f"dashboard:           {settings.dashboard}")
    if not outcome.success:
        print(
            "cx-insights: the run did not complete: see the BLOCKED / FAILED lines above "
            f"and {settings.quality_report}",
            file=sys.stderr,
        )
        return 1
    return 0


def _pull_first(settings: Settings, args: argparse.Namespace) -> tuple[str, list]:
    """A full run pulls the configured connectors first (interface.md)."""
    if args.select != "*":
        return args.select, []
    from cx_insights.connectors.command import pull_before_run

    return pull_before_run(settings, materialize)


def cmd_pull(args: argparse.Namespace) -> int:
    from cx_insights.connectors.command import pull_command

    settings = load_settings()
    try:
        with run_lock(settings):
            return pull_command(settings, args.source, args.full_refresh, materialize)
    except RunLockedError as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 3


PUBLISHED_ASSET = "report/published_marts"


def _publish_unless_published(settings: Settings, outcome: RunOutcome, run_id: str) -> None:
    """A successful run whose selection rebuilt marts but left out the publishing asset
    publishes here, so BI tools never read marts older than the working file's."""
    if not outcome.success or PUBLISHED_ASSET in outcome.materialized:
        return
    if not any(key.startswith("marts/") for key in outcome.materialized):
        return
    from cx_insights.serve import publish

    try:
        publish(settings, run_id)
    except Exception as exc:  # reported like any failed step; the old file stays
        outcome.success = False
        outcome.failed_steps.append({"step": "publish", "error": str(exc).strip()})


def _lock_conflict(outcome: RunOutcome) -> LockHolder | None:
    """The process named by a DuckDB lock error that failed a step, if any."""
    from cx_insights.serve import lock_holder

    for step in outcome.failed_steps:
        holder = lock_holder(step["error"] + step.get("cause", ""))
        if holder:
            return holder
    return None


def _in_use_line(settings: Settings, exc: Exception) -> str:
    from cx_insights.serve import LockHolder, WarehouseInUseError, in_use_message, lock_holder

    if isinstance(exc, WarehouseInUseError):
        return str(exc)
    holder = lock_holder(str(exc)) or LockHolder(pid=None, program=None)
    return in_use_message(settings, holder)


def _record_run_end(
    settings: Settings, run_id: str, outcome: RunOutcome, wait_seconds: float = 30.0
) -> None:
    """Close the run-log row; while another process holds the file, retry for a while
    (a row still `running` is marked `interrupted` by the next run)."""
    from cx_insights.warehouse import WarehouseLockedError
    from orchestration.defs.report.status import record_run_end

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            record_run_end(
                settings,
                run_id,
                success=outcome.success,
                failed_checks=outcome.failed_checks,
                failed_steps=outcome.failed_steps,
                materialized=outcome.materialized,
            )
            return
        except WarehouseLockedError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)


def _write_reports(settings: Settings, outcome: RunOutcome) -> None:
    """The data-quality page, always (a blocked run needs it most).

    The dashboard is a Dagster asset (`report/dashboard`), built by the run
    when every mart it reads was built.
    """
    from orchestration.defs.report.quality_report import write_quality_report

    write_quality_report(settings, run_messages=outcome.messages())


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings()
    from orchestration.defs.report.dashboard import write_dashboard
    from orchestration.defs.report.quality_report import write_quality_report

    write_quality_report(settings)
    path = write_dashboard(settings)
    print(f"dashboard:           {path}")
    print(f"data-quality report: {settings.quality_report}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cx_insights.generate import generate

    started = time.monotonic()
    counts = generate(Path(args.out), customers=args.customers, seed=args.seed, months=args.months)
    print(json.dumps(counts, indent=2))
    print(
        f"wrote {sum(counts.values()):,} rows to {args.out} in {time.monotonic() - started:.1f} s"
    )
    return 0


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
    from orchestration.defs.report.status import print_status

    return print_status(load_settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cx-insights",
        description="Customer-experience warehouse: surveys, CRM, web, tickets, joined to money.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="materialise assets through Dagster (all by default)")
    p.add_argument("--select", default="*", help="Dagster asset selection, e.g. 'group:ingest'")
    p.add_argument("--verbose", action="store_true", help="log every Dagster step")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("generate", help="write a realistic landing directory of any size")
    p.add_argument("--out", required=True)
    p.add_argument("--customers", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--end-month", default=None, help="last month, YYYY-MM (default 2026-10)")
    p.add_argument("--overwrite", action="store_true", help="replace existing landing data")
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("report", help="(re)build the dashboard and the data-quality report")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("export", help="every mart table, one file each, with manifest.json")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("pull", help="run the configured connectors (vendor APIs -> landing)")
    p.add_argument("--source", nargs="+", help="only these connectors, e.g. zendesk stripe")
    p.add_argument("--full-refresh", action="store_true", help="forget cursors, pull all again")
    p.set_defaults(func=cmd_pull)
    p = sub.add_parser("status", help="the last runs and the freshness of each source")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # Dagster's and dbt's INFO chatter stays out
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a bad setting stops the command before anything changes
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
