"""The Spark target's hand-over (no JVM here): landing tables written as Parquet
folders Spark reads in place, and tables dbt built read back into DuckDB."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

from cx_insights import spark
from cx_insights.config import load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {"CX_WAREHOUSE": str(tmp_path / "cx.duckdb"), "CX_PII_SALT": "x", "CX_TARGET": "spark"}
    )


AWKWARD = """
    create schema raw;
    create table raw.t as select * from (values
        (1::hugeint, 'a,"b"' || chr(10) || 'c', timestamptz '2024-03-31 23:30:00+00',
         12.345678901::decimal(38, 9), date '2024-02-29', true, 1.5::double),
        (null, null, null, null, null, null, null)
    ) v(big, body, seen_at, money, day, flag, ratio);
"""


def test_a_table_is_handed_over_as_one_parquet_folder_with_its_values_and_types(settings):
    with duckdb.connect() as duck:
        duck.execute("set TimeZone = 'UTC'")
        duck.execute(AWKWARD)
        written = spark.write_tables(duck, settings, [("raw", "t")])
        assert written == {"raw.t": 2}
        folder = spark.files_dir(settings) / "raw" / "t"
        assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
        back = f"read_parquet('{folder}/*.parquet')"
        types = [row[1] for row in duck.execute(f"describe select * from {back}").fetchall()]
        rows = duck.execute(f"select * from {back} order by all").fetchall()
        original = duck.execute("select * from raw.t order by all").fetchall()
    # a 128-bit integer (Spark has none) becomes decimal(38, 0); every value is kept
    assert types[0] == "DECIMAL(38,0)" and types[2] == "TIMESTAMP WITH TIME ZONE"
    assert rows == original


def test_nanosecond_timestamps_are_handed_over_in_microseconds(settings):
    # pandas' default datetime64[ns] (a statistic's empty frame: the drop zoo without
    # CRM on Spark) reached Parquet as TIMESTAMP(NANOS), which Spark refuses to read.
    frame = pd.DataFrame({"as_of_date": pd.Series(dtype="datetime64[ns]")})
    with duckdb.connect() as duck:
        duck.execute("create schema intermediate")
        duck.register("frame", frame)
        duck.execute("create table intermediate.t as select * from frame")
        assert duck.execute("describe intermediate.t").fetchone()[1] == "TIMESTAMP_NS"
        spark.write_tables(duck, settings, [("intermediate", "t")])
        part = spark.files_dir(settings) / "intermediate" / "t" / "part-0.parquet"
        (stored,) = duck.execute(
            f"select logical_type from parquet_schema('{part}') where name = 'as_of_date'"
        ).fetchone()
    assert "MICROS=MicroSeconds()" in stored and "NANOS=<null>" in stored, stored


def test_writing_again_replaces_the_folder_whole(settings):
    with duckdb.connect() as duck:
        duck.execute("create schema raw; create table raw.t as select range as x from range(5)")
        spark.write_tables(duck, settings, [("raw", "t")])
        duck.execute("create or replace table raw.t as select 1 as y")
        spark.write_tables(duck, settings, [("raw", "t")])
    parent = spark.files_dir(settings) / "raw"
    assert sorted(p.name for p in parent.iterdir()) == ["t"]  # no leftover temporary folder
    assert duckdb.sql(f"select * from read_parquet('{parent}/t/*.parquet')").fetchall() == [(1,)]


def test_tables_dbt_built_are_read_back_with_their_types(settings):
    folder = spark.table_files(settings, "marts", "kpi_monthly")
    folder.mkdir(parents=True)
    duckdb.sql(
        f"copy (select date '2024-01-01' as \"month\", 0.5::double as nps, "
        f"timestamptz '2024-01-01 00:00:00+00' as at) to '{folder}/part-00000.parquet'"
    )
    # What a run stopped in the middle of a rewrite (macros/incremental/spark_rewrite.sql)
    # or of dbt's own temporary tables leaves is no mart.
    (folder.parent / "kpi_monthly__dbt_next").mkdir()
    (folder.parent / "fct_invoices__dbt_computed").mkdir()
    assert spark.tables(settings, "marts") == ["kpi_monthly"]
    with duckdb.connect() as duck:
        duck.execute("set TimeZone = 'UTC'")
        spark.fetch_into_duckdb(duck, settings, [("marts", "kpi_monthly")])
        described = duck.execute("describe marts.kpi_monthly").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [
        ("month", "DATE"),
        ("nps", "DOUBLE"),
        ("at", "TIMESTAMP"),
    ]


def test_a_missing_table_is_named(settings):
    with duckdb.connect() as duck, pytest.raises(spark.SparkError, match="marts.nope"):
        spark.fetch_into_duckdb(duck, settings, [("marts", "nope")])


def test_the_profile_gets_absolute_folders_and_the_master(settings, monkeypatch):
    monkeypatch.setenv("CX_SPARK_MASTER", "spark://example:7077")
    env = settings.dbt_env()
    assert env["CX_SPARK_MASTER"] == "spark://example:7077"
    for name in ("CX_SPARK_FILES", "CX_SPARK_WAREHOUSE_DIR", "CX_SPARK_METASTORE_DIR"):
        assert env[name].startswith(str(settings.output_dir)), name
    assert "spark://example:7077" in spark.describe(settings)


def test_the_connect_server_and_the_in_process_session_get_the_same_settings(settings):
    """profiles.yml configures a Spark session in dbt's process; the run's Connect
    server gets cx_insights.spark.spark_conf(): the two must not drift apart."""
    import yaml

    from cx_insights.config import DBT_PROJECT_DIR

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    session = profile["cx_insights"]["outputs"]["spark"]["server_side_parameters"]
    for key, value in spark.spark_conf(settings).items():
        if key == "spark.sql.catalogImplementation":
            continue  # the session method calls enableHiveSupport()
        assert key in session, key
        if "{{" not in str(session[key]):
            assert str(session[key]) == value, key


def test_no_connect_server_means_no_spark_remote(settings):
    assert "SPARK_REMOTE" not in settings.dbt_env()
    assert spark.ConnectServer(settings).url() is None


def test_a_session_in_dbts_process_never_inherits_the_connect_mode(settings, monkeypatch):
    # A parent that opened a Connect session (a test worker, `dagster dev`) leaves
    # SPARK_CONNECT_MODE_ENABLED to its children; with it and no SPARK_REMOTE, the
    # session dbt-spark starts fails: CONNECT_URL_NOT_SET (CI of stop 41).
    monkeypatch.setattr(spark, "_sessions", {})
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    monkeypatch.setenv("SPARK_LOCAL_REMOTE", "1")
    assert "PYSPARK_SUBMIT_ARGS" in settings.dbt_env()
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ
    assert "SPARK_LOCAL_REMOTE" not in os.environ


def test_a_server_left_behind_by_a_killed_run_is_forgotten(settings):
    server = spark.ConnectServer(settings)
    server.state.parent.mkdir(parents=True, exist_ok=True)
    server.state.write_text('{"pid": 999999999, "port": 1}')
    assert server.url() is None and not server.state.exists()
    assert "SPARK_REMOTE" not in settings.dbt_env()


def test_a_server_we_start_never_inherits_a_local_sparks_token(settings, monkeypatch, tmp_path):
    # pyspark leaves SPARK_CONNECT_AUTHENTICATE_TOKEN when it starts a local Connect
    # server in the process; a server started with it demands it, and our clients
    # (which drop it: spark.forget_local_token) would be refused.
    started: dict[str, dict] = {}

    def popen(command, **kwargs):
        started["env"] = kwargs["env"]
        return type("Process", (), {"pid": 0})()

    monkeypatch.setattr(spark.subprocess, "Popen", popen)
    monkeypatch.setenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", "left-by-a-local-server")
    spark.start_server(settings, "org.example.Main", {}, tmp_path / "server.log")
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" not in started["env"]
    assert started["env"]["PYSPARK_PYTHON"] == spark.python()
