"""Serving the marts to BI tools: a read-only file swapped in whole after each good run.

DuckDB gives a writer its file to itself, so a BI tool, notebook or DuckDB shell
holding the working warehouse (`CX_WAREHOUSE`) open makes a run fail. Readers
therefore never open that file: each successful run copies schema `marts` into a
new file under a temporary name in the same folder, checkpoints and closes it,
and `os.replace`s it onto `Settings.published`. A reader that opened the old
file keeps reading it (the replaced inode lives until its last descriptor
closes), a new connection sees the new build, and no one ever sees half of one.
`raw`, `quarantine` (PII) and `staging` are not copied.

The new file starts as a byte copy of the published one (a sequential file copy,
seconds at a million customers, where rewriting every mart through DuckDB took
77 s), and each mart in it is then brought to the working warehouse's rows: the
rows whose 64-bit hash occurs a different number of times on the two sides are
deleted from it and inserted again from the warehouse, so rows added, changed,
gone or duplicated all reconcile, and a mart with no change is left as it is. An
incremental mart skips the hashing: the rows of the keys its upstream wrote since
the previous publish are replaced, and the keys gone from it deleted
(cx_insights/written_keys.py; at 1 M customers hashing a 20 M-row fact took about
9 s). A mart whose columns differ, a new one, or one where most rows changed is
copied whole; a published file that cannot be read, or whose free space has grown
past a quarter of it, is replaced by a full copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cx_insights import written_keys
from cx_insights.config import DBT_PROJECT_DIR, Settings
from cx_insights.warehouse import memory_limit, quote_ident, release_memory, sql_literal

#: The schema copied to the published file, and its build-log table.
MARTS_SCHEMA = "marts"
BUILD_TABLE = "_build"

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_LOCK_ERROR = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)


class WarehouseInUseError(RuntimeError):
    """Another process holds the working warehouse file; the message is one line."""


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    program: str | None


def lock_holder(message: str) -> LockHolder | None:
    """The process DuckDB names in a lock error (None when `message` is no lock error)."""
    if not _LOCK_ERROR.search(message):
        return None
    match = _LOCK_HOLDER.search(message)
    if not match:
        return LockHolder(pid=None, program=None)
    return LockHolder(pid=int(match["pid"]), program=match["program"])


def in_use_message(settings: Settings, holder: LockHolder) -> str:
    who = (
        f"PID {holder.pid}: {holder.program}"
        if holder.pid is not None
        else "holder not reported by DuckDB"
    )
    return (
        f"{settings.warehouse} is open in another process ({who}); close it "
        f"(BI tools should open {settings.published})"
    )


def check_warehouse_free(settings: Settings) -> None:
    """Open the working file read-write once and close it: WarehouseInUseError if another
    process holds it. Nothing is created or changed (a missing file is free)."""
    if not settings.warehouse.exists():
        return
    try:
        duckdb.connect(str(settings.warehouse)).close()
    except duckdb.IOException as exc:
        holder = lock_holder(str(exc))
        if holder is None:
            raise
        raise WarehouseInUseError(in_use_message(settings, holder)) from None


def mart_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    """Every table and view of schema `marts` in an attached database, build log excepted."""
    rows = con.execute(
        """
        select table_name from information_schema.tables
        where table_catalog = ? and table_schema = ? and table_name <> ?
        order by table_name
        """,
        [database, MARTS_SCHEMA, BUILD_TABLE],
    ).fetchall()
    return [r[0] for r in rows]


def publish(settings: Settings, run_id: str | None = None) -> Path:
    """Copy schema `marts` of the working warehouse to `settings.published`, atomically.

    Call it only at the end of a successful run: the previous published file stays
    in place until the new one is complete on disk.
    """
    target = settings.published
    _remove_abandoned_temp_files(target)
    release_memory()  # what the insights freed: the copy's DuckDB takes up to its cap
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        if settings.target != "duckdb":
            _write_marts_from_target(settings, tmp, run_id)
        else:
            _write_marts_copy(settings.warehouse, tmp, run_id, previous=target)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    finally:
        _remove_database_file(tmp)
    return target


def _remove_database_file(path: Path) -> None:
    """A DuckDB file and its write-ahead log, where they exist."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _write_marts_copy(warehouse: Path, tmp: Path, run_id: str | None, previous: Path) -> None:
    """The working warehouse's marts into `tmp`: the previous published file updated
    where it differs, or, when there is none or it cannot be read, copied whole."""
    if previous.exists() and _mostly_used(previous):
        shutil.copyfile(previous, tmp)
        try:
            _write_marts(warehouse, tmp, run_id, update=True)
            return
        except duckdb.Error:
            # Not a DuckDB file this library reads (damaged, written by another
            # version): the full copy below does not need it.
            _remove_database_file(tmp)
    _write_marts(warehouse, tmp, run_id, update=False)


#: A published file with more than this share of its blocks free (space deleted rows
#: left that later writes did not reuse) is written anew, compact. After a daily drop
#: at 1 M customers: 146 of 13 530 blocks (1 %).
FREE_BLOCKS_SHARE = 0.25
#: ... and at least this many (64 MiB of 256 KiB blocks): a small file is not worth it.
FREE_BLOCKS_MIN = 256


def _mostly_used(path: Path) -> bool:
    """Whether the file is a DuckDB database without much free space (FREE_BLOCKS_*)."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            free, total = con.execute(
                "select free_blocks, total_blocks from pragma_database_size()"
            ).fetchone()
    except duckdb.Error:
        return False
    return free <= FREE_BLOCKS_SHARE * total or free < FREE_BLOCKS_MIN


#: A mart where at least this share of the rows changed is copied whole: cheaper
#: than deleting and inserting most of it, and the file keeps no deleted rows.
REWRITE_SHARE = 0.5


#: dbt's manifest of the DuckDB target: how each incremental mart's written rows are found.
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def _write_marts(warehouse: Path, tmp: Path, run_id: str | None, update: bool) -> None:
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set memory_limit = {sql_literal(memory_limit())}")
        con.execute(f"attach {sql_literal(str(warehouse))} as work (read_only)")
        con.execute(f"attach {sql_literal(str(tmp))} as pub")
        tables = mart_tables(con, "work")
        if not tables:
            raise RuntimeError(f"{warehouse} has no marts to publish")
        con.execute(f"create schema if not exists pub.{MARTS_SCHEMA}")
        published = set(mart_tables(con, "pub")) if update else set()
        for gone in sorted(published - set(tables)):
            con.execute(f"drop table pub.{MARTS_SCHEMA}.{quote_ident(gone)}")
        through = _written_through(con) if update else {}
        con.execute(f"drop table if exists pub.{MARTS_SCHEMA}.{BUILD_TABLE}")
        plans = written_keys.plans(MANIFEST, MARTS_SCHEMA)
        counts, markers = [], {}
        for table in tables:
            name = f"{MARTS_SCHEMA}.{quote_ident(table)}"
            columns = _columns(con, "work", table)
            plan = plans.get(table)
            markers[table] = _latest_marker(con, plan)
            # A view's rows have no row ids: copied whole (none of ours is large).
            same = (
                table in published
                and not _is_view(con, table)
                and _columns(con, "pub", table) == columns
            )
            updated = None
            since, latest = through.get(table), markers[table]
            # Markers older than the published ones (a working file restored from a
            # backup, say) cannot tell what changed: every row is compared then.
            if same and plan and since and latest and latest >= since:
                try:
                    updated = written_keys.replace_written(con, name, plan, since, REWRITE_SHARE)
                except duckdb.Error:  # an upstream or the watermarks missing: compare rows
                    updated = None
            if updated is None and same:
                updated = _update_table(con, name, [c for c, _ in columns])
            if not updated:
                _copy_table(con, name)
            counts.append((table, con.execute(f"select count(*) from pub.{name}").fetchone()[0]))
        _write_build_table(con, "pub", counts, run_id, markers)
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.execute("detach work")


def _written_through(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """{table: the latest upstream marker its published rows include} from the
    published build log (none from a file written before the column existed)."""
    try:
        return dict(
            con.execute(
                f"select table_name, written_through from pub.{MARTS_SCHEMA}.{BUILD_TABLE} "
                "where written_through is not null"
            ).fetchall()
        )
    except duckdb.Error:
        return {}


def _latest_marker(con: duckdb.DuckDBPyConnection, plan: written_keys.Plan | None):
    """The latest upstream marker the mart's rows include in the working file
    (Plan.latest_marker), or None."""
    if plan is None:
        return None
    try:
        return plan.latest_marker(con, "work")
    except duckdb.Error:  # an upstream missing (a project without it): no marker
        return None


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_catalog = ? and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [database, MARTS_SCHEMA, table],
    ).fetchall()


def _is_view(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute(
        """
        select table_type = 'VIEW' from information_schema.tables
        where table_catalog = 'work' and table_schema = ? and table_name = ?
        """,
        [MARTS_SCHEMA, table],
    ).fetchone()[0]


def _copy_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"drop table if exists pub.{name}")
    con.execute(f"create table pub.{name} as select * from work.{name}")


def _update_table(con: duckdb.DuckDBPyConnection, name: str, columns: list[str]) -> bool:
    """Bring pub's copy of a mart to work's rows by deleting and inserting the rows
    whose hash occurs a different number of times in the two (a multiset difference:
    duplicates count). False, with nothing changed, when most rows differ.

    Each side is hashed once, with its row ids, into a temporary table: the rows to
    delete and to insert are then found by row id (at 1 M customers a 20 M-row fact
    takes about 9 s, against 14 s hashing each side again to delete and insert)."""
    row_hash = f"hash({', '.join(quote_ident(c) for c in columns)})"
    for side in ("work", "pub"):
        con.execute(
            f"create or replace temp table _{side}_rows as "
            f"select rowid as row_id, {row_hash} as row_hash from {side}.{name}"
        )
    con.execute(
        """
        create or replace temp table _changed_rows as
        select row_hash
        from (
            select row_hash, 1 as side from _work_rows
            union all
            select row_hash, -1 as side from _pub_rows
        )
        group by row_hash
        having sum(side) <> 0
        """
    )
    changed = con.execute("select count(*) from _changed_rows").fetchone()[0]
    rows = con.execute("select count(*) from _work_rows").fetchone()[0]
    kept = changed < REWRITE_SHARE * max(rows, 1)
    if changed and kept:
        ids = "select row_id from _{}_rows semi join _changed_rows using (row_hash)"
        gone, new = ids.format("pub"), ids.format("work")
        con.execute(f"delete from pub.{name} where rowid in ({gone})")
        con.execute(f"insert into pub.{name} select * from work.{name} where rowid in ({new})")
    for table in ("_work_rows", "_pub_rows", "_changed_rows"):
        con.execute(f"drop table {table}")
    return kept


def _write_marts_from_target(settings: Settings, tmp: Path, run_id: str | None) -> None:
    """The PostgreSQL or Spark target's marts, each column with its type, into a new
    DuckDB file: the same read-only file for BI tools, the dashboard's alerts and exports."""
    from cx_insights.target import fetch_target_tables

    with duckdb.connect(str(tmp)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set memory_limit = {sql_literal(memory_limit())}")
        con.execute(f"create schema {MARTS_SCHEMA}")
        tables = [t for t in fetch_target_tables(settings, con, MARTS_SCHEMA) if t != BUILD_TABLE]
        if not tables:
            raise RuntimeError(f"the {settings.target} target has no marts to publish")
        count = "select count(*) from {}.{}"
        counts = [
            (t, con.execute(count.format(MARTS_SCHEMA, quote_ident(t))).fetchone()[0])
            for t in tables
        ]
        database = con.execute("select current_database()").fetchone()[0]
        _write_build_table(con, database, counts, run_id)
        con.execute("checkpoint")


def _write_build_table(
    con: duckdb.DuckDBPyConnection,
    database: str,
    counts: list,
    run_id: str | None,
    markers: dict[str, object] | None = None,
) -> None:
    """One row per published table; `computed_at` / `computed_by_run`: when and by which
    run its rows were computed (an insight mart a run did not recompute keeps the run
    that did: cx_insights/insights/schedule.py); `written_through`: for an incremental
    mart, the latest upstream marker its rows include (the next publish replaces the
    rows written after it, cx_insights/written_keys.py)."""
    markers = markers or {}
    from cx_insights.insights.schedule import skipped_origin

    built_at = datetime.now(UTC).replace(tzinfo=None)
    origin = skipped_origin()
    con.execute(
        f"""
        create table {database}.{MARTS_SCHEMA}.{BUILD_TABLE} (
            table_name varchar not null,
            row_count bigint not null,
            built_at timestamp not null,
            run_id varchar,
            computed_at timestamp not null,
            computed_by_run varchar,
            written_through timestamp
        )
        """
    )
    rows = []
    for table, count in counts:
        computed = (origin[1], origin[0]) if origin and table in origin[2] else (built_at, run_id)
        rows.append((table, count, built_at, run_id, *computed, markers.get(table)))
    con.executemany(
        f"insert into {database}.{MARTS_SCHEMA}.{BUILD_TABLE} values (?, ?, ?, ?, ?, ?, ?)", rows
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_abandoned_temp_files(target: Path) -> None:
    """Temp files of publishers that died (killed run): their process is gone."""
    for path in target.parent.glob(f".{target.name}.*.tmp*"):
        pid = path.name[len(target.name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
