"""Reading one landing file into a temporary DuckDB table, as text.

DuckDB's own readers parse CSV (UTF-8 with or without BOM, RFC 4180 quoting,
LF, CRLF or both mixed, records up to MAX_LINE_BYTES), Parquet and JSON Lines;
a record that cannot be parsed keeps its text with `_parse_error`, and a file
that cannot be read at all raises UnreadableFileError with the reason. Column
names are matched with the contract case-insensitively (LandedColumn).
The loader (cx_insights.ingest.loader) decides which files to read and keeps
the manifest.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np

from cx_insights.contract import FORMATS, Entity
from cx_insights.warehouse import quote_ident, sql_literal

log = logging.getLogger(__name__)

#: Prefix of every landed column that is not in the contract (schema drift).
DRIFT_PREFIX = "x_"

#: The longest CSV record or JSON line DuckDB is allowed to read (its
#: `max_line_size`, 2 MB by default, is too short for long verbatims).
MAX_LINE_BYTES = 64 << 20

#: Longest file-level error kept in the manifest.
MAX_ERROR_CHARS = 400


class UnreadableFileError(Exception):
    """The file as a whole cannot be read; the message says why."""


def stored_name(e: Entity, landed: str) -> str:
    """The raw column of a landed column (already cleaned and lower-cased): a contract
    column keeps its name; any other is namespaced, so it never starts with `_` and
    never collides with a column the loader or the gate adds."""
    return landed if landed in e.column_names else DRIFT_PREFIX + landed


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


def landed_columns(e: Entity, names: list[str]) -> list[LandedColumn]:
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
    columns = landed_columns(e, names)
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
