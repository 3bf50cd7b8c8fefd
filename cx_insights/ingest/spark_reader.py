"""Reading the landing files on Spark's executors (`CX_TARGET=spark`).

The contract's reading rules (BOM, case-insensitive headers, RFC 4180 quoting,
line endings, the physical line of every record, rejected records kept with
their text, files that cannot be read failing with the reason) are defined
once, in `cx_insights.ingest.readers`. On the Spark target the loader does not
run them itself: one Spark job per entity reads every file that changed since
the last load, a task per file, and each task runs those same readers in its
Python worker (an in-memory DuckDB there), so the parsing scales with the
executors and the two targets cannot disagree on a file. The job writes what it
read as Parquet (one folder per file); the loader then stores each file's rows
in raw and records it in the manifest exactly as when it reads the file itself
(`cx_insights.ingest.loader.load_entity`, one transaction per file).

Executors open the files by path: on a cluster, the landing directory must be
mounted at the same path on every worker (as the target's folders already are),
and the workers' Python must have the project installed (`PYSPARK_PYTHON`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from cx_insights.config import Settings
from cx_insights.contract import Entity
from cx_insights.ingest.loader import failure_reason
from cx_insights.ingest.readers import (
    LandedColumn,
    UnreadableFileError,
    landed_columns,
    read_file,
)
from cx_insights.spark import SparkError
from cx_insights.warehouse import memory_limit, quote_ident, sql_literal

log = logging.getLogger(__name__)

#: What a task writes per file: one `header` row (`cells`: the names as landed) or
#: one `error` row (why the file cannot be read), then a `row` per record (`cells`:
#: its values, in the header's order) and a `reject` per record that could not be
#: parsed (`error`, `raw`: DuckDB's reason and the record's text).
READ_SCHEMA = pa.schema(
    [
        ("file", pa.int32()),
        ("kind", pa.string()),
        ("line", pa.int64()),
        ("error", pa.string()),
        ("raw", pa.string()),
        ("cells", pa.list_(pa.string())),
    ]
)

#: Rows per Arrow batch a task hands to Spark (a file's rows are never all in memory).
BATCH_ROWS = 65_536


def read_files(e: Entity, paths: list[str], indexes: Iterator) -> Iterator:
    """The task's side (`mapInArrow`): read each file whose index arrives, with the
    contract's readers, and yield what it read as Arrow batches of READ_SCHEMA."""
    with tempfile.TemporaryDirectory(prefix="cx-read-") as spill:
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute(f"set memory_limit = {sql_literal(memory_limit())}")
            con.execute(f"set temp_directory = {sql_literal(spill)}")
            for batch in indexes:
                for index in batch.column(0).to_pylist():
                    try:
                        columns = read_file(con, e, Path(paths[index]))
                    except (UnreadableFileError, OSError, duckdb.Error) as exc:
                        yield _meta(index, "error", error=failure_reason(exc))
                        continue
                    yield _meta(index, "header", cells=[c.original for c in columns])
                    yield from _landed_batches(con, index, columns)
        finally:
            con.close()


def _meta(index: int, kind: str, *, error: str | None = None, cells=None):
    return pa.RecordBatch.from_pylist(
        [{"file": index, "kind": kind, "line": None, "error": error, "raw": None, "cells": cells}],
        schema=READ_SCHEMA,
    )


def _landed_batches(con: duckdb.DuckDBPyConnection, index: int, columns: list[LandedColumn]):
    cells = ", ".join(quote_ident(c.stored) for c in columns)
    for sql in (
        f"select {index}::int as file, 'row' as kind, _source_line::bigint as line, "
        f"null::varchar as error, null::varchar as raw, [{cells}]::varchar[] as cells "
        "from _landing order by _source_line",
        f"select {index}::int as file, 'reject' as kind, _source_line::bigint as line, "
        "_parse_error as error, _raw_record as raw, null::varchar[] as cells "
        "from _landing_rejects order by _source_line",
    ):
        yield from con.execute(sql).fetch_record_batch(BATCH_ROWS)


class SparkFileReader:
    """Reads an entity's changed landing files in one Spark job (`prepare`), then
    hands the loader one file at a time (`read`, in place of `readers.read_file`)."""

    def __init__(self, session, folder: Path):
        self.session = session
        self.folder = folder
        self._prepared: dict[str, int] = {}
        self._output: Path | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> SparkFileReader:
        """On the target's session (the run's Connect server), output beside its folders."""
        from cx_insights import spark

        return cls(spark.session(settings), spark.root(settings) / "reading")

    def prepare(self, e: Entity, paths: list[Path]) -> None:
        """Read `paths` on the executors: one task per file, its rows written as
        Parquet under the reader's folder."""
        self.close()
        if not paths:
            return
        from pyspark.sql.pandas.types import from_arrow_schema  # the Spark target only

        listed = [str(p) for p in paths]
        self._output = self.folder / f"{e.qualified}-{uuid.uuid4().hex[:12]}"
        indexes = self.session.range(0, len(listed), 1, len(listed)).selectExpr(
            "cast(id as int) as file"
        )
        read = indexes.mapInArrow(
            lambda it: read_files(e, listed, it), from_arrow_schema(READ_SCHEMA)
        )
        try:
            read.write.partitionBy("file").parquet(str(self._output))
        except Exception as exc:  # Spark's errors: Py4J, gRPC, the workers' tracebacks
            self.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkError(
                f"Spark could not read the {len(listed)} changed landing file(s) of "
                f"{e.qualified}: {first[:400]}"
            ) from exc
        self._prepared = {p: i for i, p in enumerate(listed)}

    def read(self, con: duckdb.DuckDBPyConnection, e: Entity, path: Path) -> list[LandedColumn]:
        """Fill the loader's temp tables `_landing` and `_landing_rejects` with what the
        executors read of `path` (as `readers.read_file` does); a file the job did not
        read (it changed after the job listed it) is read here."""
        index = self._prepared.get(str(path))
        if index is None or self._output is None:
            log.warning("%s: changed while Spark read its folder; read by the loader", path)
            return read_file(con, e, path)
        source = f"read_parquet({sql_literal(str(self._output / f'file={index}' / '*.parquet'))})"
        kind, error, names = con.execute(
            f"select kind, error, cells from {source} where kind in ('header', 'error')"
        ).fetchone()
        if kind == "error":
            raise UnreadableFileError(error)
        columns = landed_columns(e, names)
        cells = "".join(
            f"cells[{i + 1}] as {quote_ident(c.stored)}, " for i, c in enumerate(columns)
        )
        for table in ("_landing", "_landing_rejects"):
            con.execute(f"drop table if exists {table}")
        con.execute(
            f"create temp table _landing as select {cells}line as _source_line "
            f"from {source} where kind = 'row' order by line"
        )
        con.execute(
            "create temp table _landing_rejects as select line as _source_line, "
            f"error as _parse_error, raw as _raw_record from {source} "
            "where kind = 'reject' order by line"
        )
        return columns

    def close(self) -> None:
        """Remove what the last job wrote."""
        if self._output is not None:
            shutil.rmtree(self._output, ignore_errors=True)
        self._output, self._prepared = None, {}
