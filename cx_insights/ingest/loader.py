"""Load landing files into the `raw` schema.

For each landing entity `<landing>/<source>/<entity>/*.{csv,parquet,jsonl}`:

* every landed row goes to `raw.<source>__<entity>` as text, exactly as it
  arrived, with its lineage (`_source_file`, `_source_line`: the physical line
  where the record starts, header = line 1; `_loaded_at`) and the file's
  modification time (`_file_mtime`), which with the file name and line orders
  updates by key;
* raw mirrors the landing directory: a manifest `raw._files` (path, size,
  mtime, sha256, status) makes loading idempotent and incremental: an
  unchanged file is never read twice, a new file is appended (even when its
  bytes equal another file's: it is a later file and wins), a file whose
  content changed replaces the rows it loaded, a file that disappeared takes
  its rows out (status `missing`), so an incremental load equals a fresh one;
* a record that cannot be parsed (wrong field count, bad JSON) is kept in raw
  with `_parse_error` so that the gate quarantines it: no row is lost;
* a file that cannot be read at all (not UTF-8, broken Parquet, a required
  column missing, a column twice, no read permission, a symbolic link out of
  the landing directory) is recorded in the manifest as `failed` with the
  reason and loads no rows; the gate blocks on it. It never stops the other
  files. Hidden files (`.`/`_`) and other extensions are recorded as `ignored`.

Every control column the loader or the gate adds starts with `_`, and no landed
column stored in raw ever does: a contract column keeps its name, any other
(schema drift) is stored as `x_<lower-cased name>` and listed in
`raw._schema_drift` with its original name.

DuckDB's own readers do the parsing (far faster than pandas).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import stat as stat_module
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np

from cx_insights.config import check_landing_dir
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
    status varchar not null,  -- loaded | failed | missing | ignored (duplicate: before v2)
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
    column_name varchar not null,  -- the landed name, lower-cased
    detected_at timestamp,
    original_name varchar,  -- the landed name exactly as in the file
    stored_name varchar,  -- the column of raw.<entity> holding it
    primary key (entity, path, column_name)
)
"""

#: Which raw tables already store every extra column as `x_<name>`.
LAYOUT_DDL = """
create table if not exists raw._raw_layout (
    entity varchar primary key,
    version integer not null
)
"""
RAW_LAYOUT_VERSION = 2

#: Columns the loader adds to every raw row, after the contract's.
RAW_META_COLUMNS: dict[str, str] = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_loaded_at": "timestamp",
    "_file_mtime": "timestamp",
    "_parse_error": "varchar",
    "_raw_record": "varchar",
}

#: Prefix of every landed column that is not in the contract (schema drift).
DRIFT_PREFIX = "x_"

#: The longest CSV record or JSON line DuckDB is allowed to read (its
#: `max_line_size`, 2 MB by default, is too short for long verbatims).
MAX_LINE_BYTES = 64 << 20

#: Longest file-level error kept in the manifest.
MAX_ERROR_CHARS = 400

EXTERNAL_LINK_REASON = (
    "symbolic link to a path outside the landing directory "
    "(set CX_FOLLOW_EXTERNAL_LINKS=1 to allow)"
)


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


def stored_name(e: Entity, landed: str) -> str:
    """The raw column of a landed column (already cleaned and lower-cased): a contract
    column keeps its name; any other is namespaced, so it never starts with `_` and
    never collides with a column the loader or the gate adds."""
    return landed if landed in e.column_names else DRIFT_PREFIX + landed


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, e: Entity) -> None:
    con.execute(MANIFEST_DDL)
    con.execute(DRIFT_DDL)
    con.execute(LAYOUT_DDL)
    for column in ("original_name", "stored_name"):
        con.execute(f"alter table raw._schema_drift add column if not exists {column} varchar")
    existed = table_exists(con, "raw", e.qualified)
    cols = [f"{quote_ident(c)} varchar" for c in e.column_names]
    cols += [f"{c} {t}" for c, t in RAW_META_COLUMNS.items()]
    con.execute(f"create table if not exists {raw_table(e)} ({', '.join(cols)})")
    version = con.execute(
        "select version from raw._raw_layout where entity = ?", [e.qualified]
    ).fetchone()
    if version is None or version[0] < RAW_LAYOUT_VERSION:
        if existed:
            _namespace_legacy_columns(con, e)
        con.execute(
            "insert or replace into raw._raw_layout values (?, ?)",
            [e.qualified, RAW_LAYOUT_VERSION],
        )


def _namespace_legacy_columns(con: duckdb.DuckDBPyConnection, e: Entity) -> None:
    """A raw table written before extra columns were namespaced kept them under their
    landed name (`mood`, or worse `_rule`): rename each to `x_<name>`, once."""
    known = set(e.column_names) | set(RAW_META_COLUMNS)
    for column in table_columns(con, "raw", e.qualified):
        if column in known:
            continue
        target = DRIFT_PREFIX + column
        con.execute(
            f"alter table {raw_table(e)} rename column {quote_ident(column)} to "
            f"{quote_ident(target)}"
        )
        con.execute(
            "update raw._schema_drift set stored_name = ?, "
            "original_name = coalesce(original_name, column_name) "
            "where entity = ? and column_name = ?",
            [target, e.qualified, column],
        )
        log.warning("%s: extra column %r renamed %r in raw", e.qualified, column, target)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(landing_dir: Path, e: Entity) -> list[Path]:
    """Every entry of the entity's folder that is not a folder (sub-folders included,
    hidden and unsupported files too: the caller records why it skips them), in name
    order."""
    folder = landing_dir / e.source / e.name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if not p.is_dir())


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC).replace(tzinfo=None)


def _skip_reason(path: Path) -> str | None:
    """Why a landing entry is ignored (never read), or None."""
    if path.name.startswith((".", "_")):
        return "hidden or temporary file (its name starts with '.' or '_'); not read"
    if path.suffix.lower() not in FORMATS:
        return f"unsupported extension {path.suffix!r} (expected .csv, .parquet, .jsonl); not read"
    return None


def _refusal(path: Path, landing_dir: Path, follow_external_links: bool) -> str | None:
    """Why a landing entry must not be read (it is recorded as failed), or None.

    Never opens the entry: a FIFO would block, a link may point at a secret.
    """
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        if path.is_symlink():
            return "broken symbolic link (its target does not exist)"
        return _os_reason(exc)
    if not follow_external_links and not resolved.is_relative_to(landing_dir.resolve()):
        return EXTERNAL_LINK_REASON
    mode = resolved.stat().st_mode
    if not stat_module.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat_module.S_ISFIFO(mode)
            else "a socket"
            if stat_module.S_ISSOCK(mode)
            else "a device"
        )
        return f"not a regular file ({kind}); not read"
    return None


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot be read: {exc.strerror}"
    return f"cannot be read: {_first_line(exc)}"


# --- CSV ----------------------------------------------------------------------

_CHUNK = 1 << 26
_QUOTE, _LF, _CR = 34, 10, 13


@dataclass
class CsvLayout:
    """Where the records of a CSV file start, found without parsing its fields.

    Records are numbered as DuckDB numbers them (header = 1, a blank line is a
    record). A line break inside a quoted field does not end a record, so a
    record after a multi-line field starts on a later physical line: `offsets`
    holds (record, physical line - record) wherever that difference changes.
    Quote parity decides what is quoted, exact for RFC 4180 files; the caller
    checks the record count against DuckDB's before trusting it.
    """

    header: bytes = b""
    records: int = 0
    blank: list[int] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    terminators: set[str] = field(default_factory=set)
    longest: tuple[int, int] = (0, 0)  # (bytes, record)

    @property
    def mixed_line_endings(self) -> bool:
        return len(self.terminators) > 1 or self.terminators == {"cr"}

    def line_of(self, record: int) -> int:
        offset = 0
        for start, value in self.offsets:
            if start > record:
                break
            offset = value
        return record + offset


def _scan_csv(path: Path, out: BinaryIO | None = None) -> CsvLayout:
    """Find the records of `path`; with `out`, also write a copy whose record ends are
    all LF (line breaks inside quoted fields are kept as they are)."""
    layout = CsvLayout()
    parity = 0
    base = 0  # file offset of the chunk
    lines_before = 0  # line breaks before the chunk
    record = 1  # number of the record being read
    record_start, record_line = 0, 1
    header_end: int | None = None
    offset = 0
    carry = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(_CHUNK)
            chunk = carry + block
            if not chunk:
                break
            at_end = not block
            carry = b""
            if not at_end and chunk.endswith(b"\r"):
                chunk, carry = chunk[:-1], b"\r"  # a CRLF may straddle the chunks
            if not chunk:
                continue
            a = np.frombuffer(chunk, dtype=np.uint8)
            after = (np.cumsum(a == _QUOTE, dtype=np.uint8) + parity) & 1
            lf = np.flatnonzero(a == _LF)
            cr = np.flatnonzero(a == _CR)
            nxt = np.minimum(cr + 1, len(a) - 1)
            lone_cr = cr[(cr + 1 >= len(a)) | (a[nxt] != _LF)]
            breaks = np.sort(np.concatenate([lf, lone_cr]))
            outside = np.flatnonzero(after[breaks] == 0)  # indexes into `breaks`
            term = breaks[outside]
            is_lf = a[term] == _LF
            crlf = is_lf & (term > 0) & (a[np.maximum(term - 1, 0)] == _CR)
            if (is_lf & ~crlf).any():
                layout.terminators.add("lf")
            if crlf.any():
                layout.terminators.add("crlf")
            if (~is_lf).any():
                layout.terminators.add("cr")
            if len(term):
                ends = base + term
                starts = np.concatenate(([record_start], ends[:-1] + 1))
                lengths = ends - starts - crlf
                numbers = record + np.arange(len(term))
                start_lines = np.concatenate(([record_line], lines_before + outside[:-1] + 2))
                for n in numbers[lengths == 0]:
                    layout.blank.append(int(n))
                k = int(np.argmax(lengths))
                if int(lengths[k]) > layout.longest[0]:
                    layout.longest = (int(lengths[k]), int(numbers[k]))
                diffs = start_lines - numbers
                changes = np.flatnonzero(diffs != np.concatenate(([offset], diffs[:-1])))
                for c in changes:
                    layout.offsets.append((int(numbers[c]), int(diffs[c])))
                offset = int(diffs[-1])
                if header_end is None:
                    header_end = int(ends[0] - crlf[0])
                record += len(term)
                record_start = int(ends[-1] + 1)
                record_line = int(lines_before + outside[-1] + 2)
            if out is not None:
                keep = np.ones(len(a), dtype=bool)
                keep[term[crlf] - 1] = False
                fixed = a.copy()
                fixed[term[~is_lf]] = _LF
                out.write(fixed[keep].tobytes())
            lines_before += len(breaks)
            parity = int(after[-1])
            base += len(chunk)
    size = base
    if record_start < size:  # a last record without a line break
        length = size - record_start
        if length > layout.longest[0]:
            layout.longest = (length, record)
        if record_line - record != offset:
            layout.offsets.append((record, record_line - record))
        record += 1
    layout.records = record - 1
    with path.open("rb") as fh:
        layout.header = fh.read(size if header_end is None else header_end)
    return layout


def _header_names(layout: CsvLayout) -> list[str]:
    raw = layout.header
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            "not UTF-8 encoded (first invalid byte sequence at line 1)"
        ) from exc
    if not text.strip():
        return []
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(max(limit, len(text) + 1))
        return next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise UnreadableFileError(f"the header line cannot be parsed: {exc}") from exc
    finally:
        csv.field_size_limit(limit)


def _line_size_error(line: int) -> UnreadableFileError:
    return UnreadableFileError(
        f"the record at line {line} is longer than {MAX_LINE_BYTES >> 20} MiB, the longest "
        "record the loader reads (DuckDB max_line_size); split or shorten that field"
    )


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Read a CSV file into temp table `_landing` (all text, columns c0..cN and
    `_source_line`) + `_landing_rejects`. Returns the header names as landed."""
    for t in ("_landing", "_landing_rejects", "_rej", "_rej_scan"):
        con.execute(f"drop table if exists {t}")
    layout = _scan_csv(path)
    names = _header_names(layout)
    if not names:
        return []
    source = path
    copy = None
    if layout.mixed_line_endings:
        # DuckDB's sniffer fails on a file mixing LF and CRLF: read a copy with LF only.
        fd, name = tempfile.mkstemp(prefix="cx-landing-", suffix=".csv")
        copy = Path(name)
        with os.fdopen(fd, "wb") as out:
            _scan_csv(path, out=out)
        source = copy
    try:
        con.execute(
            f"""
            create temp table _landing as
            select * from read_csv(
                {sql_literal(str(source))},
                header = true, all_varchar = true, delim = ',', quote = '"', escape = '"',
                strict_mode = true, store_rejects = true,
                rejects_table = '_rej', rejects_scan = '_rej_scan',
                sample_size = -1, null_padding = false, parallel = false,
                max_line_size = {MAX_LINE_BYTES + 2}
            )
            """
        )
    except duckdb.Error as exc:
        if "maximum line size" in str(exc).lower():
            raise _line_size_error(layout.line_of(layout.longest[1])) from exc
        raise UnreadableFileError(
            f"not a readable CSV file: {_first_line(exc).replace(str(source), path.name)}"
        ) from exc
    finally:
        if copy is not None:
            copy.unlink()
    described = [r[0] for r in con.execute("describe _landing").fetchall()]
    if len(described) != len(names):
        raise UnreadableFileError(
            f"the header has {len(names)} column names but DuckDB read {len(described)} columns"
        )
    con.execute(
        "create or replace temp table _landing as select "
        + ", ".join(f"#{i + 1} as c{i}" for i in range(len(names)))
        + " from _landing"
    )
    rejects = con.execute("select line, error_type from _rej order by line").fetchall()
    for line, error_type in rejects:
        if error_type == "INVALID ENCODING":
            raise UnreadableFileError(
                "not UTF-8 encoded (first invalid byte sequence at line "
                f"{layout.line_of(int(line))})"
            )
        if error_type == "LINE SIZE OVER MAXIMUM":
            raise _line_size_error(layout.line_of(int(line)))
    con.execute(
        """
        create temp table _landing_rejects as
        select line as _record,
               string_agg(error_type || ': ' || error_message, '; ' order by column_idx)
                   as _parse_error,
               min(csv_line) as _raw_record
        from _rej group by line
        """
    )
    _number_csv_records(con, layout)
    return names


def _number_csv_records(con: duckdb.DuckDBPyConnection, layout: CsvLayout) -> None:
    """`_source_line` of every record: the physical line where it starts.

    DuckDB numbers records (not lines) and skips blank ones; the accepted rows keep
    their order, so the k-th accepted row is the k-th record that is neither the
    header, blank nor rejected.
    """
    gaps = sorted(
        set(layout.blank)
        | {r[0] for r in con.execute("select _record from _landing_rejects").fetchall()}
    )
    accepted = con.execute("select count(*) from _landing").fetchone()[0]
    expected = layout.records - 1 - len([g for g in gaps if g >= 2])
    if expected != accepted:
        # Quote parity disagrees with DuckDB (a stray quote): number records as DuckDB does.
        log.warning(
            "record count %s of the line scan differs from DuckDB's %s: lines are record numbers",
            expected,
            accepted,
        )
        layout = CsvLayout(records=accepted + 1 + len(gaps), blank=layout.blank)
    con.execute("create or replace temp table _offsets (_record bigint, _offset bigint)")
    if layout.offsets:
        con.executemany("insert into _offsets values (?, ?)", layout.offsets)
    # The physical line of record r: r plus the offset of the last change at or before r.
    physical = (
        "r._record + coalesce(o._offset, 0) as _source_line from {} as r "
        "asof left join _offsets as o on r._record >= o._record"
    )
    con.execute(
        "create or replace temp table _landing_rejects as "
        f"select r._parse_error, r._raw_record, {physical.format('_landing_rejects')}"
    )
    if not gaps and not layout.offsets:
        con.execute("alter table _landing add column _source_line bigint")
        con.execute("update _landing set _source_line = rowid + 2")
        return
    con.execute("create or replace temp table _gaps (_record bigint)")
    if gaps:
        con.executemany("insert into _gaps values (?)", [[g] for g in gaps])
    con.execute(
        f"""
        create temp table _numbered as
        with records as (
            select _record, row_number() over (order by _record) - 1 as _ordinal
            from range(2, {int(layout.records) + 1}) as lines(_record)
            where _record not in (select _record from _gaps)
        ),
        lines as (
            select r._ordinal, {physical.format("records")}
        )
        select landed.* exclude (_ordinal), lines._source_line
        from (select rowid as _ordinal, * from _landing) as landed
        inner join lines on landed._ordinal = lines._ordinal
        """
    )
    con.execute("drop table _landing")
    con.execute("alter table _numbered rename to _landing")


# --- Parquet and JSON Lines ---------------------------------------------------


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    for t in ("_landing", "_landing_rejects"):
        con.execute(f"drop table if exists {t}")
    try:
        names = [
            c[0]
            for c in con.execute(
                f"describe select * from read_parquet({sql_literal(str(path))})"
            ).fetchall()
        ]
        casts = ", ".join(f"cast(#{i + 1} as varchar) as c{i}" for i in range(len(names)))
        con.execute(
            f"""
            create temp table _landing as
            select {casts}{", " if casts else ""}#{len(names) + 1} + 1 as _source_line
            from read_parquet({sql_literal(str(path))}, file_row_number = true)
            """
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(f"not a readable Parquet file: {_first_line(exc)}") from exc
    try:  # DuckDB renames a repeated column (`a`, `a_1`): the file's own names
        import pyarrow.parquet as pq

        schema_names = pq.read_schema(path).names
        if len(schema_names) == len(names):
            names = schema_names
    except Exception as exc:  # noqa: BLE001 - DuckDB read it; its names will do
        log.debug("%s: parquet schema not read by pyarrow: %s", path, exc)
    con.execute(
        "create temp table _landing_rejects "
        "(_source_line bigint, _parse_error varchar, _raw_record varchar)"
    )
    return names


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
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
                parallel = false, new_line = '\\n', max_line_size = {MAX_LINE_BYTES + 2}
            )
            """
        )
    except duckdb.Error as exc:
        if "maximum line size" in str(exc).lower():
            raise UnreadableFileError(
                f"a line is longer than {MAX_LINE_BYTES >> 20} MiB, the longest line the "
                "loader reads (DuckDB max_line_size)"
            ) from exc
        raise UnreadableFileError(f"not a readable JSON Lines file: {_first_line(exc)}") from exc
    con.execute(
        """
        create or replace temp table _lines as
        select _source_line, rtrim(line, chr(13)) as line,
               coalesce(
                   case when json_valid(rtrim(line, chr(13)))
                        then json_type(rtrim(line, chr(13))) = 'OBJECT' end,
                   false
               ) as ok
        from _lines where trim(coalesce(line, ''), ' ' || chr(9) || chr(13)) <> ''
        """
    )
    # Names are matched case-insensitively: one object holding `TICKET_ID` and
    # `ticket_id` would silently lose a value, so the file fails; different lines
    # spelling it differently are the same column.
    twice = con.execute(
        """
        select string_agg(key, ' and ' order by key), _source_line from (
            select _source_line, unnest(json_keys(line)) as key from _lines where ok
        )
        group by _source_line, lower(trim(key)) having count(*) > 1
        order by _source_line limit 1
        """
    ).fetchone()
    if twice:
        raise UnreadableFileError(
            f"the object of line {twice[1]} holds one column twice ({twice[0]}; "
            "names are case-insensitive)"
        )
    spellings: dict[str, list[str]] = {}
    for (key,) in con.execute(
        "select distinct unnest(json_keys(line)) from _lines where ok order by 1"
    ).fetchall():
        spellings.setdefault(_clean_name(key), []).append(key)
    keys, selects = [], []
    for i, variants in enumerate(spellings.values()):
        paths = [f"json_extract_string(line, {sql_literal(_json_pointer(k))})" for k in variants]
        expr = paths[0] if len(paths) == 1 else f"coalesce({', '.join(paths)})"
        selects.append(f"{expr} as c{i}")
        keys.append(variants[0])
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
    return keys


def _json_pointer(key: str) -> str:
    """An RFC 6901 pointer to a top-level key (any key, the empty one too)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


READERS = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def _clean_name(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable()).strip().lower()


@dataclass
class LandedColumn:
    original: str  # as in the file
    name: str  # cleaned, lower-cased: what the contract is matched against
    stored: str  # the raw column


def _landed_columns(e: Entity, names: list[str]) -> list[LandedColumn]:
    """Map the landed names to raw columns; a name landed twice fails the file."""
    columns: list[LandedColumn] = []
    by_name: dict[str, str] = {}
    by_stored: dict[str, str] = {}
    for position, original in enumerate(names, start=1):
        name = _clean_name(original) or f"unnamed_{position}"
        if name in by_name:
            spelt = (
                f"as {by_name[name]!r} and {original!r}"
                if by_name[name] != original
                else f"as {original!r}"
            )
            raise UnreadableFileError(
                f"column {name!r} appears twice ({spelt}; names are case-insensitive)"
            )
        stored = stored_name(e, name)
        if stored in by_stored:
            raise UnreadableFileError(
                f"columns {by_stored[stored]!r} and {original!r} would both be stored as "
                f"{stored!r}; rename one"
            )
        by_name[name], by_stored[stored] = original, original
        columns.append(LandedColumn(original, name, stored))
    return columns


def read_file(con: duckdb.DuckDBPyConnection, e: Entity, path: Path) -> list[LandedColumn]:
    """Parse one file into temp tables `_landing` (columns named as stored in raw, plus
    `_source_line`) and `_landing_rejects`.

    Runs outside any transaction (DuckDB numbers transaction-local rows
    differently). Returns the landed columns.
    """
    fmt = FORMATS[path.suffix.lower()]
    names = READERS[fmt](con, path)
    columns = _landed_columns(e, names)
    found = {c.name for c in columns}
    missing = [c for c in e.required_columns if c not in found]
    if missing:
        raise UnreadableFileError(
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(sorted(found)) or 'none'})"[:MAX_ERROR_CHARS]
        )
    # Landed names never reach SQL as identifiers of the temp tables (a column named
    # `rowid` or `_source_line` would shadow ours): positional c0..cN until here.
    selects = [f"c{i} as {quote_ident(c.stored)}" for i, c in enumerate(columns)]
    con.execute(
        "create or replace temp table _landing as select "
        + ", ".join([*selects, "_source_line"])
        + " from _landing"
    )
    return columns


def append_file(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    columns: list[LandedColumn],
    rel_path: str,
    mtime: datetime,
    loaded_at: datetime,
) -> FileOutcome:
    """Append the parsed file to raw (the caller holds the transaction)."""
    existing = set(table_columns(con, "raw", e.qualified))
    extra = [c for c in columns if c.stored not in e.column_names]
    for c in extra:
        if c.stored not in existing:
            con.execute(f"alter table {raw_table(e)} add column {quote_ident(c.stored)} varchar")
        con.execute(
            "insert or replace into raw._schema_drift "
            "(entity, path, column_name, detected_at, original_name, stored_name) "
            "values (?, ?, ?, ?, ?, ?)",
            [e.qualified, rel_path, c.name, loaded_at, c.original, c.stored],
        )
    lineage = (
        f"{sql_literal(rel_path)} as _source_file, _source_line, "
        f"cast(? as timestamp) as _loaded_at, cast(? as timestamp) as _file_mtime"
    )
    col_list = "".join(
        f"nullif({quote_ident(c.stored)}, '') as {quote_ident(c.stored)}, " for c in columns
    )
    con.execute(
        f"insert into {raw_table(e)} by name select {col_list}{lineage} from _landing",
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
    return FileOutcome(rel_path, "loaded", rows=int(rows), extra_columns=[c.stored for c in extra])


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for t in (
        "_landing",
        "_landing_rejects",
        "_lines",
        "_rej",
        "_rej_scan",
        "_numbered",
        "_offsets",
        "_gaps",
    ):
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


def _record(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    rel: str,
    known: dict | None,
    outcome: FileOutcome,
    *,
    size: int | None,
    mtime: datetime | None,
    sha: str | None,
    loaded_at: datetime,
    columns: list[LandedColumn] | None = None,
) -> FileOutcome:
    """Replace what raw holds of `rel` by `outcome` (its rows when it was read), in one
    transaction: a crash leaves the file either wholly loaded and recorded, or as it
    was (and then it is loaded next run)."""
    con.execute("begin transaction")
    try:
        if known:  # a file never recorded has no rows to replace
            con.execute(f"delete from {raw_table(e)} where _source_file = ?", [rel])
            con.execute(
                "delete from raw._schema_drift where entity = ? and path = ?", [e.qualified, rel]
            )
        if outcome.status == "read":
            outcome = append_file(con, e, columns or [], rel, mtime, loaded_at)
        _upsert_manifest(
            con, e, rel, size, mtime, sha, outcome.status, outcome.error, outcome.rows, loaded_at
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _drop_temp(con)
    return outcome


def load_entity(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    e: Entity,
    loaded_at: datetime | None = None,
    *,
    follow_external_links: bool | None = None,
) -> LoadResult:
    """Bring raw up to date with the entity's landing folder.

    Once files were loaded, refuses (SettingsError, nothing changed) a landing
    directory that does not exist or holds no landing file at all: that is a
    mistyped CX_LANDING_DIR, not a company that deleted every file, and must not
    empty raw.
    """
    if follow_external_links is None:
        follow_external_links = os.environ.get("CX_FOLLOW_EXTERNAL_LINKS", "").strip().lower() in (
            "1",
            "true",
            "yes",
            "on",
        )
    loaded_at = loaded_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    ensure_raw_tables(con, e)
    result = LoadResult(e.qualified)
    manifest = {
        r[0]: {"size": r[1], "mtime": r[2], "sha": r[3], "status": r[4], "error": r[5]}
        for r in con.execute(
            "select path, size_bytes, mtime, sha256, status, error from raw._files "
            "where entity = ?",
            [e.qualified],
        ).fetchall()
    }
    if any(known["status"] != "missing" for known in manifest.values()):
        check_landing_dir(landing_dir)
    seen: set[str] = set()
    for path in landing_files(landing_dir, e):
        rel = path.relative_to(landing_dir).as_posix()
        seen.add(rel)
        known = manifest.get(rel)
        try:
            st = path.lstat()
        except OSError as exc:  # vanished between listing and reading
            log.warning("%s: %s", rel, exc)
            seen.discard(rel)
            continue
        skip = _skip_reason(path)
        if skip:
            if not (known and known["status"] == "ignored" and known["error"] == skip):
                _record(
                    con,
                    e,
                    rel,
                    known,
                    FileOutcome(rel, "ignored", error=skip),
                    size=st.st_size,
                    mtime=_mtime(st),
                    sha=None,
                    loaded_at=loaded_at,
                )
                log.warning("%s: ignored, %s", rel, skip)
            result.files.append(FileOutcome(rel, "ignored", error=skip))
            continue
        refused = _refusal(path, landing_dir, follow_external_links)
        if refused:
            outcome = FileOutcome(rel, "failed", error=refused)
            if not (known and known["status"] == "failed" and known["error"] == refused):
                _record(
                    con,
                    e,
                    rel,
                    known,
                    outcome,
                    size=None,
                    mtime=_mtime(st),
                    sha=None,
                    loaded_at=loaded_at,
                )
            log.error("%s: %s", rel, refused)
            result.files.append(outcome)
            continue
        try:
            st = path.stat()
        except OSError as exc:
            st = None
            outcome = FileOutcome(rel, "failed", error=_os_reason(exc))
        mtime = _mtime(st) if st else None
        size = st.st_size if st else None
        if (
            known
            and known["status"] == "loaded"
            and known["size"] == size
            and known["mtime"] == mtime
        ):
            result.files.append(FileOutcome(rel, "unchanged"))
            continue
        sha = None
        columns: list[LandedColumn] = []
        if st:
            try:
                sha = sha256_of(path)
                if known and known["sha"] == sha and known["status"] == "loaded":
                    # Same content, touched: the rows stay, but the file now
                    # orders by its new modification time (as a fresh build
                    # would), and the new time is stored so it is not re-hashed.
                    _retouch(con, e, rel, mtime)
                    result.files.append(FileOutcome(rel, "unchanged"))
                    continue
                columns = read_file(con, e, path)
                outcome = FileOutcome(rel, "read")
            except UnreadableFileError as exc:
                outcome = FileOutcome(rel, "failed", error=str(exc))
            except OSError as exc:
                outcome = FileOutcome(rel, "failed", error=_os_reason(exc))
            except duckdb.Error as exc:
                outcome = FileOutcome(rel, "failed", error=f"cannot be read: {_first_line(exc)}")
        try:
            outcome = _record(
                con,
                e,
                rel,
                known,
                outcome,
                size=size,
                mtime=mtime,
                sha=sha,
                loaded_at=loaded_at,
                columns=columns,
            )
        except duckdb.Error as exc:
            # The rows could not be stored (the transaction was rolled back): the file
            # fails with the reason, the others still load.
            outcome = _record(
                con,
                e,
                rel,
                known,
                FileOutcome(rel, "failed", error=f"cannot be stored in raw: {_first_line(exc)}"),
                size=size,
                mtime=mtime,
                sha=sha,
                loaded_at=loaded_at,
            )
        if outcome.status == "failed":
            log.error("%s: %s", rel, outcome.error)
        result.files.append(outcome)
    for rel, known in manifest.items():
        if rel not in seen and known["status"] != "missing":
            # Raw mirrors the landing directory: a file that disappeared takes its
            # rows out, so an incremental load equals a fresh one.
            _record(
                con,
                e,
                rel,
                known,
                FileOutcome(
                    rel,
                    "missing",
                    error="the file is no longer in the landing directory; its rows were "
                    "removed from raw",
                ),
                size=known["size"],
                mtime=known["mtime"],
                sha=known["sha"],
                loaded_at=loaded_at,
            )
            result.files.append(FileOutcome(rel, "removed"))
    return result


def _retouch(con: duckdb.DuckDBPyConnection, e: Entity, rel: str, mtime: datetime | None) -> None:
    """Record a new modification time for a file whose content did not change."""
    con.execute("begin transaction")
    try:
        con.execute(
            f"update {raw_table(e)} set _file_mtime = ? where _source_file = ?", [mtime, rel]
        )
        con.execute(
            "update raw._files set mtime = ? where entity = ? and path = ?",
            [mtime, e.qualified, rel],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
