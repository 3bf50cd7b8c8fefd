"""Run connectors: one dlt pipeline per connector, its state under the warehouse folder.

`pull_connector` is what the Dagster assets and `cx-insights pull` call. A
resource that loses a page (after its retries) stops there: what it pulled so far
lands, its cursor stays at the last good page, and the pull then fails with one
redacted line, so the next pull resumes exactly there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cx_insights.config import Settings
from cx_insights.connectors.landing import PullRun, landing_destination
from cx_insights.connectors.settings import ConnectorError, ConnectorSpec, redact

log = logging.getLogger(__name__)

STATUS_FILE = "last_pull.json"


def state_dir(settings: Settings, name: str) -> Path:
    return settings.output_dir / "connectors" / name


@dataclass
class PullResult:
    connector: str
    ok: bool
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    drift: dict[str, list[str]] = field(default_factory=dict)
    cursors: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


def reset(settings: Settings, name: str) -> None:
    """Forget a connector's cursors: the next pull starts from scratch. Landed files stay
    (the re-pulled rows land in later files, so the latest row per key is right)."""
    folder = state_dir(settings, name)
    if folder.exists():
        shutil.rmtree(folder)


def pull_connector(
    settings: Settings,
    spec: ConnectorSpec,
    env: Mapping[str, str] | None = None,
    resources: Sequence[str] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> PullResult:
    import dlt

    # dlt warns about every contract column a batch leaves empty: noise here. dlt sets
    # its logger's level from its own config when a pipeline starts, so set both.
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    logging.getLogger("dlt").setLevel(logging.ERROR)
    cfg = spec.settings(env)
    secrets = cfg.secrets()
    say = on_log or log.info
    run = PullRun(spec.name)
    started = datetime.now(UTC)
    folder = state_dir(settings, spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    result = PullResult(spec.name, ok=False)
    try:
        source = spec.build_source(cfg, run)
        # Every value arrives as text: no guessing that a string is a timestamp.
        source.schema.remove_type_detection("iso_timestamp")
        if resources:
            source = source.with_resources(*resources)
        pipeline = dlt.pipeline(
            pipeline_name=spec.name,
            pipelines_dir=str(folder),
            destination=landing_destination(settings.landing_dir, run),
            dataset_name=spec.name,
        )
        pipeline.run(source).raise_on_failed_jobs()
        result.cursors = _cursors(pipeline.state, spec.name)
    except Exception as exc:  # noqa: BLE001 - reported as one redacted line
        run.errors.append(f"{spec.name}: {_root_message(exc)}")
    result.rows, result.files = dict(run.rows), list(run.files)
    result.drift = {k: sorted(v) for k, v in run.drift.items()}
    result.error = redact("; ".join(run.errors), secrets)
    result.ok = not run.errors
    result.seconds = (datetime.now(UTC) - started).total_seconds()
    if not result.cursors:
        result.cursors = _saved_cursors(folder, spec.name)
    for obj, fields in result.drift.items():
        say(f"{spec.name}: {obj} has new fields, kept as extra columns: {', '.join(fields)}")
    _write_status(folder, result, started, secrets)
    if not result.ok:
        raise ConnectorError(result.error)
    return result


def _root_message(exc: BaseException) -> str:
    """Our own error's message when dlt wrapped it (PipelineStepFailed), else the innermost."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    chosen = next((e for e in chain if isinstance(e, ConnectorError)), chain[-1])
    text = str(chosen).strip()
    return text.splitlines()[0] if text else type(chosen).__name__


def _cursors(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    resources = state.get("sources", {}).get(name, {}).get("resources", {})
    return {r: _flat(s) for r, s in resources.items() if s}


def _flat(state: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's state, with a dlt `incremental` cursor shown as `<column>=<last value>`
    (as dlt's filesystem source keeps it) instead of its nested bookkeeping."""
    flat = {k: v for k, v in state.items() if k != "incremental"}
    for column, inc in (state.get("incremental") or {}).items():
        if isinstance(inc, Mapping):
            last = inc.get("last_value")
            flat[column] = last.isoformat() if hasattr(last, "isoformat") else last
    return flat


def _saved_cursors(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name / "state.json"
    try:
        return _cursors(json.loads(path.read_text()), name)
    except (OSError, ValueError):
        return {}


def _write_status(folder: Path, result: PullResult, started: datetime, secrets: list) -> None:
    path = folder / STATUS_FILE
    previous = read_status(folder)
    finished = datetime.now(UTC)
    status = {
        "connector": result.connector,
        "last_attempt_at": f"{started:%Y-%m-%dT%H:%M:%SZ}",
        "last_status": "success" if result.ok else "failed",
        "last_error": result.error,
        "last_success_at": (
            f"{finished:%Y-%m-%dT%H:%M:%SZ}" if result.ok else previous.get("last_success_at")
        ),
        "rows": result.rows,
        "files": len(result.files),
        "drift": result.drift,
        "cursors": result.cursors,
    }
    text = redact(json.dumps(status, indent=2, sort_keys=True, default=str), secrets)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_status(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def cursor_summary(cursors: Mapping[str, Any], width: int = 60) -> str:
    """One short line: each resource's cursor (`tickets: after_cursor=...`)."""
    parts = []
    for resource, state in sorted(cursors.items()):
        values = ", ".join(
            f"{k}={v}" for k, v in sorted(state.items()) if not isinstance(v, list | dict)
        )
        parts.append(f"{resource}: {values}" if values else resource)
    text = "; ".join(parts) or "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def status_lines(settings: Settings) -> list[str]:
    """`cx-insights status`: each connector's last success and last cursor."""
    root = settings.output_dir / "connectors"
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    lines = [
        "",
        "connectors (UTC)",
        f"  {'connector':10}  {'last success':20}  last pull, then each object's cursor",
    ]
    if not names:
        lines.append("  (none has pulled yet)")
    for name in names:
        s = read_status(root / name)
        lines.append(
            f"  {name:10}  {s.get('last_success_at') or '-':20}  {s.get('last_status', '-'):8}"
        )
        for resource, state in sorted(s.get("cursors", {}).items()):
            lines.append(f"  {'':10}  {cursor_summary({resource: state}, 100)}")
    return lines
