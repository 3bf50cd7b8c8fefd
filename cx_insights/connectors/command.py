"""`cx-insights pull`, and the pull that `cx-insights run` does first."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cx_insights.config import Settings, SettingsError
from cx_insights.connectors.registry import CONNECTORS, configured, unconfigured
from cx_insights.connectors.runner import cursor_summary, read_status, reset, state_dir

#: What `cx-insights run` materialises after pulling (the connectors ran already).
AFTER_PULL_SELECTION = "not group:connectors"


def selection(names: Sequence[str]) -> str:
    return " or ".join(f'key:"connectors/{name}/*"' for name in names)


def chosen(sources: Sequence[str] | None) -> list[str]:
    """The configured connectors to pull (all by default); SettingsError names what is wrong."""
    ready = [spec.name for spec in configured()]
    if not sources:
        return ready
    names = []
    for name in sources:
        name = name.strip().lower()
        if name not in CONNECTORS:
            raise SettingsError(
                f"--source {name!r} is not a connector: expected one of {', '.join(CONNECTORS)}"
            )
        if name not in ready:
            missing = ", ".join(CONNECTORS[name].missing(os.environ))
            raise SettingsError(f"connector {name} is not configured: set {missing}")
        names.append(name)
    return names


def pull(settings: Settings, names: Sequence[str], materialize: Callable[..., Any]) -> Any:
    """Materialise the connectors' assets through Dagster (one code path with `run`)."""
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    outcome = materialize(settings, selection(names), "CRITICAL")
    for name in names:
        status = read_status(state_dir(settings, name))
        rows = ", ".join(f"{k} {v}" for k, v in sorted(status.get("rows", {}).items())) or "no row"
        line = f"{name:10} {status.get('last_status', '?'):8} {rows}"
        print(line)
        print(f"{'':10} cursor {cursor_summary(status.get('cursors', {}), 100)}")
        if status.get("last_error"):
            print(f"{'':10} error  {status['last_error']}", file=sys.stderr)
    return outcome


def pull_command(
    settings: Settings,
    sources: Sequence[str] | None,
    full_refresh: bool,
    materialize: Callable[..., Any],
) -> int:
    for name, missing in unconfigured().items():
        print(f"{name}: not pulled, settings missing: {', '.join(missing)}", file=sys.stderr)
    names = chosen(sources)
    if not names:
        print("no connector is configured: nothing to pull (see README, Connectors)")
        return 0
    if full_refresh:
        for name in names:
            reset(settings, name)
            print(f"{name}: cursors reset, pulling from scratch")
    outcome = pull(settings, names, materialize)
    for line in outcome.messages():
        print(line, file=sys.stderr)
    return 0 if outcome.success else 1


def pull_before_run(settings: Settings, materialize: Callable[..., Any]) -> tuple[str, list]:
    """When connectors are configured: pull them, and return the selection for the rest of
    the run and the pull's failed steps (the run goes on with what landed)."""
    names = chosen(None)
    if not names:
        return "*", []
    outcome = pull(settings, names, materialize)
    return AFTER_PULL_SELECTION, list(outcome.failed_steps)
