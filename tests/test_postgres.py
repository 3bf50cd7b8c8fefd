"""The PostgreSQL target's plumbing: DSNs, the local cluster, and the COPY round trip
DuckDB -> PostgreSQL -> DuckDB that landing tables, statistics, exports and the
dashboard travel through (every type and awkward value must come back equal)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cx_insights import postgres
from cx_insights.config import load_settings


@pytest.fixture(scope="module")
def cluster_settings() -> Iterator:
    # The server runs as the unprivileged `postgres` account when we are root: its
    # folder must be one others may traverse (pytest's tmp dirs are 0700).
    root = Path(tempfile.mkdtemp(prefix="cx-pg-"))
    root.chmod(0o755)
    settings = load_settings(
        {"CX_WAREHOUSE": str(root / "cx.duckdb"), "CX_PII_SALT": "x", "CX_TARGET": "postgres"}
    )
    saved = os.environ.pop("CX_POSTGRES_DSN", None)
    try:
        yield settings
    finally:
        postgres.LocalCluster(settings).stop()
        shutil.rmtree(root, ignore_errors=True)
        if saved is not None:
            os.environ["CX_POSTGRES_DSN"] = saved


def test_dsn_in_either_form_gives_the_same_connection():
    url = postgres.from_dsn("postgresql://bi:secret@db.example.com:6543/cx")
    keywords = postgres.from_dsn("host=db.example.com port=6543 user=bi password=secret dbname=cx")
    assert url == keywords
    assert url.dbt_env()["CX_PG_PORT"] == "6543"
    assert "password=secret" in url.dsn
    with pytest.raises(postgres.PostgresError, match="CX_POSTGRES_DSN"):
        postgres.from_dsn("host=a port")


def test_duckdb_types_map_to_postgres_and_back():
    for duck, pg in [
        ("VARCHAR", "text"),
        ("BIGINT", "bigint"),
        ("DOUBLE", "double precision"),
        ("DECIMAL(38,9)", "numeric(38,9)"),
        ("TIMESTAMP", "timestamp"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
    ]:
        assert postgres.pg_type(duck) == pg


def test_local_cluster_starts_once_and_stops(cluster_settings):
    cluster = postgres.LocalCluster(cluster_settings)
    first = cluster.start()
    assert cluster.running()
    assert cluster.start() == first  # idempotent: a second command finds it running
    assert first.host == str(cluster.socket_dir)
    with postgres.connect(cluster_settings) as pg, pg.cursor() as cur:
        cur.execute("select current_setting('TimeZone'), current_setting('listen_addresses')")
        assert cur.fetchone() == ("UTC", "")  # no TCP listener
    assert cluster.stop() is True
    assert not cluster.running()
    assert cluster.stop() is False


@pytest.mark.skipif(os.geteuid() != 0, reason="the server account is used only as root")
def test_a_folder_the_server_account_cannot_enter_is_named():
    # a short path: pytest's tmp_path can be too long for the socket, a different error
    private = Path(tempfile.mkdtemp(prefix="cx-private-"))
    try:
        private.chmod(0o700)
        settings = load_settings(
            {"CX_WAREHOUSE": str(private / "w" / "cx.duckdb"), "CX_PII_SALT": "x"}
        )
        with pytest.raises(postgres.PostgresError, match="cannot enter"):
            postgres.LocalCluster(settings).start()
    finally:
        shutil.rmtree(private, ignore_errors=True)


AWKWARD = """
select * from (values
    (1, 'plain', 1.5::double, 12.345678901::decimal(38, 9), true,
     date '2026-02-28', timestamp '2026-03-01 10:00:00.123456',
     timestamptz '2026-03-01 10:00:00+02'),
    (2, '', 0.1 + 0.2, -0.000000001::decimal(38, 9), false,
     null, null, null),
    (3, null, 1e-300::double, null, null,
     date '2000-01-01', timestamp '2000-01-01 00:00:00', null),
    (4, 'a "quoted", comma; and
a newline \\ backslash', -0.0::double, 0::decimal(38, 9), true,
     date '2099-12-31', timestamp '2099-12-31 23:59:59.999999', null),
    (5, 'ünïcödé 😀 日本', 123456789012345.67::double, 99999999999.999999999::decimal(38, 9),
     false, null, null, null),
    (6, 'NULL', 1.7976931348623157e308::double, null, null, null, null, null)
) as t(id, label, ratio, amount, flag, day, seen_at, seen_at_tz)
"""


def test_copy_round_trip_keeps_every_value_and_type(cluster_settings, tmp_path):
    with duckdb.connect() as duck, postgres.connect(cluster_settings) as pg:
        duck.execute("set TimeZone = 'UTC'")
        duck.execute("create schema raw")
        duck.execute(f"create table raw.awkward as {AWKWARD}")
        copied = postgres.replicate(duck, pg, [("raw", "awkward")], tmp_path)
        assert copied == {"raw.awkward": 6}
        # a second copy replaces (same columns: truncated, never doubled)
        assert postgres.replicate(duck, pg, [("raw", "awkward")], tmp_path) == copied
        with pg.cursor() as cur:
            cur.execute(
                "select count(*), count(label), sum(case when label = '' then 1 end) "
                "from raw.awkward"
            )
            assert cur.fetchone() == (6, 5, 1)  # null and '' stay apart
        back = duckdb.connect()
        back.execute("set TimeZone = 'UTC'")
        postgres.fetch_into_duckdb(pg, back, [("raw", "awkward")], tmp_path)
        types = lambda con: con.execute(  # noqa: E731
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'awkward' order by ordinal_position"
        ).fetchall()
        assert types(back) == types(duck)
        original = duck.execute("select * from raw.awkward order by id").fetchall()
        assert back.execute("select * from raw.awkward order by id").fetchall() == original
        assert not list(tmp_path.glob("*.csv"))  # no temp file left


def test_a_value_postgresql_cannot_hold_names_the_table(cluster_settings, tmp_path):
    with duckdb.connect() as duck, postgres.connect(cluster_settings) as pg:
        duck.execute("create schema raw")
        duck.execute("create table raw.nul as select 'a' || chr(0) || 'b' as label")
        with pytest.raises(postgres.PostgresError, match=r"raw\.nul cannot be copied"):
            postgres.replicate(duck, pg, [("raw", "nul")], tmp_path)
