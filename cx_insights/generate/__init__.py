"""Realistic landing directories of any size, written to the landing contract.

`generate()` writes `<out>/<source>/<entity>/<file>` for every entity of
`cx_insights.contract.ENTITIES`: the framework and questions once, then every
chunk of customers (20,000 at a time, so memory stays bounded for any size) as
three drops (`main`, `updates`, `corrections`). `add_daily_drop()` appends one
incremental day. Output is byte-identical for the same arguments, and file
modification times are pinned (the loader orders files by modification time,
then name; names sort in the same order, because a git checkout does not keep
modification times).

What the data holds (signals, planted bad rows) is described in seeds/README.md.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from cx_insights.contract import ENTITIES, ENTITY_BY_QUALIFIED, SOURCES
from cx_insights.generate.chunk import DROPS, FORMAT, UPDATE_FORMAT, ChunkSpec, build_chunk
from cx_insights.generate.daily import add_daily_drop
from cx_insights.generate.files import pin_mtime, stamp_text, write_table
from cx_insights.generate.population import agent_quality
from cx_insights.generate.reference import framework_tables, fx_table
from cx_insights.generate.timeline import DEFAULT_END_MONTH, HOUR, Window, make_window

__all__ = ["CHUNK_CUSTOMERS", "DEFAULT_END_MONTH", "add_daily_drop", "generate", "landing_file"]

#: Customers simulated and written together; bounds memory (about 0.7 GiB per worker).
CHUNK_CUSTOMERS = 20_000
#: When each drop was extracted, after the end of the data window.
_DROP_DELAY = {"reference": HOUR // 2, "main": HOUR, "updates": 2 * HOUR, "corrections": 3 * HOUR}


def landing_file(out: Path, qualified: str, name: str) -> Path:
    entity = ENTITY_BY_QUALIFIED[qualified]
    return Path(out) / entity.source / entity.name / name


def _usable_cpus() -> int:
    """CPUs this process may run on (a container may see more than it gets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _prepare(out: Path, overwrite: bool) -> None:
    existing = [out / s for s in SOURCES if (out / s).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds landing data ({', '.join(p.name for p in existing)}); "
            "write to an empty directory, or delete it first (overwrite=True from Python)"
        )
    for path in existing:
        shutil.rmtree(path)
    out.mkdir(parents=True, exist_ok=True)


def _write(out: Path, qualified: str, name: str, table: pa.Table) -> Path | None:
    if table.num_rows == 0:
        return None
    path = landing_file(out, qualified, name)
    write_table(table, path)
    return path


def _write_chunk(
    out: Path, spec: ChunkSpec, window: Window, quality: np.ndarray
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Build and write one chunk; returns rows per entity and (path, drop) written."""
    drops = build_chunk(spec, window, quality)
    counts: Counter[str] = Counter()
    written: list[tuple[str, str]] = []
    for drop in DROPS:
        stamp = stamp_text(window.end + _DROP_DELAY[drop])
        for qualified, table in drops[drop].items():
            ext = (FORMAT if drop == "main" else UPDATE_FORMAT)[qualified]
            name = f"{stamp}-{drop}-{spec.number:05d}.{ext}"
            path = _write(out, qualified, name, table)
            if path is not None:
                counts[qualified] += table.num_rows
                written.append((str(path), drop))
    return dict(counts), written


def generate(
    out: Path,
    customers: int,
    seed: int,
    months: int = 24,
    end_month: str | None = None,
    *,
    workers: int | None = None,
    overwrite: bool = False,
) -> dict[str, int]:
    """Write a landing directory; returns the rows written per `<source>__<entity>`.

    `end_month` (`YYYY-MM`, default 2026-10) is the last month of data; the
    window is the `months` months ending there. `workers` processes build
    chunks in parallel (default: up to the CPU count when there is more than
    one chunk); the output does not depend on it.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    out = Path(out)
    window = make_window(months, end_month)
    _prepare(out, overwrite)

    counts: Counter[str] = Counter()
    written: list[tuple[str, str]] = []
    ref_stamp = stamp_text(window.end + _DROP_DELAY["reference"])
    reference = framework_tables(window)
    reference["framework__fx_rates"] = fx_table(seed, window)
    for qualified, table in reference.items():
        path = _write(out, qualified, f"{ref_stamp}-reference.csv", table)
        if path is not None:
            counts[qualified] += table.num_rows
            written.append((str(path), "reference"))

    specs = [
        ChunkSpec(seed, i + 1, first + 1, min(CHUNK_CUSTOMERS, customers - first))
        for i, first in enumerate(range(0, customers, CHUNK_CUSTOMERS))
    ]
    quality = agent_quality(seed)
    if workers is None:
        workers = min(len(specs), _usable_cpus(), 4)
    if workers > 1 and len(specs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = list(
                pool.map(_write_chunk, [out] * len(specs), specs, [window] * len(specs),
                         [quality] * len(specs))
            )  # fmt: skip
    else:
        results = [_write_chunk(out, spec, window, quality) for spec in specs]
    for chunk_counts, chunk_written in results:
        counts.update(chunk_counts)
        written += chunk_written

    # Modification times last, once every file exists: they order the drops for the loader.
    for path, drop in written:
        pin_mtime(Path(path), window.end + _DROP_DELAY[drop])
    return {e.qualified: counts.get(e.qualified, 0) for e in ENTITIES}
