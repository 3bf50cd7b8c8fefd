"""`cx-insights export`: every mart table, one file each, with a manifest.

Reads the published file (what BI tools see) or, before the first successful
run has published one, the working warehouse. Rows are written in `order by
all` order, so two exports of the same build are byte-identical (CSV) and
exports of two targets can be compared file by file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cx_insights.config import Settings
from cx_insights.serve import BUILD_TABLE, MARTS_SCHEMA, mart_tables
from cx_insights.warehouse import quote_ident, sql_literal, table_exists

FORMATS = ("parquet", "csv")
MANIFEST = "manifest.json"


class ExportError(RuntimeError):
    """Nothing to export (no warehouse, or no marts in it); the message is one line."""


def export_source(settings: Settings) -> Path:
    """The published file when there is one, else the working warehouse."""
    if settings.published.exists():
        return settings.published
    if settings.warehouse.exists():
        return settings.warehouse
    raise ExportError(f"no warehouse at {settings.warehouse}: run `cx-insights run` first")


def export_marts(settings: Settings, out: Path, fmt: str = "parquet") -> dict:
    """Write `<table>.<fmt>` for every table of schema `marts` and `manifest.json` into
    `out`; returns the manifest."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if settings.target != "duckdb":
        return _export_target(settings, out, fmt)
    source = export_source(settings)
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(source), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        database = con.execute("select current_database()").fetchone()[0]
        tables = mart_tables(con, database)
        if not tables:
            raise ExportError(f"{source} has no marts: run `cx-insights run` first")
        entries = [_export_table(con, table, out, fmt) for table in tables]
        built_at, run_id = _build_of(con, source)
    return _write_manifest(out, str(source), fmt, built_at, run_id, entries)


def _export_target(settings: Settings, out: Path, fmt: str) -> dict:
    """The PostgreSQL or Spark target's marts, read from the target (not from the
    published copy), written by the same code as DuckDB's."""
    from cx_insights.target import marts_reader, target_name

    source = target_name(settings)
    out.mkdir(parents=True, exist_ok=True)
    with marts_reader(settings) as con:
        tables = [t for t in mart_tables(con, "memory") if t != BUILD_TABLE]
        if not tables:
            raise ExportError(f"{source} has no marts: run `cx-insights run` first")
        entries = [_export_table(con, table, out, fmt) for table in tables]
        built_at, run_id = _build_of(con, settings.warehouse)
    return _write_manifest(out, source, fmt, built_at, run_id, entries)


def _write_manifest(
    out: Path, source: str, fmt: str, built_at: str, run_id: str | None, entries: list
) -> dict:
    manifest = {
        "source": source,
        "format": fmt,
        "built_at": built_at,
        "run_id": run_id,
        "tables": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _export_table(con: duckdb.DuckDBPyConnection, table: str, out: Path, fmt: str) -> dict:
    relation = f"{MARTS_SCHEMA}.{quote_ident(table)}"
    columns = con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_schema = ? and table_name = ? order by ordinal_position
        """,
        [MARTS_SCHEMA, table],
    ).fetchall()
    path = out / f"{table}.{fmt}"
    options = "format csv, header true" if fmt == "csv" else "format parquet"
    con.execute(
        f"copy (select * from {relation} order by all) to {sql_literal(str(path))} ({options})"
    )
    rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
    return {
        "table": table,
        "file": path.name,
        "rows": rows,
        "columns": [{"name": name, "type": dtype} for name, dtype in columns],
    }


def _build_of(con: duckdb.DuckDBPyConnection, source: Path) -> tuple[str, str | None]:
    """When the exported build was made: `marts._build` of a published file, else the
    working warehouse's last successful run, else the file's modification time."""
    row = None
    if table_exists(con, MARTS_SCHEMA, BUILD_TABLE):
        row = con.execute(
            f"select max(built_at), max(run_id) from {MARTS_SCHEMA}.{BUILD_TABLE}"
        ).fetchone()
    elif table_exists(con, "raw", "_runs"):
        row = con.execute(
            "select ended_at, run_id from raw._runs where status = 'success' "
            "order by ended_at desc limit 1"
        ).fetchone()
    if row and row[0] is not None:
        return row[0].replace(tzinfo=UTC).isoformat(), row[1]
    mtime = datetime.fromtimestamp(source.stat().st_mtime, UTC)
    return mtime.isoformat(), None
