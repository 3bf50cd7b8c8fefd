"""The PostgreSQL target's server: `CX_POSTGRES_DSN`, or a local cluster of our own.

Without `CX_POSTGRES_DSN` the project runs a throwaway cluster beside the
warehouse file (`<warehouse dir>/postgres/`: `data/`, the Unix socket in
`socket/`, `server.log`), listening on no TCP port, started on demand by every
command that needs it and stopped by `cx-insights postgres stop`. PostgreSQL
refuses to run as root, so when the caller is root (CI containers) the server
runs as the unprivileged `postgres` account of Debian's package, which the
project's setup (`make postgres`) installs when it is missing.

Roles and databases: the cluster is initialised with one superuser `cx`
(trust authentication on the socket only) and a database `cx`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cx_insights.config import Settings

#: The role and database of the local cluster.
LOCAL_USER = "cx"
LOCAL_DATABASE = "cx"
#: Port number in the socket's name (`.s.PGSQL.5432`); no TCP listener is opened.
LOCAL_PORT = 5432
#: The account the server runs as when the caller is root.
SERVER_ACCOUNT = "postgres"
#: Unix socket paths are limited to 107 bytes (sun_path).
_MAX_SOCKET_PATH = 100


class PostgresError(RuntimeError):
    """The server cannot be reached or started; the message is one line and says why."""


@dataclass(frozen=True)
class Connection:
    """Where the target is: libpq connection parameters."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def dsn(self) -> str:
        """A libpq keyword/value DSN (what psql, psycopg and BI tools accept)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}"]
        parts.append(f"user={self.user}")
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def dbt_env(self) -> dict[str, str]:
        """The variables profiles.yml's `postgres` target reads."""
        return {
            "CX_PG_HOST": self.host,
            "CX_PG_PORT": str(self.port),
            "CX_PG_USER": self.user,
            "CX_PG_PASSWORD": self.password,
            "CX_PG_DBNAME": self.dbname,
        }


def from_dsn(dsn: str) -> Connection:
    """Parse a libpq DSN (`host=... dbname=...` or `postgresql://...`)."""
    from psycopg2.extensions import parse_dsn

    try:
        params = parse_dsn(dsn)
    except Exception as exc:
        raise PostgresError(f"CX_POSTGRES_DSN is not a valid libpq DSN: {exc}".strip()) from None
    return Connection(
        host=params.get("host", "localhost"),
        port=int(params.get("port", 5432)),
        user=params.get("user", os.environ.get("USER", "postgres")),
        password=params.get("password", ""),
        dbname=params.get("dbname", params.get("user", "postgres")),
    )


class LocalCluster:
    """The project's own cluster under `<warehouse dir>/postgres`."""

    def __init__(self, settings: Settings):
        self.root = settings.output_dir.resolve() / "postgres"
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"

    @property
    def connection(self) -> Connection:
        return Connection(str(self.socket_dir), LOCAL_PORT, LOCAL_USER, "", LOCAL_DATABASE)

    # -- state ---------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialised():
            return False
        result = self._pg("pg_ctl", "status", "-D", str(self.data), check=False)
        return result.returncode == 0

    # -- life cycle ------------------------------------------------------------

    def start(self) -> Connection:
        """Initialise (first time) and start the cluster unless it runs; idempotent."""
        if len(str(self.socket_dir / f".s.PGSQL.{LOCAL_PORT}")) > _MAX_SOCKET_PATH:
            raise PostgresError(
                f"the local PostgreSQL socket would be {self.socket_dir} (too long for a "
                "Unix socket): use a shorter CX_WAREHOUSE path or set CX_POSTGRES_DSN"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        account = _server_account()
        if account is not None:
            _check_reachable(self.root, account)
            for path in (self.root, self.socket_dir):
                shutil.chown(path, account.pw_name, account.pw_gid)
        if not self.initialised():
            self._pg(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                LOCAL_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            )
        if not self.running():
            options = (
                f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
                f"-p {LOCAL_PORT} -c fsync=on -c timezone=UTC"
            )
            if account is not None and not self.log.exists():
                self.log.touch()
                shutil.chown(self.log, account.pw_name, account.pw_gid)
            result = self._pg(
                "pg_ctl",
                "start",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                check=False,
            )
            if result.returncode != 0:
                raise PostgresError(
                    f"the local PostgreSQL cluster in {self.data} did not start "
                    f"({_last_line(result)}); see {self.log}"
                )
        self._ensure_database()
        return self.connection

    def stop(self) -> bool:
        """Stop the cluster if it runs; True when it was running."""
        if not self.running():
            return False
        self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        return True

    def _ensure_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                con = psycopg2.connect(
                    host=str(self.socket_dir),
                    port=LOCAL_PORT,
                    user=LOCAL_USER,
                    dbname="postgres",
                )
                break
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresError(f"the local cluster does not answer: {exc}") from None
                time.sleep(0.2)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", [LOCAL_DATABASE])
                if cur.fetchone() is None:
                    cur.execute(f'create database "{LOCAL_DATABASE}"')
        finally:
            con.close()

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(binary(program)), *args]
        account = _server_account()
        if account is not None:
            command = ["runuser", "-u", account.pw_name, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            raise PostgresError(f"{program} failed: {_last_line(result)}")
        return result


def binary(program: str) -> Path:
    """A PostgreSQL server program: PATH first, then Debian's versioned folders."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
        key=lambda p: int(Path(p).parts[3]) if Path(p).parts[3].isdigit() else 0,
        reverse=True,
    )
    found = shutil.which(program)
    # Debian's /usr/bin wrappers (pg_wrapper) need a cluster registry: prefer the real binaries.
    for path in [*candidates, found]:
        if path and Path(path).exists():
            return Path(path)
    raise PostgresError(
        f"PostgreSQL's {program} is not installed: run `make postgres` (Debian's "
        "postgresql package) or set CX_POSTGRES_DSN to an existing server"
    )


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        raise PostgresError(
            f"running as root and there is no '{SERVER_ACCOUNT}' account to run PostgreSQL "
            "as (it refuses root): run `make postgres` or set CX_POSTGRES_DSN"
        ) from None


def _check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """The server account must be able to reach the cluster's folder."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if parent.stat().st_uid != account.pw_uid and not mode & 0o001:
            raise PostgresError(
                f"the PostgreSQL server runs as '{account.pw_name}', which cannot enter "
                f"{parent} (mode {oct(mode & 0o777)}): put the warehouse in a folder others "
                "may traverse (chmod o+x) or set CX_POSTGRES_DSN"
            )


def _last_line(result: subprocess.CompletedProcess) -> str:
    text = (result.stderr or result.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit {result.returncode}"


def connection(settings: Settings, *, start: bool = True) -> Connection:
    """The target's connection: CX_POSTGRES_DSN, else the local cluster (started)."""
    dsn = os.environ.get("CX_POSTGRES_DSN", "").strip()
    if dsn:
        return from_dsn(dsn)
    cluster = LocalCluster(settings)
    return cluster.start() if start else cluster.connection


def connect(settings: Settings):
    """A psycopg2 connection to the target (session time zone UTC)."""
    import psycopg2

    conn = connection(settings)
    try:
        con = psycopg2.connect(
            host=conn.host,
            port=conn.port,
            user=conn.user,
            password=conn.password or None,
            dbname=conn.dbname,
            options="-c timezone=UTC",
        )
    except psycopg2.OperationalError as exc:
        raise PostgresError(
            f"cannot connect to PostgreSQL ({conn.dsn}): {str(exc).strip()}"
        ) from None
    return con


# -- landing tables: DuckDB (where the loader and the gate run) -> PostgreSQL ------

#: DuckDB column types as PostgreSQL's; anything else is carried as text.
_PG_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "HUGEINT": "numeric(38, 0)",
    "UBIGINT": "numeric(20, 0)",
    "UINTEGER": "bigint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIME": "time",
    "UUID": "uuid",
}


def pg_type(duckdb_type: str) -> str:
    kind = duckdb_type.upper()
    if kind.startswith("DECIMAL"):
        return kind.replace("DECIMAL", "numeric").lower()
    return _PG_TYPES.get(kind, "text")


def _information_schema_type(pg_type_name: str) -> str:
    """A type as information_schema.columns.data_type names it."""
    base = pg_type_name.split("(")[0].strip()
    return {"timestamp": "timestamp without time zone", "time": "time without time zone"}.get(
        base, base
    )


def replicate(duck, pg, tables: list[tuple[str, str]], workdir: Path) -> dict[str, int]:
    """Replace each (schema, table) in PostgreSQL by DuckDB's rows, with COPY, in one
    transaction (readers see the old tables or the new ones, never half). Returns the
    rows copied per table."""
    import psycopg2

    from cx_insights.warehouse import quote_ident, sql_literal

    workdir.mkdir(parents=True, exist_ok=True)
    copied: dict[str, int] = {}
    with pg.cursor() as cur:
        for schema, table in tables:
            columns = duck.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            qualified = f"{quote_ident(schema)}.{quote_ident(table)}"
            ddl = ", ".join(f"{quote_ident(name)} {pg_type(kind)}" for name, kind in columns)
            cur.execute(f"create schema if not exists {quote_ident(schema)}")
            cur.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                [schema, table],
            )
            existing = cur.fetchall()
            wanted = [(name, _information_schema_type(pg_type(kind))) for name, kind in columns]
            if existing == wanted:
                # Same columns: emptied in this transaction, so the views dbt built
                # on it (staging) stay and readers wait for the new rows.
                cur.execute(f"truncate table {qualified}")
            else:
                cur.execute(f"drop table if exists {qualified} cascade")
                cur.execute(f"create table {qualified} ({ddl})")
            path = workdir / f"{schema}.{table}.csv"
            duck.execute(
                f"copy (select * from {qualified}) to {sql_literal(str(path))} "
                "(format csv, header false, null '')"
            )
            names = ", ".join(quote_ident(name) for name, _ in columns)
            try:
                with path.open("rb") as fh:
                    cur.copy_expert(f"copy {qualified} ({names}) from stdin (format csv)", fh)
            except psycopg2.DataError as exc:
                pg.rollback()
                raise PostgresError(
                    f"{schema}.{table} cannot be copied to PostgreSQL: "
                    f"{str(exc).strip().splitlines()[0]}"
                ) from None
            finally:
                path.unlink(missing_ok=True)
            copied[f"{schema}.{table}"] = cur.rowcount
    pg.commit()
    return copied


# -- PostgreSQL -> DuckDB: what the statistics, the export and the report read -----

#: PostgreSQL column types (information_schema.columns.data_type) as DuckDB's.
_DUCKDB_TYPES = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "time without time zone": "TIME",
    "uuid": "UUID",
}


def pg_columns(pg, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a PostgreSQL table, in column order."""
    with pg.cursor() as cur:
        cur.execute(
            "select column_name, data_type, numeric_precision, numeric_scale "
            "from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            [schema, table],
        )
        rows = cur.fetchall()
    columns = []
    for name, kind, precision, scale in rows:
        if kind == "numeric":
            duck = f"DECIMAL({precision or 38}, {scale or 0})"
        else:
            duck = _DUCKDB_TYPES.get(kind, "VARCHAR")
        columns.append((name, duck))
    return columns


def pg_tables(pg, schema: str) -> list[str]:
    with pg.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type in ('BASE TABLE', 'VIEW') order by 1",
            [schema],
        )
        return [r[0] for r in cur.fetchall()]


def fetch_into_duckdb(pg, duck, tables: list[tuple[str, str]], workdir: Path) -> None:
    """Copy PostgreSQL tables into a DuckDB connection under the same schema and
    name, each column with its exact type (COPY ... TO STDOUT as CSV, read back with
    the declared types), so code written for DuckDB relations reads them unchanged."""
    from cx_insights.warehouse import quote_ident, sql_literal

    workdir.mkdir(parents=True, exist_ok=True)
    for schema, table in tables:
        columns = pg_columns(pg, schema, table)
        if not columns:
            raise PostgresError(f"PostgreSQL has no table {schema}.{table}: run the build first")
        path = workdir / f"fetch.{schema}.{table}.csv"
        qualified = f"{quote_ident(schema)}.{quote_ident(table)}"
        names = ", ".join(quote_ident(name) for name, _ in columns)
        try:
            with path.open("wb") as fh, pg.cursor() as cur:
                cur.copy_expert(
                    f"copy (select {names} from {qualified}) to stdout (format csv)", fh
                )
            types = (
                "{"
                + ", ".join(f"{sql_literal(name)}: {sql_literal(kind)}" for name, kind in columns)
                + "}"
            )
            duck.execute(f"create schema if not exists {quote_ident(schema)}")
            duck.execute(
                f"create or replace table {qualified} as select * from read_csv("
                f"{sql_literal(str(path))}, header = false, columns = {types}, "
                "quote = '\"', escape = '\"', nullstr = '', auto_detect = false, "
                "allow_quoted_nulls = false, strict_mode = true)"
            )
        finally:
            path.unlink(missing_ok=True)
