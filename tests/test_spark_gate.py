"""The quality gate as Spark SQL gives the DuckDB gate's tables, row for row.

Every value below is typed by both dialects of `typed_expr` (the same value or
null in both), and a landing with every bad-row case of the catalogue, hostile
values of every type, updates by key across files and e-mails to hash is gated
once by DuckDB and once by Spark: the quarantine (rule and reason) and accepted
tables must be equal (the gate's timestamps aside).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cx_insights import spark
from cx_insights.config import load_settings
from cx_insights.contract import ENTITIES, accepted_table, entity
from cx_insights.ingest.loader import load_entity
from cx_insights.quality.gate import run_gate
from cx_insights.quality.rules import GateOptions, typed_expr
from cx_insights.quality.spark_gate import SparkGate
from cx_insights.warehouse import connect, table_columns
from tests.conftest import FX_CSV, Landing, gate_order
from tests.test_gate import CATALOGUE, QUESTIONS, RESPONSES

pytestmark = pytest.mark.slow

# fmt: off
VALUES = {
    "timestamp": [
        "2024-01-05", "2024-01-05T10:00Z", "2024-01-05T10:00:00Z", "2024-01-05 10:00:00",
        "2024-01-05T10:00:00+02:00", "2024-01-05T10:00:00+0200", "2024-01-05T10:00:00+02",
        "2024-01-05T10:00:00-1430", "2024-01-05T10:00:00+14:00", "2024-01-05T10:00:00+99:00",
        "2024-01-05T10:00:00.123456Z", "2024-01-05T10:00:00.1234567Z",
        "2024-01-05T10:00:00.9999999", " 2024-01-05 10:00:00 ", "2024-1-5", "2024-01", "2024",
        "yesterday", "infinity", "-infinity", "2024-13-01", "2024-02-30", "2024-01-05T24:00:00",
        "2024-01-05T10:00:00 America/New_York", "2024-01-05 10:00:00 UTC", "2024-01-05T10:00:00z",
        "2024-01-05t10:00:00", "2024-01-05T10", "2024-01-05 10:00", "2024-01-05T10:00:60",
        "9999-12-31", "0001-01-01", "10000-01-01", "2024-01-05T10:00:00,5Z", "20240105T100000Z",
        "2024-01-05T10:00:00 +02:00", "2024-01-05T10:00:00+02:00:00", "", " ",
        "2024-01-05T10:00:00.Z", "05/01/2024", "2024-01-05T10:00:00-00:00",
        "2024-01-05 10:00:00+05:30", "2024-01-05T10:00:00+1", "2024-01-05T10:00:00GMT",
        "2024-01-05 BC", "+2024-01-05", "2024-01-05\t", "2024-1-5T10:00Z", "2024-01-05T10:00 UTC",
        "2024-01-05T23:59:59.999999999+14:00", "2024-01-05T00:00:00-12:00",
        "2023-02-29T10:00:00Z", "2024-01-05T10:00:00+02:0", "2024-01-05 24:00",
        "2024-01-05T24:00:00+02:00", "2024-12-31T24:00:00.000Z", "2024-01-05T24:00:01",
        "2024-01-05T24:30", "2024-01-05 9:05:00", "2024-01-05T9:05Z", None,
    ],
    "decimal": [
        "1", "10.50", "-1", "+5", ".5", "5.", "1e3", "1E-2", "1_000", "abc", "NaN", "Infinity",
        "0x10", " 7 ", "1.0000000005", "1.00000000049", "-1.0000000005",
        "123456789012345678901234567890", "99999999999999999999999999999.5",
        "1234567890.123456789", "1,5", "1.5.5", "", "--1", "1e400", "0.000000000000001", "$5",
        "5 EUR", "2.5e-9", "\u0661\u0662", None,
    ],
    "int": [
        "1", "2.0", "2.5", "0x10", "1_000", "1e3", " +7 ", "-3", "007", "9223372036854775807",
        "9223372036854775808", "", "abc", "1.", "+-1", "\u0661\u0662", None,
    ],
    "date": [
        "2020-01-01", "2020-13-01", "2020-1-1", "2020-01-01T10:00:00", "2020", "2020-01",
        " 2020-01-01 ", "2020-02-30", "20200101", "infinity", "2020-01-01Z", "2020-01-01 BC",
        "10000-01-01", None,
    ],
    "bool": ["true", "FALSE", "t", "f", "1", "0", "yes", "N", "on", "", "2", " true ", None],
}
# fmt: on


@pytest.fixture(scope="module")
def spark_gate(tmp_path_factory) -> Iterator[SparkGate]:
    folder = tmp_path_factory.mktemp("spark_gate")
    settings = load_settings(
        {"CX_WAREHOUSE": str(folder / "cx.duckdb"), "CX_PII_SALT": "x", "CX_TARGET": "spark"}
    )
    # A Connect server of its own on a free port, as in a run: pyspark's in-process
    # local server binds 15002, which another test file may hold at the same time.
    with spark.connect_server(settings):
        yield SparkGate.for_settings(settings)


@pytest.mark.parametrize("type_", sorted(VALUES))
def test_every_value_is_typed_alike_by_duckdb_and_spark(type_, spark_gate):
    values = VALUES[type_]
    rows = [(i, v) for i, v in enumerate(values)]
    expr = "cast({} as varchar)"
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("create table landed (i int, v varchar)")
        con.executemany("insert into landed values (?, ?)", rows)
        duck = con.execute(
            f"select {expr.format(typed_expr('v', type_))} from landed order by i"
        ).fetchall()
    spark = spark_gate.session
    spark.createDataFrame(rows, "i int, v string").createOrReplaceTempView("landed")
    typed = typed_expr("v", type_, dialect="spark")
    on_spark = [
        tuple(r)
        for r in spark.sql(f"select cast({typed} as string) from landed order by i").collect()
    ]
    differ = [(v, d[0], s[0]) for v, d, s in zip(values, duck, on_spark, strict=True) if d != s]
    assert not differ, f"(value, DuckDB, Spark) typed differently: {differ}"
    assert any(d[0] is not None for d in duck) and any(d[0] is None for d in duck[:-1])


def _hostile_landing(landing: Landing) -> None:
    """Every catalogue case (each in a file of its own), then hostile values and
    updates by key across files."""
    landing.write("feedback/questions/q.csv", QUESTIONS)
    landing.write("feedback/responses/r.csv", RESPONSES)
    landing.write("framework/fx_rates/fx.csv", FX_CSV)
    for case, (rel, content, _) in sorted(CATALOGUE.items()):
        landing.write(str(Path(rel).with_name(f"{case}.csv")), content)
    stamps = [v for v in VALUES["timestamp"] if v is not None and "," not in v]
    landing.write(
        "tickets/tickets/stamps.csv",
        "ticket_id,created_at,status,solved_at\n"
        + "".join(f"TS{i},{v},solved,{v}\n" for i, v in enumerate(stamps)),
    )
    amounts = [v for v in VALUES["decimal"] if v is not None and "," not in v]
    landing.write(
        "crm/invoices/amounts.csv",
        "invoice_id,customer_id,issued_at,amount,currency,status\n"
        + "".join(
            f"IA{i},C1,2024-01-0{1 + i % 9},{v},{['EUR', 'USD', 'GBP'][i % 3]},paid\n"
            for i, v in enumerate(amounts)
        ),
    )
    whole = [v for v in VALUES["int"] if v is not None]
    landing.write(
        "framework/journeys/orders.csv",
        "journey_id,journey_name,stage_order\n"
        + "".join(f"JO{i},J {i},{v}\n" for i, v in enumerate(whole)),
    )
    landing.write(
        "crm/customers/c1.csv",
        "customer_id,email,signed_up_at\nC1, Ann@Example.com ,2024-01-01\nC2,,2024-01-02\n"
        "C3,   ,2024-01-03\nC4,b@x.io,2024-01-04T10:00:00+01:00\n",
    )
    # C1 again, later: the update wins; C2's later update is rejected and waits.
    landing.write(
        "crm/customers/c2.csv",
        "customer_id,email,signed_up_at\nC1,ann@example.com,2024-02-01\nC2,x,not a date\n"
        "C5,e@x.io,2024-01-05\nC5,f@x.io,2024-01-06\n",
    )


def _load(warehouse: Path, landing: Landing) -> None:
    with connect(warehouse) as con:
        for q in gate_order():
            load_entity(con, landing.root, entity(q))


def _gate_all(warehouse: Path, spark: SparkGate | None) -> None:
    with connect(warehouse) as con:
        for q in gate_order():
            run_gate(con, entity(q), GateOptions(pii_salt="pepper"), spark=spark)


def _tables(warehouse: Path) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for e in ENTITIES:
            for schema, table in (("quarantine", e.qualified), ("raw", accepted_table(e))):
                cols = [
                    c
                    for c in table_columns(con, schema, table)
                    if c not in ("_gated_at", "_quarantined_at")
                ]
                listed = ", ".join(f'"{c}"' for c in cols)
                out[f"{schema}.{table}"] = sorted(
                    con.execute(f"select {listed} from {schema}.{table}").fetchall(), key=repr
                )
    return out


def test_the_spark_gate_gives_the_duckdb_gates_tables(tmp_path, spark_gate):
    landing = Landing(tmp_path / "landing")
    _hostile_landing(landing)
    # Loaded once: both gates read the same landed rows (their `_loaded_at` too).
    _load(tmp_path / "duck" / "cx.duckdb", landing)
    (tmp_path / "spark").mkdir()
    shutil.copy(tmp_path / "duck" / "cx.duckdb", tmp_path / "spark" / "cx.duckdb")
    _gate_all(tmp_path / "duck" / "cx.duckdb", None)
    _gate_all(tmp_path / "spark" / "cx.duckdb", spark_gate)
    duck, on_spark = (
        _tables(tmp_path / "duck" / "cx.duckdb"),
        _tables(tmp_path / "spark" / "cx.duckdb"),
    )
    assert sum(len(rows) for name, rows in duck.items() if name.startswith("quarantine")) > 40
    customers = {row[0]: row for row in duck["raw.crm__customers__accepted"]}
    assert sorted(customers) == ["C1", "C2", "C3", "C4", "C5"]
    assert "crm/customers/c2.csv" in customers["C1"]  # the later update won
    for name in duck:
        assert on_spark[name] == duck[name], name
    # Spark wrote what dbt and GX read on the Spark target.
    for schema, table in (("raw", "crm__customers__accepted"), ("quarantine", "tickets__tickets")):
        assert any(spark_gate.folder(schema, table).glob("*.parquet"))
