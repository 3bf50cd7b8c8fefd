"""Dagster's SQLite event log, with its connections kept open for the life of the process.

Dagster's `SqliteEventLogStorage` creates a SQLAlchemy engine and opens a SQLite
connection for every write, and closes both after it (`NullPool`); closing the last
connection to a WAL database also checkpoints it. A `cx-insights run` stores about
1,400-1,700 events (every dbt test is an asset check, planned and then evaluated), and
at about 11 ms an event that was 15-18 s of a 66-89 s daily drop at 100 k customers,
plus 4-5 s planning the run (2026-12-07, measured inside the run). This class keeps one
engine, and so its pooled connections, per database file: about 3 ms an event. Same
files, same schema, same locking: every use still holds the storage's lock, and other
processes (`make dev`'s webserver) read the WAL files as before.

`orchestration/instance.py` names it in the `dagster.yaml` it writes; the run and
schedule storages are Dagster's own, in the directories `storage: sqlite` uses.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

#: Engines kept open: the index and the run being written, and a few more for the runs
#: a prune or the UI touches (the least recently used is closed first).
MAX_OPEN_SHARDS = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one engine per shard, kept open."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's engine (caller holds `_db_lock`), created and its database
        initialised on first use."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                # Used by whichever thread holds the lock (Dagster's log handlers too).
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > MAX_OPEN_SHARDS:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    def _close_engines(self) -> None:
        while self._engines:
            _, engine = self._engines.popitem()
            engine.dispose()

    def wipe(self) -> None:
        with self._db_lock:
            self._close_engines()  # before the run shards' files are deleted
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._close_engines()
        super().dispose()
