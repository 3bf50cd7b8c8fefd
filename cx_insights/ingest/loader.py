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

import hashlib
import logging
import os
import stat as stat_module
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cx_insights.config import check_landing_dir
from cx_insights.contract import FORMATS, Entity
from cx_insights.ingest.readers import (
    DRIFT_PREFIX,
    LandedColumn,
    UnreadableFileError,
    _first_line,
    read_file,
)
from cx_insights.warehouse import quote_ident, sql_literal, table_columns, table_exists

if TYPE_CHECKING:
    from cx_insights.ingest.spark_reader import SparkFileReader

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

EXTERNAL_LINK_REASON = (
    "symbolic link to a path outside the landing directory "
    "(set CX_FOLLOW_EXTERNAL_LINKS=1 to allow)"
)


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


def failure_reason(exc: UnreadableFileError | OSError | duckdb.Error) -> str:
    """What the manifest records of a file that could not be read."""
    if isinstance(exc, UnreadableFileError):
        return str(exc)
    if isinstance(exc, OSError):
        return _os_reason(exc)
    return f"cannot be read: {_first_line(exc)}"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot be read: {exc.strerror}"
    return f"cannot be read: {_first_line(exc)}"


# --- CSV ----------------------------------------------------------------------


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
    reader: SparkFileReader | None = None,
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
    paths = landing_files(landing_dir, e)
    if reader is not None:
        reader.prepare(e, _changed_files(paths, landing_dir, manifest, follow_external_links))
    try:
        _load_files(
            con,
            e,
            landing_dir,
            paths,
            manifest,
            seen,
            result,
            loaded_at,
            follow_external_links,
            reader,
        )
    finally:
        if reader is not None:
            reader.close()
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


def _changed_files(
    paths: list[Path], landing_dir: Path, manifest: dict[str, dict], follow_external_links: bool
) -> list[Path]:
    """The files `_load_files` will read (Spark reads them first, all at once): readable
    regular files whose size or modification time is not that of a loaded file."""
    changed = []
    for path in paths:
        if _skip_reason(path) or _refusal(path, landing_dir, follow_external_links):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        known = manifest.get(path.relative_to(landing_dir).as_posix())
        if not (
            known
            and known["status"] == "loaded"
            and known["size"] == st.st_size
            and known["mtime"] == _mtime(st)
        ):
            changed.append(path)
    return changed


def _load_files(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    landing_dir: Path,
    paths: list[Path],
    manifest: dict[str, dict],
    seen: set[str],
    result: LoadResult,
    loaded_at: datetime,
    follow_external_links: bool,
    reader: SparkFileReader | None,
) -> None:
    """Read and record each landing file in turn (`load_entity`)."""
    for path in paths:
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
                columns = (reader.read if reader else read_file)(con, e, path)
                outcome = FileOutcome(rel, "read")
            except (UnreadableFileError, OSError, duckdb.Error) as exc:
                outcome = FileOutcome(rel, "failed", error=failure_reason(exc))
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
