"""CX_TARGET=spark end to end on the shipped sample: dbt-spark talking to the run's
Spark Connect server on local[2] (nothing installed by hand: the pyspark wheel and
Debian's OpenJDK), the landed rows handed over as Parquet, every model built on
Spark, and every mart equal to DuckDB's through `cx-insights export`.

One build only (about 8 minutes on 2 cores): a second run would nearly double it.
The incremental models' runs after a drop are proven on Spark by
tests/incremental_proof.py --spark (tests/test_incremental_models.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cx_insights import spark
from cx_insights.compare import compare_exports
from cx_insights.config import SAMPLE_LANDING_DIR, load_settings
from cx_insights.contract import ENTITIES
from cx_insights.insights.computed import COMPUTED
from expectations.runner import validate, validate_on_spark
from tests.conftest import Build, assert_dashboards_alike, run_cli, target_exports

KEY_MARTS = ("kpi_monthly", "driver_importance", "nps_financial_link", "customers_at_risk")


@pytest.fixture(scope="module")
def spark_build() -> Iterator[Build]:
    root = Path(tempfile.mkdtemp(prefix="cx-spark-sample-"))
    build = run_cli(["run"], SAMPLE_LANDING_DIR, root / "cx.duckdb", CX_TARGET="spark")
    try:
        assert build.returncode == 0, f"{build.stdout}\n{build.stderr}"
        yield build
    finally:
        shutil.rmtree(root, ignore_errors=True)


def settings_of(build: Build):
    return load_settings(
        {"CX_WAREHOUSE": str(build.warehouse), "CX_PII_SALT": "x", "CX_TARGET": "spark"}
    )


def test_the_run_names_spark_and_stops_its_connect_server(spark_build):
    settings = settings_of(spark_build)
    assert f"target:    Spark (local[2], tables in {spark.warehouse_dir(settings)})" in (
        spark_build.stdout
    )
    assert spark.ConnectServer(settings).url() is None  # stopped with the run
    assert "SparkConnectServer" in (spark.root(settings) / "connect.log").read_text()


def test_the_landed_rows_reach_spark_and_every_layer_is_built_there(spark_build):
    settings = settings_of(spark_build)
    with duckdb.connect(str(spark_build.warehouse), read_only=True) as duck:
        landed = duck.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('raw', 'quarantine') and not starts_with(table_name, '_')"
        ).fetchall()
        exact = {
            (schema, table): duck.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
            for schema, table in landed
        }
    assert len(exact) == 14 * 3  # landed, accepted and quarantined rows of every entity
    for (schema, table), rows in exact.items():
        folder = spark.files_dir(settings) / schema / table
        handed = duckdb.sql(f"select count(*) from read_parquet('{folder}/*.parquet')").fetchone()
        assert handed[0] == rows, (schema, table)
    for schema in ("intermediate", "marts"):
        assert spark.tables(settings, schema), schema
    for mart in KEY_MARTS:
        assert mart in spark.tables(settings, "marts")
    # the statistics ran as Dagster assets and handed their tables to Spark
    for c in COMPUTED:
        assert (spark.files_dir(settings) / "intermediate" / c.name).is_dir(), c.name


def test_every_mart_equals_duckdbs(spark_build, sample_build, tmp_path):
    exports = target_exports(sample_build, spark_build, "spark", tmp_path)
    assert '"source": "spark: ' in (exports["spark"] / "manifest.json").read_text()
    for mart in KEY_MARTS:
        assert (exports["spark"] / f"{mart}.parquet").exists(), mart
    assert compare_exports(exports["duckdb"], exports["spark"]) == {}


def test_the_dashboard_builds_from_spark_like_from_duckdb(spark_build, sample_build):
    assert_dashboards_alike(spark_build, sample_build)


def test_great_expectations_ran_on_spark_for_every_entity(spark_build):
    """The run's GX checks validated the rows Spark holds, through GX's Spark data
    source (not pandas), and passed."""
    home = spark_build.warehouse.parent / "dagster_home"
    with duckdb.connect(str(spark_build.warehouse), read_only=True) as con:
        [(run_id,)] = con.execute("select run_id from raw._runs").fetchall()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        evaluations = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    gx = {e.asset_key.path[-1]: e for e in evaluations if e.check_name == "gx_suite"}
    assert set(gx) == {e.qualified for e in ENTITIES}
    for name, evaluation in gx.items():
        assert evaluation.passed, name
        assert evaluation.metadata["engine"].value == "spark", name


def test_every_entity_was_gated_as_spark_sql(spark_build):
    """Each gate asset ran its rules on Spark (`gate_engine`), and the quarantine and
    accepted tables it took back reconcile with the landed rows."""
    home = spark_build.warehouse.parent / "dagster_home"
    with duckdb.connect(str(spark_build.warehouse), read_only=True) as con:
        [(run_id,)] = con.execute("select run_id from raw._runs").fetchall()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        materialized = [
            entry.dagster_event.event_specific_data.materialization
            for entry in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
        ]
    gates = {
        m.asset_key.path[-1]: m.metadata for m in materialized if m.asset_key.path[0] == "accepted"
    }
    assert {e.qualified for e in ENTITIES} <= set(gates)
    for e in ENTITIES:
        meta = gates[e.qualified]
        assert meta["gate_engine"].value == "spark", e.qualified
        assert meta["rows_landed"].value == (
            meta["rows_accepted"].value + meta["rows_quarantined"].value
        ), e.qualified
    assert sum(gates[e.qualified]["rows_quarantined"].value for e in ENTITIES) > 0


def test_a_row_breaking_the_suite_fails_on_spark_as_on_pandas(spark_build, tmp_path):
    """A row that skipped the gate, planted in the tickets Spark holds: GX on Spark
    names the same expectations and values as GX on pandas over the same rows."""
    settings = settings_of(spark_build)
    table = "tickets__tickets__accepted"
    planted = tmp_path / table
    shutil.copytree(spark.table_files(settings, "raw", table), planted)
    duck = duckdb.connect(str(tmp_path / "copy.duckdb"))
    duck.execute(f"attach '{spark_build.warehouse}' as built (read_only)")
    duck.execute(f"create schema raw; create table raw.{table} as from built.raw.{table}")
    duck.execute("detach built")
    bad = (
        "select * replace ('T-PLANTED' as ticket_id, 'lost' as status, "
        "created_at - interval 1 day as solved_at, now()::timestamp as _gated_at) "
        f"from raw.{table} where solved_at is not null limit 1"
    )
    duck.execute(f"copy ({bad}) to '{planted}/part-planted.parquet' (format parquet)")
    duck.execute(f"insert into raw.{table} {bad}")
    try:
        session = spark.session(settings)  # no server now: a local one in this process
        on_spark = validate_on_spark(duck, "tickets__tickets", session, lambda _: str(planted))
    finally:
        spark.close_sessions()
    on_pandas = validate(duck, "tickets__tickets")
    assert on_spark.engine == "spark" and not on_spark.success
    assert on_spark.rows == on_pandas.rows
    # (Samples of timestamps print differently from pandas and Spark: counts compared.)
    failed = {f.expectation: f.unexpected_count for f in on_spark.failed}
    assert failed == {f.expectation: f.unexpected_count for f in on_pandas.failed}
    assert failed["expect_column_values_to_be_in_set"] == 1
    assert on_spark.expectations["expect_column_values_to_be_in_set(status)"].sample == ["lost"]
