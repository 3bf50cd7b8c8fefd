"""Load landing files into the append-only `raw` schema.

For each landing entity `<landing>/<source>/<entity>/*.{csv,parquet,jsonl}`:

* every landed row goes to `raw.<source>__<entity>` as text, exactly as it
  arrived, with its lineage (`_source_file`, `_source_line`, `_loaded_at`) and
  the file's modification time (`_file_mtime`), which with the file name and
  line orders updates by key;
* a manifest `raw._files` (path, size, mtime, sha256, status) makes loading
  idempotent and incremental: an unchanged file is never read twice, a new
  file is appended, a file whose content changed replaces the rows it loaded;
* a record that cannot be parsed (wrong field count, bad JSON) is kept in raw
  with `_parse_error` so that the gate quarantines it: no row is lost;
* a file that cannot be read at all (not UTF-8, broken Parquet, a required
  column missing) is recorded in the manifest with the reason and loads no
  rows; the gate blocks on it. It never stops the other files.

DuckDB's own readers do the parsing (far faster than pandas).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cx_insights.contract import FORMATS, Entity
from cx_insights.warehouse import quote_ident, sql_literal, table_columns, table_exists

log = logging.getLogger(__name__)

MANIFEST_DDL = """
create table if not exists raw._files (
    entity varchar not null,
    path varchar not null,
    size_bytes bigint,
    mtime timestamp,
    sha256 varchar,
    status varchar not null,  -- loaded | failed | duplicate | missing | ignored
    error varchar,
    rows_landed bigint,
    loaded_at timestamp,
    primary key (entity, path)
)
"""

DRIFT_DDL = """
create table if not exists raw._schema_drift (
    entity varchar not null,
    path varchar not null,
    column_name varchar not null,
    detected_at timestamp,
    primary key (entity, path, column_name)
)
"""

#: Columns the loader adds to every raw row, after the contract's.
RAW_META_COLUMNS: dict[str, str] = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_loaded_at": "timestamp",
    "_file_mtime": "timestamp",
    "_parse_error": "varchar",
    "_raw_record": "varchar",
}


class UnreadableFileError(Exception):
    """The file as a whole cannot be read; the message says why."""


@dataclass
class FileOutcome:
    path: str
    status: str
    rows: int = 0
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    entity: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows for f in self.files if f.status == "loaded")

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]


def newest_loaded_file(
    con: duckdb.DuckDBPyConnection, qualified: str
) -> tuple[datetime | None, datetime | None]:
    """(when its last file was loaded, newest modification time of its loaded files)
    for an entity: what freshness is judged on. (None, None) before any load."""
    if not table_exists(con, "raw", "_files"):
        return None, None
    row = con.execute(
        "select max(loaded_at), max(mtime) from raw._files where entity = ? and status = 'loaded'",
        [qualified],
    ).fetchone()
    return row[0], row[1]


def raw_table(e: Entity) -> str:
    return f"raw.{e.qualified}"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, e: Entity) -> None:
    con.execute(MANIFEST_DDL)
    con.execute(DRIFT_DDL)
    cols = [f"{quote_ident(c)} varchar" for c in e.column_names]
    cols += [f"{c} {t}" for c, t in RAW_META_COLUMNS.items()]
    con.execute(f"create table if not exists {raw_table(e)} ({', '.join(cols)})")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(landing_dir: Path, e: Entity) -> list[Path]:
    """Every file of the entity's folder (sub-folders included), in name order."""
    folder = landing_dir / e.source / e.name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Read a CSV file into temp table `_landing` (all text) + `_landing_rejects`."""
    for t in ("_landing", "_landing_rejects", "_rej", "_rej_scan"):
        con.execute(f"drop table if exists {t}")
    try:
        con.execute(
            f"""
            create temp table _landing as
            select * from read_csv(
                {sql_literal(str(path))},
                header = true, all_varchar = true, delim = ',', quote = '"', escape = '"',
                strict_mode = true, store_rejects = true,
                rejects_table = '_rej', rejects_scan = '_rej_scan',
                sample_size = -1, null_padding = false, parallel = false
            )
            """
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(f"not a readable CSV file: {_first_line(exc)}") from exc
    rejects = con.execute(
        "select line, error_type, error_message, csv_line from _rej order by line"
    ).fetchall()
    encoding = [r for r in rejects if r[1] == "INVALID ENCODING"]
    if encoding:
        raise UnreadableFileError(
            f"not UTF-8 encoded (first invalid byte sequence at line {encoding[0][0]})"
        )
    con.execute(
        """
        create temp table _landing_rejects as
        select line as _source_line,
               string_agg(error_type || ': ' || error_message, '; ' order by column_idx)
                   as _parse_error,
               min(csv_line) as _raw_record
        from _rej group by line
        """
    )
    # Records that DuckDB accepted keep their order (rowid); the line of each is
    # the next line number not taken by a rejected record (header = line 1).
    if not rejects:
        con.execute("alter table _landing add column _source_line bigint")
        con.execute("update _landing set _source_line = rowid + 2")
        return
    con.execute(
        """
        create temp table _numbered as
        with accepted_lines as (
            select line_no, row_number() over (order by line_no) - 1 as ordinal
            from range(
                2, 2 + (select count(*) from _landing) + (select count(*) from _landing_rejects)
            ) as lines(line_no)
            where line_no not in (select _source_line from _landing_rejects)
        )
        select landed.*, accepted_lines.line_no as _source_line
        from (select rowid as _ordinal, * from _landing) as landed
        inner join accepted_lines on landed._ordinal = accepted_lines.ordinal
        """
    )
    con.execute("drop table _landing")
    con.execute("alter table _numbered drop column _ordinal")
    con.execute("alter table _numbered rename to _landing")


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    for t in ("_landing", "_landing_rejects"):
        con.execute(f"drop table if exists {t}")
    try:
        cols = con.execute(
            f"describe select * from read_parquet({sql_literal(str(path))})"
        ).fetchall()
        casts = ", ".join(
            f"cast({quote_ident(c[0])} as varchar) as {quote_ident(c[0])}"
            for c in cols
            if c[0] != "file_row_number"
        )
        con.execute(
            f"""
            create temp table _landing as
            select {casts}, file_row_number + 1 as _source_line
            from read_parquet({sql_literal(str(path))}, file_row_number = true)
            """
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_line(exc)}") from exc
    con.execute(
        "create temp table _landing_rejects "
        "(_source_line bigint, _parse_error varchar, _raw_record varchar)"
    )


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """JSON Lines: each line read as text first, so a bad line is kept, not fatal."""
    for t in ("_lines", "_landing", "_landing_rejects"):
        con.execute(f"drop table if exists {t}")
    try:
        con.execute(
            f"""
            create temp table _lines as
            select row_number() over () as _source_line, line
            from read_csv(
                {sql_literal(str(path))},
                columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x01',
                quote = '', escape = '', auto_detect = false, strict_mode = false,
                parallel = false
            )
            """
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(f"not a readable JSON Lines file: {_first_line(exc)}") from exc
    con.execute(
        """
        create or replace temp table _lines as
        select _source_line, line,
               coalesce(case when json_valid(line) then json_type(line) = 'OBJECT' end, false)
                   as ok
        from _lines where trim(coalesce(line, '')) <> ''
        """
    )
    keys = [
        r[0]
        for r in con.execute(
            "select distinct unnest(json_keys(line)) from _lines where ok order by 1"
        ).fetchall()
    ]
    by_lower: dict[str, list[str]] = {}
    for k in keys:
        by_lower.setdefault(k.strip().lower(), []).append(k)
    selects = []
    for lower, variants in by_lower.items():
        paths = [f"json_extract_string(line, {sql_literal('$.' + _json_key(k))})" for k in variants]
        expr = paths[0] if len(paths) == 1 else f"coalesce({', '.join(paths)})"
        selects.append(f"{expr} as {quote_ident(lower)}")
    select_list = ", ".join(selects) + ", " if selects else ""
    con.execute(
        f"create temp table _landing as select {select_list}_source_line from _lines where ok"
    )
    con.execute(
        """
        create temp table _landing_rejects as
        select _source_line, 'MALFORMED JSON: the line is not a JSON object' as _parse_error,
               line as _raw_record
        from _lines where not ok
        """
    )


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'


READERS = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _clean_name(name: str, position: int) -> str:
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip().lower()
    return cleaned or f"column_{position}"


def _normalise_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Lower-case and trim the landed column names (matched case-insensitively)."""
    described = [r[0] for r in con.execute("describe _landing").fetchall()]
    selects, seen = [], []
    for position, name in enumerate(described, start=1):
        if name == "_source_line":
            selects.append(f"#{position} as _source_line")
            continue
        target = _clean_name(name, position)
        if target in seen:
            raise UnreadableFileError(
                f"column {target!r} appears twice (names are case-insensitive)"
            )
        seen.append(target)
        # Positional references: a landed name may hold characters SQL cannot quote.
        selects.append(f"#{position} as {quote_ident(target)}")
    con.execute(
        f"create or replace temp table _landing as select {', '.join(selects)} from _landing"
    )
    return sorted(seen)


def read_file(con: duckdb.DuckDBPyConnection, e: Entity, path: Path) -> list[str]:
    """Parse one file into temp tables `_landing` and `_landing_rejects`.

    Runs outside any transaction (DuckDB numbers transaction-local rows
    differently). Returns the landed column names, lower-cased.
    """
    fmt = FORMATS[path.suffix.lower()]
    READERS[fmt](con, path)
    columns = _normalise_columns(con)
    missing = [c for c in e.required_columns if c not in columns]
    if missing:
        raise UnreadableFileError(
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(columns) or 'none'})"
        )
    return columns


def append_file(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    columns: list[str],
    rel_path: str,
    mtime: datetime,
    loaded_at: datetime,
) -> FileOutcome:
    """Append the parsed file to raw (the caller holds the transaction)."""
    existing = set(table_columns(con, "raw", e.qualified))
    extra = [c for c in columns if c not in e.column_names]
    for c in extra:
        if c not in existing:
            con.execute(f"alter table {raw_table(e)} add column {quote_ident(c)} varchar")
        con.execute(
            "insert or ignore into raw._schema_drift values (?, ?, ?, ?)",
            [e.qualified, rel_path, c, loaded_at],
        )
    lineage = (
        f"{sql_literal(rel_path)} as _source_file, _source_line, "
        f"cast(? as timestamp) as _loaded_at, cast(? as timestamp) as _file_mtime"
    )
    col_list = ", ".join(f"nullif({quote_ident(c)}, '') as {quote_ident(c)}" for c in columns)
    con.execute(
        f"insert into {raw_table(e)} by name select {col_list}, {lineage} from _landing",
        [loaded_at, mtime],
    )
    con.execute(
        f"""
        insert into {raw_table(e)} by name
        select {lineage}, _parse_error, _raw_record from _landing_rejects
        """,
        [loaded_at, mtime],
    )
    rows = con.execute(
        "select (select count(*) from _landing) + (select count(*) from _landing_rejects)"
    ).fetchone()[0]
    return FileOutcome(rel_path, "loaded", rows=int(rows), extra_columns=extra)


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for t in ("_landing", "_landing_rejects", "_lines", "_rej", "_rej_scan", "_numbered"):
        con.execute(f"drop table if exists {t}")


def _upsert_manifest(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    rel: str,
    size: int | None,
    mtime: datetime | None,
    sha: str | None,
    status: str,
    error: str | None,
    rows: int | None,
    loaded_at: datetime,
) -> None:
    con.execute(
        """
        insert or replace into raw._files
            (entity, path, size_bytes, mtime, sha256, status, error, rows_landed, loaded_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [e.qualified, rel, size, mtime, sha, status, error, rows, loaded_at],
    )


def load_entity(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    e: Entity,
    loaded_at: datetime | None = None,
) -> LoadResult:
    """Bring raw up to date with the entity's landing folder."""
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    ensure_raw_tables(con, e)
    result = LoadResult(e.qualified)
    manifest = {
        r[0]: {"size": r[1], "mtime": r[2], "sha": r[3], "status": r[4]}
        for r in con.execute(
            "select path, size_bytes, mtime, sha256, status from raw._files where entity = ?",
            [e.qualified],
        ).fetchall()
    }
    seen: set[str] = set()
    for path in landing_files(landing_dir, e):
        rel = path.relative_to(landing_dir).as_posix()
        seen.add(rel)
        stat = path.stat()
        mtime = _mtime(path)
        known = manifest.get(rel)
        if path.suffix.lower() not in FORMATS:
            if not known or known["status"] != "ignored":
                _upsert_manifest(
                    con,
                    e,
                    rel,
                    stat.st_size,
                    mtime,
                    None,
                    "ignored",
                    f"unsupported extension {path.suffix!r} (expected .csv, .parquet, .jsonl)",
                    0,
                    loaded_at,
                )
                log.warning("%s: ignored, unsupported file type", rel)
            result.files.append(FileOutcome(rel, "ignored"))
            continue
        if known and known["size"] == stat.st_size and known["mtime"] == mtime:
            result.files.append(FileOutcome(rel, "unchanged"))
            continue
        sha = sha256_of(path)
        if known and known["sha"] == sha and known["status"] != "missing":
            # Same content, touched: keep the original ordering and rows.
            result.files.append(FileOutcome(rel, "unchanged"))
            continue
        twin = con.execute(
            "select path from raw._files where entity = ? and sha256 = ? and path <> ? "
            "and status = 'loaded' limit 1",
            [e.qualified, sha, rel],
        ).fetchone()
        outcome: FileOutcome
        columns: list[str] = []
        if twin:
            outcome = FileOutcome(rel, "duplicate", error=f"same content as {twin[0]}")
        else:
            try:
                columns = read_file(con, e, path)
                outcome = FileOutcome(rel, "read")
            except UnreadableFileError as exc:
                outcome = FileOutcome(rel, "failed", error=str(exc))
                log.error("%s: %s", rel, exc)
        # One transaction per file: a crash leaves the file either wholly
        # loaded and recorded, or not at all (and then it is loaded next run).
        con.execute("begin transaction")
        try:
            if known:  # a file never recorded has no rows to replace
                con.execute(f"delete from {raw_table(e)} where _source_file = ?", [rel])
            if outcome.status == "read":
                outcome = append_file(con, e, columns, rel, mtime, loaded_at)
            _upsert_manifest(
                con,
                e,
                rel,
                stat.st_size,
                mtime,
                sha,
                outcome.status,
                outcome.error,
                outcome.rows,
                loaded_at,
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            _drop_temp(con)
        result.files.append(outcome)
    for rel, known in manifest.items():
        if rel not in seen and known["status"] != "missing":
            # A file that disappeared keeps its rows (raw is append-only) but is
            # no longer counted as readable or failed.
            con.execute(
                "update raw._files set status = 'missing', error = ? where entity = ? and path = ?",
                [
                    "the file is no longer in the landing directory; its rows stay in raw",
                    e.qualified,
                    rel,
                ],
            )
            result.files.append(FileOutcome(rel, "removed"))
    return result
