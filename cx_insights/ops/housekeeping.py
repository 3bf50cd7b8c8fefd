"""After a run: nothing piles up beside the warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

from cx_insights.config import Settings


def spill_paths(settings: Settings) -> list[Path]:
    """DuckDB's spill folder (`<file>.tmp`, its default temp_directory, for the working
    and the published file) and half-written copies of the published file."""
    paths = [
        settings.warehouse.with_name(settings.warehouse.name + ".tmp"),
        settings.published.with_name(settings.published.name + ".tmp"),
    ]
    paths += sorted(settings.output_dir.glob(f".{settings.published.name}.*.tmp*"))
    return [p for p in paths if p.exists()]


def clean_after_run(settings: Settings) -> list[Path]:
    """Remove the spill and temp files of a finished run (the caller holds the run lock,
    so no process is using them); returns what was removed."""
    removed = []
    for path in spill_paths(settings):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
