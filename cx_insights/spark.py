"""The Spark target's files: where the landed rows go in, where the tables come out.

`CX_TARGET=spark` builds the models with dbt-spark. Its connection method comes
from `CX_SPARK_METHOD` (`session` by default: a Spark session inside dbt's
process, on `CX_SPARK_MASTER`, `local[2]` by default or `spark://host:7077` for a
standalone cluster; `thrift` for an existing Thrift server at
`CX_SPARK_HOST:CX_SPARK_PORT`). Everything lives under `<warehouse dir>/spark/`:

- `files/<schema>/<table>/` : Parquet written by the loader's side. The loader
  and the gate work in the DuckDB file (file/line errors, quarantine) and each
  gate asset writes its entity's landed, accepted and quarantined rows here;
  the Python statistics (cx_insights.insights.computed) write their tables
  here too. dbt reads them as `parquet.\\`<folder>\\`` (the project's `source()`
  macro), so nothing but dbt ever talks to Spark's metastore.
- `warehouse/<schema>.db/<table>/` : the tables dbt builds (Spark's
  `spark.sql.warehouse.dir`, Parquet); readers (export, dashboard, the Python
  statistics) read these files with DuckDB, no Spark session needed.
- `metastore/` : the embedded Derby metastore (one Spark process at a time).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from cx_insights.config import Settings
from cx_insights.warehouse import quote_ident, sql_literal

T = TypeVar("T")


class SparkError(RuntimeError):
    """A Spark table or file the build needs is missing; the message says which."""


def root(settings: Settings) -> Path:
    return settings.output_dir / "spark"


def files_dir(settings: Settings) -> Path:
    return root(settings) / "files"


def warehouse_dir(settings: Settings) -> Path:
    return root(settings) / "warehouse"


def metastore_dir(settings: Settings) -> Path:
    return root(settings) / "metastore"


def master() -> str:
    return os.environ.get("CX_SPARK_MASTER", "").strip() or "local[2]"


def driver_memory() -> str:
    return os.environ.get("CX_SPARK_DRIVER_MEMORY", "").strip() or "4g"


def python() -> str:
    """The Python of Spark's Python workers (the landing files' reader runs there):
    `PYSPARK_PYTHON` when set (a cluster's own), else this process's, which has the
    project installed."""
    return os.environ.get("PYSPARK_PYTHON", "").strip() or sys.executable


def method() -> str:
    return os.environ.get("CX_SPARK_METHOD", "").strip() or "session"


def dbt_env(settings: Settings) -> dict[str, str]:
    """The variables profiles.yml's `spark` target reads (absolute paths). While the
    run's Spark Connect server is up, SPARK_REMOTE too: dbt-spark's session method
    then opens a Connect session to it (pyspark does that whenever SPARK_REMOTE is
    set) instead of starting a JVM of its own."""
    for folder in (files_dir(settings), warehouse_dir(settings), metastore_dir(settings)):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "CX_SPARK_FILES": str(files_dir(settings)),
        "CX_SPARK_WAREHOUSE_DIR": str(warehouse_dir(settings)),
        "CX_SPARK_METASTORE_DIR": str(metastore_dir(settings)),
        "CX_SPARK_MASTER": master(),
    }
    url = ConnectServer(settings).url() if method() == "session" else None
    if url:
        env["SPARK_REMOTE"] = url
        forget_local_token()  # dbt inherits this process's environment
    else:
        env["PYSPARK_SUBMIT_ARGS"] = (
            f"--master {master()} --driver-memory {driver_memory()} pyspark-shell"
        )
        forget_inherited_connect_mode()
    return env


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark settings of the `spark` target: the Connect server gets them on its
    command line; profiles.yml lists the same for a session in dbt's own process
    (tests/test_spark.py checks that the two agree)."""
    metastore = metastore_dir(settings)
    return {
        "spark.sql.warehouse.dir": str(warehouse_dir(settings)),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore}/metastore_db;create=true"
        ),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.doubleQuotedIdentifiers": "true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.shuffle.partitions": os.environ.get("CX_SPARK_SHUFFLE_PARTITIONS", "") or "4",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.decimalOperations.allowPrecisionLoss": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
    }


#: The settings that give a session the target's metastore.
METASTORE_SETTINGS = frozenset(
    {"spark.sql.catalogImplementation", "spark.hadoop.javax.jdo.option.ConnectionURL"}
)


class ConnectServer:
    """One Spark Connect server per run (`<warehouse dir>/spark/connect.json` holds
    its pid and port; its log is `connect.log`). Every dbt step of the run talks to
    this one warm JVM: a Spark session started per dbt invocation cost about 20 s
    of start-up and cold queries each time (the sample built in 760 s that way)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.state = root(settings) / "connect.json"
        self.log = root(settings) / "connect.log"

    def url(self, timeout: float = 180.0) -> str | None:
        """sc://127.0.0.1:<port> once the server accepts connections (waiting for it
        up to `timeout` seconds after a start); None when no server is up."""
        try:
            state = json.loads(self.state.read_text())
            pid, port = int(state["pid"]), int(state["port"])
        except (OSError, ValueError, KeyError):
            return None
        deadline = time.monotonic() + timeout
        while True:
            if not _alive(pid):  # left behind by a run that was killed: forget it
                self.state.unlink(missing_ok=True)
                return None
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return f"sc://127.0.0.1:{port}"
            if time.monotonic() > deadline:
                raise SparkError(
                    f"the Spark Connect server did not listen in {timeout:.0f} s: {self.log}"
                )
            time.sleep(0.5)

    def start(self) -> str:
        """Start the server in the background (a JVM: about 15 s until it listens,
        which the run's loading and gate overlap); url() waits for it."""
        if self.state.exists():
            self.stop()
        port = free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        process = start_server(
            self.settings,
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            {
                "spark.connect.grpc.binding.port": str(port),
                "spark.connect.grpc.binding.address": "127.0.0.1",
            },
            self.log,
        )
        self.state.write_text(json.dumps({"pid": process.pid, "port": port}))
        return f"sc://127.0.0.1:{port}"

    def stop(self) -> bool:
        try:
            state = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return False
        self.state.unlink(missing_ok=True)
        return kill_group(int(state.get("pid", 0)))


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, and it exited
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def connect_server(settings: Settings) -> Iterator[None]:
    """A Spark Connect server for the duration of a run on the Spark target with the
    session method (nothing otherwise): started in the background, stopped at the end."""
    if settings.target != "spark" or method() != "session":
        yield
        return
    server = ConnectServer(settings)
    server.start()
    try:
        yield
    finally:
        close_sessions()
        server.stop()


def start_server(
    settings: Settings,
    main_class: str,
    conf: dict[str, str],
    log: Path,
    *,
    app: str | None = None,
) -> subprocess.Popen:
    """A Spark server (`main_class`: Spark Connect, the Thrift server) started with
    spark-submit in its own process group, on the project's master, driver memory,
    Derby metastore and settings plus `conf`, its output appended to `log`."""
    from pyspark.find_spark_home import _find_spark_home

    home = _find_spark_home()
    metastore = metastore_dir(settings)
    metastore.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(home) / "bin" / "spark-submit"),
        "--class",
        main_class,
        "--name",
        "cx-insights",
        "--master",
        master(),
        "--driver-memory",
        driver_memory(),
        "--driver-java-options",
        f"-Dderby.system.home={metastore}",
    ]
    for key, value in {**conf, **spark_conf(settings)}.items():
        command += ["--conf", f"{key}={value}"]
    if app:
        command.append(app)
    env = {**os.environ, "SPARK_HOME": home, "PYSPARK_PYTHON": python()}
    env.pop("SPARK_REMOTE", None)
    # A token a local in-process Connect server left (forget_local_token) would make
    # this server demand it, while our clients connect without one.
    env.pop(_LOCAL_TOKEN, None)
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=root(settings),
            start_new_session=True,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(pid: int, timeout: float = 30.0) -> bool:
    """SIGTERM the server's process group, SIGKILL it after `timeout` seconds."""
    if pid <= 0:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


_sessions: dict[str, object] = {}

#: Set by pyspark when it starts a local Connect server in this process.
_LOCAL_TOKEN = "SPARK_CONNECT_AUTHENTICATE_TOKEN"


def forget_local_token() -> None:
    """Drop the token a local in-process Connect server (pyspark's `remote("local")`:
    `dagster dev`, the thrift method) left in the environment: with it set, every
    later Connect client speaks TLS with that token, which the run's server (plain
    gRPC on 127.0.0.1, no token) refuses ("Tls handshake failed"). Sessions already
    open keep their channels."""
    os.environ.pop(_LOCAL_TOKEN, None)


#: Set by pyspark in a process that opens a Connect session, and inherited by its
#: children.
_CONNECT_MODE = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE")


def forget_inherited_connect_mode() -> None:
    """Drop the Connect mode a parent process left in the environment (a process that
    opened a Connect session, e.g. a test worker or `dagster dev`, started this one):
    with SPARK_CONNECT_MODE_ENABLED set and no SPARK_REMOTE, the Spark session dbt-spark
    starts in this process fails with CONNECT_URL_NOT_SET. A process with Connect
    sessions of its own keeps it: its sessions need it."""
    if not _sessions:
        for name in _CONNECT_MODE:
            os.environ.pop(name, None)


def session(settings: Settings):
    """A Spark Connect session for this process (Great Expectations validates the
    handed-over rows through it): to the run's Connect server when one is up, else to
    a local one pyspark starts in this process (`dagster dev`, the thrift method),
    with the target's settings. One per process and remote: it becomes pyspark's
    default session, which GX's Spark engine then takes."""
    from pyspark.sql import SparkSession

    url = ConnectServer(settings).url() if method() == "session" else None
    remote = url or (master() if master().startswith("local") else "local[2]")
    if url:
        forget_local_token()
    if remote not in _sessions:
        builder = SparkSession.builder.remote(remote)
        if not url:
            # Its Python workers (the landing files' reader) need the project.
            os.environ.setdefault("PYSPARK_PYTHON", python())
            for key, value in spark_conf(settings).items():
                # No metastore: this session reads Parquet folders only (and Derby
                # allows one process, which may be dbt's).
                if key not in METASTORE_SETTINGS:
                    builder = builder.config(key, value)
        with warnings.catch_warnings():
            # A local session takes the static settings at start; pyspark then warns
            # that it cannot set them again on the Connect side.
            warnings.filterwarnings("ignore", message="Failed to set", category=UserWarning)
            _sessions[remote] = builder.getOrCreate()
    return _sessions[remote]


def close_sessions() -> None:
    """Stop this process's sessions (before the server they talk to stops)."""
    while _sessions:
        _, opened = _sessions.popitem()
        opened.stop()


def describe(settings: Settings) -> str:
    """Where dbt's Spark is and where its tables are, in one line."""
    where = master()
    if method() != "session":
        host = os.environ.get("CX_SPARK_HOST", "").strip() or "?"
        where = f"{method()} {host}:{os.environ.get('CX_SPARK_PORT', '').strip() or '10000'}"
    return f"{where}, tables in {warehouse_dir(settings)}"


def table_files(settings: Settings, schema: str, table: str) -> Path:
    """The folder of a table on the target: one dbt built (a managed Parquet table),
    else one handed over as Parquet (the Python statistics' tables)."""
    built = warehouse_dir(settings) / f"{schema}.db" / table
    handed = files_dir(settings) / schema / table
    return handed if not built.is_dir() and handed.is_dir() else built


def _spark_select(duck, schema: str, table: str) -> str:
    """SELECT of a DuckDB table with every column in a type Spark reads back the same:
    128-bit and unsigned 64-bit integers as decimal(38, 0) (Spark has neither), naive TIMESTAMP kept
    (Spark reads it as TIMESTAMP_NTZ), nanosecond timestamps (pandas' default, e.g. a
    statistic's empty frame) in microseconds (Spark refuses TIMESTAMP(NANOS)), the rest
    unchanged."""
    columns = duck.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    parts = []
    for name, kind in columns:
        column = quote_ident(name)
        if kind in ("HUGEINT", "UBIGINT", "UHUGEINT"):
            column = f"cast({column} as decimal(38, 0)) as {column}"
        elif kind == "TIMESTAMP_NS":  # a pandas datetime64[ns]: Spark reads no nanoseconds
            column = f"cast({column} as timestamp) as {column}"
        parts.append(column)
    return f"select {', '.join(parts)} from {quote_ident(schema)}.{quote_ident(table)}"


def write_tables(duck, settings: Settings, tables: list[tuple[str, str]]) -> dict[str, int]:
    """Write each DuckDB (schema, table) as Parquet under files/<schema>/<table>/,
    replacing the folder whole (a new folder renamed into place: a reader sees the
    old rows or the new ones). Returns the rows written per table."""
    written: dict[str, int] = {}
    for schema, table in tables:

        def copy(fresh: Path, schema: str = schema, table: str = table):
            fresh.mkdir()
            return duck.execute(
                f"copy ({_spark_select(duck, schema, table)}) to "
                f"{sql_literal(str(fresh / 'part-0.parquet'))} (format parquet)"
            ).fetchone()

        rows = replace_folder(files_dir(settings) / schema / table, copy)
        written[f"{schema}.{table}"] = int(rows[0]) if rows else 0
    return written


def replace_folder(target: Path, write: Callable[[Path], T]) -> T:
    """`write(fresh)` fills a new folder beside `target`, which is then renamed into
    place whole: a reader sees the old rows or the new ones, never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.parent / f".{target.name}.{uuid.uuid4().hex}"
    try:
        result = write(fresh)
        old = target.parent / f".{target.name}.old.{uuid.uuid4().hex}"
        if target.exists():
            target.rename(old)
        fresh.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return result


def tables(settings: Settings, schema: str) -> list[str]:
    """The tables of `schema` on the target: dbt's and the handed-over ones, without
    the working tables a stopped run can leave (`<model>__dbt_...`: dbt's own, and the
    incremental models' rewrite, dbt_project/macros/incremental/spark_rewrite.sql)."""
    names: set[str] = set()
    for folder in (warehouse_dir(settings) / f"{schema}.db", files_dir(settings) / schema):
        if folder.is_dir():
            names |= {
                p.name
                for p in folder.iterdir()
                if p.is_dir() and p.name[0] != "." and "__dbt_" not in p.name
            }
    return sorted(names)


def fetch_into_duckdb(duck, settings: Settings, wanted: list[tuple[str, str]]) -> None:
    """Load tables dbt built on Spark into a DuckDB connection under the same schema
    and name, with the types the same model has on DuckDB: Parquet's own types,
    except Spark's TIMESTAMP (an instant, shown in the session's UTC), which
    becomes the contract's `timestamp`, the UTC wall time without a zone."""
    for schema, table in wanted:
        folder = table_files(settings, schema, table)
        if not folder.is_dir():
            raise SparkError(f"Spark has no table {schema}.{table} ({folder}): run the build first")
        parts = sorted(folder.rglob("*.parquet"))
        if not parts:
            raise SparkError(f"Spark table {schema}.{table} has no Parquet file in {folder}")
        duck.execute(f"create schema if not exists {quote_ident(schema)}")
        listing = ", ".join(sql_literal(str(p)) for p in parts)
        source = f"read_parquet([{listing}])"
        columns = [
            f"timezone('UTC', {quote_ident(name)}) as {quote_ident(name)}"
            if kind == "TIMESTAMP WITH TIME ZONE"
            else quote_ident(name)
            for name, kind, *_ in duck.execute(f"describe select * from {source}").fetchall()
        ]
        duck.execute(
            f"create or replace table {quote_ident(schema)}.{quote_ident(table)} "
            f"as select {', '.join(columns)} from {source}"
        )
