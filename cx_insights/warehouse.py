"""Short-lived DuckDB connections to the warehouse file.

DuckDB lets one process hold a file at a time (even a read-only holder blocks
dbt's writes), so every asset and check opens the warehouse in a `with`
block and closes it before the next step runs.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

SCHEMAS = ("raw", "quarantine", "staging", "intermediate", "marts")


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file."""


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with UTC as the session time zone."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"the warehouse {path} is in use by another process ({exc}). "
                "Wait for the running `cx-insights run` (or close the BI tool / "
                "DuckDB shell holding it) and try again."
            ) from exc
        raise
    try:
        con.execute("set TimeZone = 'UTC'")
        # DuckDB would take up to 80 % of RAM; larger operations spill to disk instead.
        con.execute(f"set memory_limit = {sql_literal(memory_limit())}")
        if not read_only:
            for schema in ("raw", "quarantine"):
                con.execute(f"create schema if not exists {schema}")
        yield con
    finally:
        con.close()


#: DuckDB's memory cap when CX_DUCKDB_MEMORY_LIMIT is not set; dbt's profile
#: (dbt_project/profiles.yml) defaults to 1 GiB less (its Python models' frames).
DEFAULT_MEMORY_LIMIT = "5GiB"


def memory_limit() -> str:
    """The cap on DuckDB's memory for every connection (CX_DUCKDB_MEMORY_LIMIT)."""
    return os.environ.get("CX_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT


def release_memory() -> None:
    """Hand the memory this process freed back to the system before a stage that
    needs room (dbt, whose DuckDB runs in a child process, and the publish).

    The gate's and the checks' pandas frames and Arrow batches are freed when they
    end, but glibc's heap and Arrow's pool keep the pages for reuse, counted in the
    run's peak while dbt runs: 135 MB returned after the gate at 100 k customers (most
    of what the run held then was GX's cached chunks: expectations/runner.py).
    Returning them costs milliseconds; nothing in use is touched.
    """
    gc.collect()
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    with suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
