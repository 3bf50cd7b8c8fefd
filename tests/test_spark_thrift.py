"""The Spark target through a Thrift server (CX_SPARK_METHOD=thrift), as with an
existing cluster: the pyspark wheel's HiveThriftServer2 on this machine, dbt-spark's
thrift method (PyHive) from profiles.yml, and the web models built from handed-over
Parquet accepted rows equal DuckDB's build of the same rows.

The whole sample on Spark is tests/test_spark_target.py (a Connect server); this
test proves the other connection method on the models with the most logic per row
(sessionisation, sessions with fx) in about a minute.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cx_insights import spark
from cx_insights.config import DBT_PROJECT_DIR, load_settings
from tests.incremental_proof import DESIGNED, Accepted

SELECTION = "+int_sessions_aggregated"
MODELS = ("int_events_sessionised", "int_sessions_aggregated")
#: The run that wrote a row: differs between two builds by design.
RUN_MARKERS = ("_sessionised_at", "_written_at")


def _start_thrift_server(settings, port: int, log: Path) -> subprocess.Popen:
    return spark.start_server(
        settings,
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        {
            "spark.hadoop.hive.server2.thrift.port": str(port),
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
        },
        log,
        app="spark-internal",
    )


def _wait_for(port: int, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the Thrift server exited ({process.returncode}):\n{log.read_text()[-3000:]}"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    pytest.fail(f"the Thrift server did not listen in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _dbt(env: dict[str, str], target: Path) -> subprocess.CompletedProcess:
    dbt = str(Path(sys.executable).parent / "dbt")
    return subprocess.run(
        [
            dbt,
            "run",
            "--select",
            SELECTION,
            "--target-path",
            str(target),
            "--log-path",
            str(target),
        ],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _rows(con, model: str) -> list[tuple]:
    columns = {c[0] for c in con.execute(f"describe intermediate.{model}").fetchall()}
    markers = ", ".join(m for m in RUN_MARKERS if m in columns)
    return con.execute(
        f"select * exclude ({markers}) from intermediate.{model} order by all"
    ).fetchall()


@pytest.mark.slow  # a JVM and a dbt build on Spark: about a minute
def test_dbt_builds_the_web_models_through_a_spark_thrift_server(tmp_path):
    accepted = Accepted()
    for drop in DESIGNED[:-1]:  # every case but the re-gate: new, moved, late events, fx
        accepted.apply(drop)
    raw = tmp_path / "duck" / "cx.duckdb"
    raw.parent.mkdir()
    accepted.write(raw)

    settings = load_settings(
        {
            "CX_WAREHOUSE": str(tmp_path / "spark" / "cx.duckdb"),
            "CX_TARGET": "spark",
            "CX_PII_SALT": "x",
        }
    )
    with duckdb.connect(str(raw), read_only=True) as duck:
        spark.write_tables(
            duck,
            settings,
            [("raw", "web__events__accepted"), ("raw", "framework__fx_rates__accepted")],
        )

    port, log = spark.free_port(), tmp_path / "thrift.log"
    server = _start_thrift_server(settings, port, log)
    try:
        _wait_for(port, server, log)
        env = {
            **spark.dbt_env(settings),
            "CX_TARGET": "spark",
            "CX_SPARK_METHOD": "thrift",
            "CX_SPARK_HOST": "127.0.0.1",
            "CX_SPARK_PORT": str(port),
        }
        env.pop("PYSPARK_SUBMIT_ARGS", None)
        built = _dbt(env, tmp_path / "target-spark")
        assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-2000:]
    finally:
        # SIGTERM, then SIGKILL after 30 s: under load the JVM's shutdown hooks
        # took longer than a minute once.
        spark.kill_group(server.pid)
        server.wait(timeout=30)

    on_duckdb = _dbt({"CX_TARGET": "duckdb", "CX_WAREHOUSE": str(raw)}, tmp_path / "target-duck")
    assert on_duckdb.returncode == 0, on_duckdb.stdout[-5000:]
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        spark.fetch_into_duckdb(con, settings, [("intermediate", m) for m in MODELS])
        con.execute(f"attach '{raw}' as duck (read_only)")
        for model in MODELS:
            got = _rows(con, model)
            con.execute("use duck")
            want = _rows(con, model)
            con.execute("use memory")
            assert got == want, f"{model} on Spark (thrift) differs from DuckDB"
            assert got  # the comparison is not between two empty tables
