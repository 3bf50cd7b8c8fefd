"""Reading the active target's marts (CX_TARGET) through one DuckDB connection.

On DuckDB that is the warehouse file itself, read-only. On PostgreSQL and
Spark the marts asked for are copied into an in-memory DuckDB, each column
with its type (fetch_target_tables), beside views of the landing
schemas of the DuckDB file the loader and the gate work in: the dashboard and
the export then run the same queries on either target.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cx_insights.config import Settings
from cx_insights.warehouse import connect, memory_limit, quote_ident, sql_literal

MARTS = "marts"


def target_name(settings: Settings) -> str:
    """Where the marts are, as the export's manifest and the run summary name it."""
    if settings.target == "postgres":
        from cx_insights import postgres

        return f"postgresql: {postgres.connection(settings).dsn}"
    if settings.target == "spark":
        from cx_insights import spark

        return f"spark: {spark.warehouse_dir(settings)}"
    return str(settings.warehouse)


def fetch_target_tables(
    settings: Settings,
    duck: duckdb.DuckDBPyConnection,
    schema: str,
    tables: Sequence[str] | None = None,
) -> list[str]:
    """Copy `tables` (default all) of `schema` from the PostgreSQL or Spark target into
    `duck` under the same names, each column with its type; returns the names copied.
    The one way every reader (dashboard, export, published file, the Python
    statistics) gets a target's tables into DuckDB."""
    if settings.target == "spark":
        from cx_insights import spark

        present = spark.tables(settings, schema)
        wanted = [t for t in present if tables is None or t in set(tables)]
        spark.fetch_into_duckdb(duck, settings, [(schema, t) for t in wanted])
        return wanted
    from cx_insights import postgres

    pg = postgres.connect(settings)
    try:
        present = postgres.pg_tables(pg, schema)
        wanted = [t for t in present if tables is None or t in set(tables)]
        with tempfile.TemporaryDirectory(prefix="cx-fetch-") as tmp:
            postgres.fetch_into_duckdb(pg, duck, [(schema, t) for t in wanted], Path(tmp))
    finally:
        pg.close()
    return wanted


def write_target_tables(
    settings: Settings, duck: duckdb.DuckDBPyConnection, tables: Sequence[tuple[str, str]]
) -> dict[str, int]:
    """Copy DuckDB's (schema, table)s to the PostgreSQL or Spark target under the same
    names (nothing on DuckDB); returns the rows written per `schema.table`. The one way
    the gate's landing tables and the Python statistics' tables reach a target:
    PostgreSQL with COPY in one transaction, Spark as Parquet folders dbt reads."""
    if settings.target == "duckdb" or not tables:
        return {}
    if settings.target == "spark":
        from cx_insights import spark

        return spark.write_tables(duck, settings, list(tables))
    from cx_insights import postgres

    pg = postgres.connect(settings)
    try:
        # beside the warehouse, not in /tmp: a landing table's CSV can be gigabytes
        workdir = settings.output_dir / "postgres" / "copy"
        return postgres.replicate(duck, pg, list(tables), workdir)
    finally:
        pg.close()


@contextmanager
def marts_reader(
    settings: Settings, tables: Sequence[str] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read connection holding schema `marts` (`tables` of it, default all)."""
    if settings.target == "duckdb":
        with connect(settings.warehouse, read_only=True) as con:
            yield con
        return
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set memory_limit = {sql_literal(memory_limit())}")
        con.execute(f"create schema {MARTS}")
        fetch_target_tables(settings, con, MARTS, tables)
        if settings.warehouse.exists():
            _landing_views(con, settings.warehouse)
        yield con


def _landing_views(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Schemas `raw` and `quarantine` of the DuckDB file the loader and the gate work
    in (run log, gate results, freshness), as views beside the fetched marts."""
    con.execute(f"attach {sql_literal(str(warehouse))} as work (read_only)")
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'work' and table_schema in ('raw', 'quarantine')"
    ).fetchall()
    for schema in sorted({schema for schema, _ in rows}):
        con.execute(f"create schema if not exists {schema}")
    for schema, table in rows:
        name = f"{schema}.{quote_ident(table)}"
        con.execute(f"create view {name} as select * from work.{name}")
