"""Value formatting (timestamps, money, ids) and the three landing file formats.

Everything here is vectorised through pyarrow/numpy: the generator formats tens
of millions of values and must not loop in Python over rows. Times are int64
seconds since the Unix epoch (UTC) until they are written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cx_insights.contract import ENTITY_BY_QUALIFIED

#: Marks a missing time in int64-second arrays.
NO_TIME = np.iinfo(np.int64).min
#: Offsets (seconds) used for the share of timestamps written in local time.
_OFFSETS = np.array([7200, 3600, -18000, 19800])
_OFFSET_SUFFIX = np.array(["+02:00", "+01:00", "-05:00", "+05:30"], dtype=object)


def ts_strings(
    rng: np.random.Generator,
    seconds: np.ndarray,
    p_offset: float = 0.06,
    p_naive: float = 0.02,
) -> pa.Array:
    """ISO 8601 strings: mostly `...Z`, some in local time with an offset, a few naive.

    Every form denotes the same UTC instant under the contract's rules (a value
    without an offset is taken as UTC, so naive ones are written in UTC).
    """
    seconds = np.asarray(seconds, dtype=np.int64)
    n = len(seconds)
    missing = seconds == NO_TIME
    u = rng.random(n)
    with_offset = u < p_offset
    naive = (u >= p_offset) & (u < p_offset + p_naive)
    which = rng.integers(0, len(_OFFSETS), n)
    shift = np.where(with_offset, _OFFSETS[which], 0)
    local = np.where(missing, 0, seconds + shift).astype("datetime64[s]")
    text = pc.replace_substring(pa.array(local).cast(pa.string()), " ", "T", max_replacements=1)
    suffix = np.where(with_offset, _OFFSET_SUFFIX[which], np.where(naive, "", "Z"))
    out = pc.binary_join_element_wise(text, pa.array(suffix, pa.string()), "")
    if missing.any():
        out = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), out)
    return out


def date_strings(seconds: np.ndarray) -> pa.Array:
    days = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[D]")
    return pa.array(days).cast(pa.string())


def money_strings(cents: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Decimal strings with two places (`-12.50`) from integer cents."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = pa.array(np.abs(cents) // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(np.abs(cents) % 100).cast(pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""), pa.string())
    out = pc.binary_join_element_wise(pc.binary_join_element_wise(sign, whole, ""), frac, ".")
    if missing is not None and missing.any():
        out = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), out)
    return out


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + zero-padded number, e.g. ids("C", [7], 7) -> "C0000007"."""
    digits = pc.utf8_lpad(
        pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width, "0"
    )
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def pick(values: tuple[str, ...] | list[str], index: np.ndarray, valid: np.ndarray | None = None):
    """Strings of `values` at `index` as an arrow array (null where not `valid`)."""
    arr = pa.array(list(values), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))
    if valid is not None and not valid.all():
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))
    return arr


def nulls(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def entity_table(qualified: str, columns: Mapping[str, pa.Array | np.ndarray | list]) -> pa.Table:
    """A table with exactly the contract columns of the entity, in contract order.

    Columns not given are written as all-null text so every file carries the
    full contract header; a name outside the contract is a programming error.
    """
    entity = ENTITY_BY_QUALIFIED[qualified]
    unknown = set(columns) - set(entity.column_names)
    if unknown:
        raise ValueError(f"{qualified}: not contract columns: {sorted(unknown)}")
    n = len(next(iter(columns.values())))
    arrays = []
    for name in entity.column_names:
        col = columns.get(name)
        if col is None:
            arrays.append(nulls(n))
        elif isinstance(col, pa.Array | pa.ChunkedArray):
            arrays.append(col)
        else:
            arrays.append(pa.array(col))
    return pa.table(arrays, names=list(entity.column_names))


def write_table(table: pa.Table, path: Path) -> None:
    """Write by extension: .csv (RFC 4180, empty = null), .parquet (zstd), .jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    elif path.suffix == ".parquet":
        pq.write_table(table, path, compression="zstd", compression_level=6)
    elif path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for row in table.to_pylist():
                fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        raise ValueError(f"unsupported landing format: {path}")


def stamp_text(epoch_seconds: int) -> str:
    """`20261101T010000`: how file names carry their drop time (they sort like mtimes)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y%m%dT%H%M%S")


def pin_mtime(path: Path, epoch_seconds: int) -> None:
    os.utime(path, (epoch_seconds, epoch_seconds))
