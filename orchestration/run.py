"""`cx-insights run` and `pull`: the run lock, the Dagster materialisation on the
warehouse's instance, its outcome, the run log, reports, publishing and alerts."""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cx_insights.config import Settings, check_landing_dir, load_settings

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


class SelectionError(ValueError):
    """An asset selection that is malformed or matches no asset (exit 2)."""


def resolve_selection(graph, select: str) -> list:
    """The asset keys a `--select` string names; SelectionError names what exists."""
    import dagster as dg

    try:
        keys = dg.AssetSelection.from_string(select).resolve(graph)
    except Exception as exc:
        keys, problem = set(), f"is not a valid selection ({str(exc).strip().splitlines()[0]})"
    else:
        problem = "matches no asset"
    if keys:
        return sorted(keys, key=lambda k: k.to_user_string())
    all_keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    groups = sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()})
    examples = ", ".join(
        next(k for k in all_keys if k.startswith(prefix))
        for prefix in ("raw/", "accepted/", "marts/", "report/")
        if any(k.startswith(prefix) for k in all_keys)
    )
    raise SelectionError(
        f"--select {select!r} {problem}: groups are {', '.join(groups)} "
        f"(e.g. 'group:ingest'); asset keys look like {examples} (e.g. 'key:marts/kpi_monthly+')"
    )


def materialize(
    settings: Settings,
    select: str | None = None,
    log_level: str = "WARNING",
    *,
    progress: bool = False,
    verbose: bool = False,
    run_id: str | None = None,
    skip: frozenset = frozenset(),
) -> RunOutcome:
    """Materialise the assets (all by default) in this process through Dagster, on the
    warehouse's persistent instance (`<warehouse dir>/dagster_home`, or DAGSTER_HOME), so
    `make dev` shows every run, materialisation and check result. `skip`: asset keys
    left out of the selection (the insights a run does not recompute)."""
    import contextlib

    from orchestration.instance import open_instance, prune_runs
    from orchestration.progress import ProgressPrinter

    _export_env(settings)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("cx_all")
    graph = defs.resolve_asset_graph()
    kwargs: dict = {}
    if select and select != "*":
        kwargs["asset_selection"] = resolve_selection(graph, select)
    if skip:
        chosen = kwargs.get("asset_selection") or [
            k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable
        ]
        kwargs["asset_selection"] = [k for k in chosen if k not in skip]
    run_id = run_id or str(uuid.uuid4())
    insight_keys = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == "insights"
    }
    selected = kwargs.get("asset_selection") or graph.get_all_asset_keys()
    dbt_models = sum(
        1
        for k in selected
        if graph.get(k).is_materializable
        and graph.get(k).assets_def.node_def.name == "cx_dbt_models"
    )
    printer = ProgressPrinter(
        sys.stdout if progress else None, insight_keys=insight_keys, dbt_models=dbt_models
    )
    # dagster-dbt writes dbt's log lines to stdout: only with --verbose.
    quiet_stdout = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(_NullIO())
    started = time.monotonic()
    instance = open_instance(settings)
    try:

        def on_event(entry) -> None:
            event = entry.dagster_event
            if not printer.planned and event is not None:
                printer.plan(_planned_steps(instance, run_id))
            printer(entry)

        instance.add_event_listener(run_id, on_event)
        with quiet_stdout:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_id=run_id,
                tags={"cx/trigger": "cli"},
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                **kwargs,
            )
        outcome = _outcome(result, time.monotonic() - started)
        try:
            prune_runs(instance)
        except Exception as exc:  # housekeeping never fails a run
            logging.getLogger(__name__).warning("could not prune old Dagster runs: %s", exc)
    finally:
        instance.dispose()
    return outcome


class _NullIO:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _planned_steps(instance, run_id: str) -> list[str]:
    run = instance.get_run_by_id(run_id)
    if run is None or not run.execution_plan_snapshot_id:
        return []
    snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return [step.key for step in snapshot.steps]


def _outcome(result, seconds: float) -> RunOutcome:
    import dagster as dg

    outcome = RunOutcome(success=result.success, seconds=seconds)
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


def _quiet_colours() -> None:
    """No ANSI colour codes when the output is a file or a pipe."""
    if not sys.stdout.isatty():
        os.environ.setdefault("NO_COLOR", "1")
        os.environ["DBT_USE_COLORS"] = "false"


def check_selection(settings: Settings, select: str) -> None:
    """Before anything changes: a `--select` that matches nothing is an error (exit 2)."""
    if not select or select == "*":
        return
    _export_env(settings)
    from orchestration.definitions import defs

    resolve_selection(defs.resolve_asset_graph(), select)


def _export_tested_before(settings: Settings, digest: str) -> None:
    """For dbt: CX_TESTS_GATED_SINCE, the staging tests check the rows gated since the
    end of the last successful run that built every staging model with the same tests
    (dbt_project/macros/tests/get_where_subquery.sql); CX_TESTS_WRITTEN_SINCE, the key
    tests of the incremental models check the keys written since the end of the last
    successful run that built all of them (dbt_project/tests/generic/
    unique_keys_written_since_tested.sql). Empty: every row."""
    from cx_insights.report.status import last_tested_at

    _export_env(settings)
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    staging = {n.key.to_user_string() for n in nodes if n.group_name == "staging"}
    incremental = {
        n.key.to_user_string()
        for n in nodes
        if n.metadata.get("dagster-dbt/materialization_type") == "incremental"
    }
    for variable, assets in (
        ("CX_TESTS_GATED_SINCE", staging),
        ("CX_TESTS_WRITTEN_SINCE", incremental),
    ):
        since = last_tested_at(settings, assets, digest)
        os.environ[variable] = since.isoformat(sep=" ") if since else ""


def cmd_run(args: argparse.Namespace) -> int:
    from cx_insights.serve import WarehouseInUseError, check_warehouse_free, in_use_message
    from cx_insights.warehouse import WarehouseLockedError

    settings = load_settings()
    say = _printer(args.quiet)
    say(f"landing:   {settings.landing_dir}")
    say(f"warehouse: {settings.warehouse}")
    _quiet_colours()
    if not args.verbose:  # Dagster's warnings (about dbt tests it observes, ...): not errors
        for handler in logging.getLogger().handlers:
            handler.addFilter(_dagster_below_error)
    started = time.monotonic()
    try:
        with run_lock(settings):
            say("loading the pipeline (Dagster, dbt, Great Expectations: about 20 s)")
            check_selection(settings, args.select)
            pulled = _pull_first(settings, args)
            check_landing_dir(settings.landing_dir)  # a mistyped or empty one changes nothing
            check_warehouse_free(settings)  # a BI tool holding the file: stop before any change
            if settings.target == "postgres":
                from cx_insights import postgres

                say(f"target:    PostgreSQL ({postgres.connection(settings).dsn})")
            elif settings.target == "spark":
                from cx_insights import spark

                say(f"target:    Spark ({spark.describe(settings)})")
            from cx_insights.report.status import dbt_tests_digest, record_run_start

            # One id for the run log, the published file's marts._build and Dagster's run.
            run_id = str(uuid.uuid4())
            os.environ["CX_RUN_ID"] = run_id
            digest = dbt_tests_digest()
            _export_tested_before(settings, digest)
            now = datetime.now(UTC).replace(tzinfo=None)
            insights, skip = _plan_insights(settings, args, pulled[0], now)
            if insights:
                say(f"insights:  {insights.line()}")
            record_run_start(settings, run_id, now, digest, insights)
            holder = None
            try:
                from cx_insights.spark import connect_server

                with connect_server(settings):  # Spark target: one warm JVM for the run
                    outcome = materialize(
                        settings,
                        pulled[0],
                        "DEBUG" if args.verbose else "CRITICAL",
                        progress=not args.quiet,
                        verbose=args.verbose,
                        run_id=run_id,
                        skip=skip,
                    )
                outcome.failed_steps[:0] = pulled[1]
                outcome.success = outcome.success and not pulled[1]
                _publish_unless_published(settings, outcome, run_id)
                holder = _lock_conflict(outcome)
            except Exception as exc:  # the run log and the summary still say what happened
                outcome = _crashed(exc, args.verbose, time.monotonic() - started)
            _record_run_end(settings, run_id, outcome)
            from cx_insights.ops.housekeeping import clean_after_run

            clean_after_run(settings)
            if holder:
                raise WarehouseInUseError(in_use_message(settings, holder))
            _write_reports(settings, outcome)
            _send_alerts(settings, outcome, run_id, say)
    except RunLockedError as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 3
    except (WarehouseInUseError, WarehouseLockedError) as exc:
        print(f"cx-insights: {_in_use_line(settings, exc)}", file=sys.stderr)
        return 3
    except SelectionError as exc:
        print(f"cx-insights: {exc}", file=sys.stderr)
        return 2
    _print_summary(settings, outcome, run_id, say)
    if not outcome.success:
        print(
            "cx-insights: the run did not complete: see the BLOCKED / FAILED lines above "
            f"and {settings.quality_report}",
            file=sys.stderr,
        )
        return 1
    return 0


def _dagster_below_error(record: logging.LogRecord) -> bool:
    return not (record.name.startswith("dagster") and record.levelno < logging.ERROR)


def _printer(quiet: bool):
    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    return say


def _crashed(exc: BaseException, verbose: bool, seconds: float) -> RunOutcome:
    """A run that raised: one FAILED line (the traceback only with --verbose)."""
    if verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    failed = [{"step": "run", "error": error}]
    return RunOutcome(success=False, failed_steps=failed, seconds=seconds)


def _print_summary(settings: Settings, outcome: RunOutcome, run_id: str, say) -> None:
    from orchestration.instance import dagster_home
    from orchestration.progress import STAGES, stage_of

    for line in outcome.messages():
        print(line, file=sys.stderr)
    by_stage: dict[str, int] = {}
    for key in outcome.materialized:
        stage = stage_of(key.replace("/", "__"))
        stage = "dbt models" if stage == "other" else stage
        by_stage[stage] = by_stage.get(stage, 0) + 1
    order = {stage: i for i, stage in enumerate(STAGES)}
    built = (
        ", ".join(
            f"{stage} {n}" for stage, n in sorted(by_stage.items(), key=lambda s: order[s[0]])
        )
        or "nothing"
    )
    say("")
    say(f"{'succeeded' if outcome.success else 'did not complete'}: built {built}")
    if outcome.failed_checks or outcome.failed_steps:
        say(
            f"blocked by {len(outcome.failed_checks)} failed checks and "
            f"{len(outcome.failed_steps)} failed steps (lines above); models downstream "
            "of them were not rebuilt"
        )
    say(f"run took {outcome.seconds:.1f} s")
    say(f"warehouse:           {settings.warehouse} (the run's working file)")
    if settings.target == "postgres":
        from cx_insights import postgres

        say(f"BI tools connect to: {postgres.connection(settings, start=False).dsn} (PostgreSQL)")
    if settings.published.exists():
        kept = "" if outcome.success else " (the last good build, unchanged)"
        say(f"BI tools open:       {settings.published} (read-only){kept}")
    say(f"data-quality report: {settings.quality_report}")
    if settings.dashboard.exists():
        say(f"dashboard:           {settings.dashboard}")
    say(f"Dagster run:         {run_id} in {dagster_home(settings)} (`make dev` shows it)")


def scheduled_insight_keys(graph) -> frozenset:
    """The assets a run may leave out: the models with dbt tag `insights` (the insight
    folders and fct_verbatim_topics) and the computed tables, less any whose output a
    model outside them reads, so what is built is never built from a stale insight."""
    from orchestration.defs.report.assets import REPORT_GROUP
    from orchestration.defs.transform.assets import INSIGHTS_TAG

    keys = {
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and graph.get(k).tags.get(INSIGHTS_TAG)
    }
    while True:
        read_outside = {
            k
            for k in keys
            for child in graph.get(k).child_keys
            if child not in keys and graph.get(child).group_name != REPORT_GROUP
        }
        if not read_outside:
            return frozenset(keys)
        keys -= read_outside


def _plan_insights(settings: Settings, args: argparse.Namespace, selection: str, now: datetime):
    """A full run's plan for the insight models (cx_insights/insights/schedule.py), and
    the assets it leaves out; a run with --select builds what it selects."""
    from cx_insights.insights.schedule import (
        export_skipped,
        inputs_digest,
        last_computation,
        plan_insights,
    )

    if args.select != "*":
        return None, frozenset()
    from orchestration.definitions import defs

    inputs = inputs_digest(settings, pulled=selection != "*")
    plan = plan_insights(
        settings,
        inputs,
        now,
        force=getattr(args, "refresh_insights", False),
        last=last_computation(settings),
    )
    skip = frozenset() if plan.compute else scheduled_insight_keys(defs.resolve_asset_graph())
    export_skipped(plan, [k.path[-1] for k in skip if k.path[0] == "marts"])
    return plan, skip


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
    from cx_insights.report.status import record_run_end
    from cx_insights.warehouse import WarehouseLockedError

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
    """The data-quality page, always (a blocked run needs it most), written after the
    run-log row is closed so it shows this run with its final status.

    The dashboard is a Dagster asset (`report/dashboard`), built by the run when every
    mart it reads was built; it was written while this run was still `running`, so it
    is updated here with the run's final status: only its "Last run" cards are
    rewritten (the marts it shows are the same; writing the whole page again took as
    long as the first write, ~11 s).
    """
    from cx_insights.report.quality_report import write_quality_report

    write_quality_report(settings, run_messages=outcome.messages())
    if "report/dashboard" in outcome.materialized:
        from cx_insights.report.dashboard.render import refresh_last_run, write_dashboard

        if not refresh_last_run(settings):
            write_dashboard(settings)


def _send_alerts(settings: Settings, outcome: RunOutcome, run_id: str, say) -> None:
    """A failed run, or (after a successful build) KPI alerts from the published marts:
    each written once to the outbox (and POSTed to CX_ALERT_WEBHOOK when set)."""
    from cx_insights.ops.alerts import deliver, kpi_alerts, outbox_dir, run_failed_alert

    try:
        if not outcome.success:
            alerts = [run_failed_alert(run_id, outcome.messages())]
        elif settings.published.exists() and any(
            key.startswith("marts/") for key in outcome.materialized
        ):
            import duckdb

            with duckdb.connect(str(settings.published), read_only=True) as con:
                alerts = kpi_alerts(con)
        else:
            alerts = []
        outbox = outbox_dir(settings.warehouse)
        new = deliver(alerts, outbox, settings.alert_webhook)
    except Exception as exc:  # alerting never changes a run's outcome
        print(f"cx-insights: alerts not sent: {exc}", file=sys.stderr)
        return
    if new:
        say(f"alerts:              {len(new)} new in {outbox}")
