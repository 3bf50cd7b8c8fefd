"""The landing files read on Spark's executors (`CX_TARGET=spark`) land in raw exactly
as the loader's own reading lands them: every row, line number, rejected record,
failed file with its reason, extra column and manifest entry, on a first load and
after files changed, were touched, removed and added."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cx_insights import spark
from cx_insights.config import load_settings
from cx_insights.contract import ENTITIES
from cx_insights.ingest import spark_reader
from cx_insights.ingest.loader import load_entity
from cx_insights.ingest.spark_reader import SparkFileReader
from cx_insights.warehouse import connect, table_columns
from tests.conftest import FX_CSV, Landing
from tests.test_gate import CATALOGUE, QUESTIONS, RESPONSES

pytestmark = pytest.mark.slow

TICKETS = "ticket_id,created_at,status"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_reader")
    settings = load_settings(
        {"CX_WAREHOUSE": str(folder / "cx.duckdb"), "CX_PII_SALT": "x", "CX_TARGET": "spark"}
    )
    with spark.connect_server(settings):
        yield settings


class CountingReader(SparkFileReader):
    """The files each Spark job was given."""

    jobs: list[list[str]]

    def prepare(self, e, paths):
        self.jobs.append([p.name for p in paths])
        super().prepare(e, paths)


@pytest.fixture
def reader(settings, monkeypatch) -> Iterator[CountingReader]:
    def not_on_the_driver(*args):
        raise AssertionError("a file was read by the driver, not by Spark")

    # The executors' Python imports its own copy of the readers: only the driver's
    # fallback is replaced here.
    monkeypatch.setattr(spark_reader, "read_file", not_on_the_driver)
    reader = CountingReader.for_settings(settings)
    reader.jobs = []
    yield reader
    assert not any(reader.folder.glob("*")), "the reader left its output behind"


def _hostile_landing(landing: Landing, tmp_path: Path) -> None:
    landing.write("feedback/questions/q.csv", QUESTIONS)
    landing.write("feedback/responses/r.csv", RESPONSES)
    landing.write("framework/fx_rates/fx.csv", FX_CSV)
    for case, (rel, content, _) in sorted(CATALOGUE.items()):
        landing.write(str(Path(rel).with_name(f"{case}.csv")), content)
    t = "tickets/tickets/"
    landing.write(t + "bom.csv", "\ufeffTICKET_ID,Created_At,STATUS\nT1,2024-01-05,open\n")
    landing.write(
        t + "quoted.csv",
        f'{TICKETS},category\nT2,2024-01-05,open,"two\nlines, and ""quotes"""\n\n'
        "T3,2024-01-05,new,\nT4,2024-01-05,open,a,b\nT5,2024-01-05\n",
    )
    landing.write(t + "mixed.csv", f"{TICKETS}\r\nT6,2024-01-05,open\r\nT7,2024-01-05,new\n")
    landing.write(t + "cr.csv", f"{TICKETS}\rT8,2024-01-05,open\r")
    landing.write(t + "latin1.csv", f"{TICKETS}\nT9,2024-01-05,café\n".encode("latin-1"))
    landing.write(t + "broken.parquet", b"PAR1 this is not parquet")
    landing.write(t + "nostatus.csv", "ticket_id,created_at\nT10,2024-01-05\n")
    landing.write(t + "twice.csv", "ticket_id,created_at,status,Status\nT11,2024-01-05,a,b\n")
    landing.write(t + "empty.csv", "")
    landing.write(t + "header_only.csv", f"{TICKETS}\n")
    landing.write(t + "long.csv", f"{TICKETS},category\nT12,2024-01-05,open,{'x' * 3_000_000}\n")
    landing.write(t + ".hidden.csv", f"{TICKETS}\nT13,2024-01-05,open\n")
    landing.write(t + "notes.txt", "not a landing file\n")
    landing.write(
        t + "j.jsonl",
        '{"ticket_id": "J1", "created_at": "2024-01-07T10:00:00Z", "STATUS": "new"}\n\n'
        "{not json}\n[1, 2]\n"
        '{"Ticket_ID": "J2", "created_at": "2024-01-07", "status": "new", "n": 3, "": 1}\n',
    )
    landing.write(
        t + "j_twice.jsonl",
        '{"TICKET_ID": "J3", "ticket_id": "J4", "created_at": "2024-01-07", "status": "new"}\n',
    )
    table = pa.table(
        {
            "Ticket_ID": ["P1", "P2", None],
            "created_at": pa.array(
                [dt.datetime(2024, 1, 5, 10), dt.datetime(2024, 1, 6, 11), None],
                pa.timestamp("us", tz="Europe/Berlin"),
            ),
            "status": ["open", "solved", ""],
            "rowid": [1, 2, 3],
        }
    )
    pq.write_table(table, landing.root / t / "p.parquet")
    os.mkfifo(landing.root / t / "pipe.csv")  # opening it would block for ever
    secret = tmp_path / "secret.csv"
    secret.write_text(f"{TICKETS}\nT14,2024-01-05,TOPSECRET\n")
    (landing.root / t / "outside.csv").symlink_to(secret)
    landing.write(
        "crm/customers/c1.csv",
        "customer_id,email,signed_up_at,_rule,x_mood\nC1, Ann@Example.com ,2024-01-01,a,b\n",
    )


def _load(warehouse: Path, landing: Landing, reader: SparkFileReader | None) -> None:
    loaded_at = dt.datetime(2026, 12, 6, 12, 0, 0)
    with connect(warehouse) as con:
        for e in ENTITIES:
            load_entity(con, landing.root, e, loaded_at, reader=reader)


def _raw(warehouse: Path) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "order by 1"
            ).fetchall()
        ]
        for table in tables:
            columns = table_columns(con, "raw", table)
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {listed} from raw."{table}"').fetchall()
            out[table] = [tuple(columns), *sorted(rows, key=repr)]
    return out


def test_files_read_on_spark_land_as_the_loader_reads_them(tmp_path, reader):
    landing = Landing(tmp_path / "landing")
    _hostile_landing(landing, tmp_path)
    duck, on_spark = tmp_path / "duck.duckdb", tmp_path / "spark.duckdb"
    _load(duck, landing, None)
    _load(on_spark, landing, reader)
    expected = _raw(duck)
    assert _raw(on_spark) == expected
    files = {row[1]: row for row in expected["_files"][1:]}
    statuses = {path.rsplit("/", 1)[1]: row[5] for path, row in files.items()}
    assert statuses["quoted.csv"] == statuses["p.parquet"] == statuses["j.jsonl"] == "loaded"
    for failed in ("latin1.csv", "broken.parquet", "twice.csv", "pipe.csv", "outside.csv"):
        assert statuses[failed] == "failed", failed
    assert statuses[".hidden.csv"] == statuses["notes.txt"] == "ignored"
    tickets = reader.jobs[[e.qualified for e in ENTITIES].index("tickets__tickets")]
    # Spark never opens what the loader refuses or ignores.
    assert "pipe.csv" not in tickets and "outside.csv" not in tickets
    assert ".hidden.csv" not in tickets and "quoted.csv" in tickets

    # A file changed, one touched with the same content, one removed, one added:
    # Spark reads only the changed and the new one.
    t = landing.root / "tickets/tickets"
    landing.write("tickets/tickets/mixed.csv", f"{TICKETS}\nT6,2024-01-06,solved\n")
    os.utime(t / "bom.csv", (1_800_000_000, 1_800_000_000))
    (t / "header_only.csv").unlink()
    landing.write("tickets/tickets/new.csv", f"{TICKETS}\nT15,2024-01-07,open\n")
    reader.jobs.clear()
    _load(duck, landing, None)
    _load(on_spark, landing, reader)
    assert _raw(on_spark) == _raw(duck)
    (job,) = [job for job in reader.jobs if "new.csv" in job]
    # (a file that failed is read again, as the loader does, in case it was fixed)
    assert {"bom.csv", "mixed.csv", "new.csv", "latin1.csv"} <= set(job)
    assert not {"quoted.csv", "j.jsonl", "p.parquet", "long.csv"} & set(job)


def test_a_token_left_by_a_local_spark_does_not_break_the_runs_server(settings, monkeypatch):
    # pyspark leaves this when it starts a local Connect server in the process (the
    # thrift method's GX, `dagster dev`); a client then spoke TLS to the run's server.
    spark.close_sessions()
    monkeypatch.setenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", "left-by-a-local-server")
    assert spark.session(settings).range(3).count() == 3
    monkeypatch.setenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", "left-by-a-local-server")
    assert "SPARK_REMOTE" in spark.dbt_env(settings)
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" not in os.environ  # dbt inherits the environment
