"""Compare two exports (`cx-insights export`) table by table: how targets are compared.

`python -m cx_insights.compare A B` prints one line per table that differs and
exits 1 when any does. Rows are matched in sorted order; numbers are equal when
they agree to a relative 1e-9 (floating-point sums add up in another order on
another engine); build times (`built_at`, `_gated_at`, ...) are not compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns that record when something was built, not what: never compared.
BUILD_TIME_COLUMNS = ("_gated_at", "_loaded_at", "built_at", "computed_at", "generated_at")
RELATIVE_TOLERANCE = 1e-9


def _read(folder: Path, entry: dict) -> pd.DataFrame:
    path = folder / entry["file"]
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _is_build_time(column: str) -> bool:
    return any(column.endswith(suffix) for suffix in BUILD_TIME_COLUMNS)


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[[c for c in frame.columns if not _is_build_time(c)]].copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: hasattr(v, "as_tuple")).any():
            frame[column] = values.astype(float)  # decimals
    return frame.sort_values(list(frame.columns), na_position="last", kind="mergesort").reset_index(
        drop=True
    )


def _differences(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row positions where two sorted columns differ (nulls equal nulls)."""
    a_missing, b_missing = a.isna().to_numpy(), b.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        x = a.to_numpy(dtype=float, na_value=np.nan)
        y = b.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            close = np.isclose(x, y, rtol=RELATIVE_TOLERANCE, atol=1e-12) | (x == y)
        same = np.where(a_missing | b_missing, a_missing & b_missing, close)
    else:
        values = (a.astype(object).to_numpy() == b.astype(object).to_numpy()).astype(bool)
        same = np.where(a_missing | b_missing, a_missing & b_missing, values)
    return np.flatnonzero(~same)


def compare_tables(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """None when equal, else what differs first (one line)."""
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if len(a) != len(b):
        return f"rows differ: {len(a)} vs {len(b)}"
    a, b = _normalise(a), _normalise(b)
    for column in a.columns:
        rows = _differences(a[column], b[column])
        if len(rows):
            i = int(rows[0])
            return (
                f"column {column}, {len(rows)} sorted rows differ, first {i}: "
                f"{a[column].iloc[i]!r} vs {b[column].iloc[i]!r}"
            )
    return None


def compare_exports(first: Path, second: Path) -> dict[str, str]:
    """Every table whose content differs, with what differs; {} when all are equal."""
    manifests = [json.loads((f / "manifest.json").read_text()) for f in (first, second)]
    tables = [{t["table"]: t for t in m["tables"]} for m in manifests]
    problems = {}
    for name in sorted(set(tables[0]) | set(tables[1])):
        if name not in tables[0] or name not in tables[1]:
            problems[name] = "only in " + (str(first) if name in tables[0] else str(second))
            continue
        problem = compare_tables(_read(first, tables[0][name]), _read(second, tables[1][name]))
        if problem:
            problems[name] = problem
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    problems = compare_exports(args.first, args.second)
    for name, problem in problems.items():
        print(f"{name}: {problem}")
    print(f"{len(problems)} tables differ" if problems else "every table is equal")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
