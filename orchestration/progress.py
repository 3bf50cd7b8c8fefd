"""Progress a person can follow: one line per stage as it starts and as it ends.

Fed by the Dagster events of the run (`DagsterInstance.add_event_listener`):
step start, success, failure and skip, materialisations (their metadata gives
files and rows) and check evaluations. Stages follow the data's flow.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

STAGES = ("connectors", "ingest", "quality gate", "dbt models", "insights", "reports", "publish")


def stage_of(step_key: str) -> str:
    """The stage a step belongs to, from its key (`raw__crm__customers_freshness`, ...)."""
    if step_key.startswith("connectors"):
        return "connectors"
    if step_key.startswith("raw__"):
        return "ingest"
    if step_key.startswith("accepted__"):
        return "quality gate"
    if step_key == "report__published_marts":
        return "publish"
    if step_key.startswith("report__"):
        return "reports"
    if "dbt" in step_key:
        return "dbt models"
    return "other"


def _isatty(out: IO[str]) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def _number(value: Any) -> float:
    inner = getattr(value, "value", value)
    return inner if isinstance(inner, int | float) and not isinstance(inner, bool) else 0


@dataclass
class StageProgress:
    steps: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    failed: int = 0
    skipped: int = 0
    started: float | None = None
    ended: float | None = None
    assets: int = 0
    counts: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    checks_failed: int = 0
    checks_warned: int = 0


class ProgressPrinter:
    """Call with each EventLogEntry of one run; prints to `out` (None: prints nothing)."""

    def __init__(
        self,
        out: IO[str] | None,
        step_keys: list[str] | None = None,
        insight_keys: set[str] | frozenset[str] = frozenset(),
        dbt_models: int = 0,
    ) -> None:
        self.out = out
        self.insight_keys = insight_keys
        #: How many models the dbt step will build: a progress bar counts up to it on a
        #: terminal (never into a file or a pipe: plain lines there).
        self.dbt_models = dbt_models
        self.bar = bool(dbt_models) and out is not None and _isatty(out)
        self.bar_shown = False
        self.stages: dict[str, StageProgress] = {s: StageProgress() for s in STAGES}
        self.stages["other"] = StageProgress()
        self.planned = False
        if step_keys is not None:
            self.plan(step_keys)

    def plan(self, step_keys: list[str]) -> None:
        for key in step_keys:
            self.stages[stage_of(key)].steps.add(key)
        self.planned = True

    def _say(self, stage: str, text: str) -> None:
        if self.out is not None:
            if self.bar_shown:  # the bar's line gives way to the stage line
                self.out.write("\r\x1b[K")
                self.bar_shown = False
            self.out.write(f"{time.strftime('%H:%M:%S')}  {stage:13} {text}\n")
            self.out.flush()

    def _draw_bar(self) -> None:
        done = self.stages["dbt models"].assets + self.stages["insights"].assets
        total = max(self.dbt_models, done)
        width = 30
        filled = width * done // total
        self.out.write(
            f"\r{time.strftime('%H:%M:%S')}  {'dbt models':13} "
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} models"
        )
        self.out.flush()
        self.bar_shown = True

    def __call__(self, entry: Any) -> None:
        event = getattr(entry, "dagster_event", None)
        if event is None or not event.step_key:
            if event is not None and event.event_type_value in ("RUN_SUCCESS", "RUN_FAILURE"):
                self.finish()
            return
        stage = self.stages[stage_of(event.step_key)]
        name = stage_of(event.step_key)
        kind = event.event_type_value
        if kind == "STEP_START":
            if stage.started is None:
                stage.started = time.monotonic()
                self._say(name, "started")
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            stage.done.add(event.step_key)
            stage.failed += kind == "STEP_FAILURE"
            stage.skipped += kind == "STEP_SKIPPED"
            if stage.steps and stage.done >= stage.steps and stage.ended is None:
                self._end(name)
        elif kind == "ASSET_MATERIALIZATION":
            self._materialized(name, stage, event)
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is not None and not data.passed:
                if str(getattr(data.severity, "value", data.severity)).upper() == "WARN":
                    stage.checks_warned += 1
                else:
                    stage.checks_failed += 1

    def _materialized(self, name: str, stage: StageProgress, event: Any) -> None:
        data = event.event_specific_data
        mat = getattr(data, "materialization", None)
        if mat is None:
            return
        key = mat.asset_key.to_user_string()
        metadata = mat.metadata or {}
        if name == "dbt models" and key in self.insight_keys:
            insights = self.stages["insights"]
            if insights.started is None:
                insights.started = time.monotonic()
            insights.assets += 1
            insights.counts["seconds"] += _number(metadata.get("Execution Duration"))
            if self.bar:
                self._draw_bar()
            return
        stage.assets += 1
        if name == "dbt models" and self.bar:
            self._draw_bar()
        files = getattr(metadata.get("files"), "value", None)
        if isinstance(files, dict):
            stage.counts["files loaded"] += _number(files.get("loaded", 0))
        for label, meta_key in (
            ("rows loaded", "rows_loaded_this_run"),
            ("rows accepted", "rows_accepted"),
            ("rows quarantined", "rows_quarantined"),
        ):
            stage.counts[label] += _number(metadata.get(meta_key))

    def _summary(self, name: str, stage: StageProgress) -> str:
        parts = []
        if name == "dbt models":
            parts.append(f"{stage.assets} models")
        elif name == "insights":
            parts.append(f"{stage.assets} insight models (inside the dbt step)")
        elif stage.assets:
            parts.append(f"{stage.assets} assets")
        for label, value in stage.counts.items():
            if label != "seconds" and value:
                parts.append(f"{int(value):,} {label}")
        if stage.checks_failed:
            parts.append(f"{stage.checks_failed} checks failed")
        if stage.checks_warned:
            parts.append(f"{stage.checks_warned} checks warned")
        if stage.failed:
            parts.append(f"{stage.failed} steps failed")
        if stage.skipped:
            parts.append(f"{stage.skipped} steps skipped")
        if name == "insights":
            seconds = stage.counts.get("seconds", 0.0)
        else:
            seconds = (stage.ended or time.monotonic()) - (stage.started or time.monotonic())
        parts.append(f"{seconds:.1f} s")
        return ", ".join(parts)

    def _end(self, name: str) -> None:
        stage = self.stages[name]
        stage.ended = time.monotonic()
        status = "done"
        if stage.failed:
            status = "FAILED"
        elif stage.skipped and not stage.assets:
            status = "skipped"
        self._say(name, f"{status}: {self._summary(name, stage)}")
        if name == "dbt models" and self.stages["insights"].assets:
            insights = self.stages["insights"]
            insights.ended = stage.ended
            self._say("insights", f"done: {self._summary('insights', insights)}")

    def finish(self) -> None:
        """At the run's end: close the stages still open (a failure ended the run)."""
        for name, stage in self.stages.items():
            if stage.ended is None and (stage.started is not None or stage.done):
                self._end(name)
            elif stage.ended is None and stage.steps and name != "insights":
                stage.ended = time.monotonic()
                self._say(name, "skipped: not run (an earlier failure or blocking check)")
