"""The published file is updated where the marts changed, and always holds exactly
the working warehouse's marts (cx_insights.serve.publish).

A small warehouse with hand-made marts goes through rounds of random changes (rows
added, deleted, changed, duplicated, NULLs, a table added, dropped or given a new
column); after each round the published file must equal the warehouse, row for row
as multisets, and equal a full copy made from scratch.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cx_insights.serve as serve
from cx_insights.config import load_settings
from cx_insights.serve import _write_marts, publish
from tests.incremental_proof import marts_rows as marts


def build_log(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select table_name, row_count, run_id from marts._build order by table_name"
        ).fetchall()


def start_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema raw")
        con.execute("create table raw.secret as select 'pii' as email")
        con.execute(
            "create table marts.fct_a as select i as id, 'name ' || i as name, "
            "i * 1.5 as amount, case when i % 7 = 0 then null else i % 3 end as bucket "
            "from range(2000) t(i)"
        )
        con.execute(
            "create table marts.dim_b as select i as id, i % 2 = 0 as flag from range(50) t(i)"
        )
        con.execute(
            "create view marts.v_a as select bucket, count(*) as n from marts.fct_a group by 1"
        )


def change(path: Path, rng: random.Random) -> None:
    """One round of changes a build can make to its marts."""
    with duckdb.connect(str(path)) as con:
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(
                ["insert", "delete", "update", "duplicate", "null", "table", "column"]
            )
            k = rng.randint(0, 2500)
            if kind == "insert":
                con.execute(
                    "insert into marts.fct_a select id, 'new ' || id, id, 1 from "
                    "(select ? + i as id from range(?) t(i))",
                    [10_000 + k, rng.randint(1, 30)],
                )
            elif kind == "delete":
                con.execute("delete from marts.fct_a where id % 97 = ?", [k % 97])
            elif kind == "update":
                con.execute(
                    "update marts.fct_a set amount = amount + 1 where id % 53 = ?", [k % 53]
                )
            elif kind == "duplicate":
                con.execute("insert into marts.fct_a select * from marts.fct_a where id = ?", [k])
            elif kind == "null":
                con.execute("update marts.fct_a set name = null where id % 89 = ?", [k % 89])
            elif kind == "table":
                if con.execute(
                    "select count(*) from information_schema.tables where table_name = 'fct_c'"
                ).fetchone()[0]:
                    con.execute("drop table marts.fct_c")
                else:
                    con.execute("create table marts.fct_c as select ? as x", [k])
            elif con.execute(
                "select count(*) from information_schema.columns where column_name = 'extra'"
            ).fetchone()[0]:
                con.execute("alter table marts.dim_b drop column extra")
            else:
                con.execute(f"alter table marts.dim_b add column extra integer default {k}")


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_published_file_equals_the_marts_after_every_change(tmp_path_factory, seed):
    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("publish")
    warehouse = root / "cx.duckdb"
    start_warehouse(warehouse)
    env = {"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"}
    cx = load_settings(env)
    scratch = load_settings({**env, "CX_WAREHOUSE": str(root / "scratch" / "cx.duckdb")})
    scratch.published.parent.mkdir()
    full_copies = []
    write_marts = serve._write_marts

    def counted(warehouse, tmp, run_id, update):
        full_copies.append(not update)
        return write_marts(warehouse, tmp, run_id, update)

    for step in range(4):
        serve._write_marts = counted
        try:
            published = publish(cx, run_id=f"run-{step}")
        finally:
            serve._write_marts = write_marts
        # The first publish copies; every later one updates the published file.
        assert full_copies == [True] + [False] * step
        assert marts(published) == marts(warehouse)
        # A full copy from scratch of the same warehouse, for the build log too.
        scratch.published.unlink(missing_ok=True)
        _write_marts(warehouse, scratch.published, f"run-{step}", update=False)
        assert marts(scratch.published) == marts(published)
        assert build_log(scratch.published) == build_log(published)
        change(warehouse, rng)
    with duckdb.connect(str(published), read_only=True) as con:
        schemas = con.execute("select schema_name from information_schema.schemata").fetchall()
    assert ("raw",) not in schemas


def test_an_unreadable_published_file_is_replaced_by_a_full_copy(tmp_path):
    warehouse = tmp_path / "cx.duckdb"
    start_warehouse(warehouse)
    cx = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"})
    cx.published.write_bytes(b"not a duckdb file" * 100)
    publish(cx, run_id="r")
    assert marts(cx.published) == marts(warehouse)


def test_an_unchanged_mart_is_left_as_it_was(tmp_path, monkeypatch):
    import cx_insights.serve as serve

    warehouse = tmp_path / "cx.duckdb"
    start_warehouse(warehouse)
    cx = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"})
    publish(cx, run_id="r1")
    copied = []
    monkeypatch.setattr(serve, "_copy_table", lambda con, name: copied.append(name))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into marts.dim_b values (99, true)")
    publish(cx, run_id="r2")
    # dim_b updated by its one new row, fct_a left as it was: only the view (no row
    # ids) is copied whole.
    assert copied == ['marts."v_a"']
    assert marts(cx.published) == marts(warehouse)


def test_a_published_file_mostly_free_space_is_written_anew(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "FREE_BLOCKS_MIN", 0)  # a small file, to keep the test short
    warehouse = tmp_path / "cx.duckdb"
    start_warehouse(warehouse)
    cx = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"})
    publish(cx, run_id="r1")
    with duckdb.connect(str(cx.published)) as con:  # space a large mart left behind
        con.execute("create table marts.big as select i, md5(i::varchar) from range(300000) t(i)")
        con.execute("checkpoint")
        con.execute("create table marts.after as select i from range(100000) t(i)")
        con.execute("checkpoint")
        con.execute("drop table marts.big")
        con.execute("checkpoint")
        free, total = con.execute(
            "select free_blocks, total_blocks from pragma_database_size()"
        ).fetchone()
    assert free > serve.FREE_BLOCKS_SHARE * total
    publish(cx, run_id="r2")
    with duckdb.connect(str(cx.published), read_only=True) as con:
        free, total = con.execute(
            "select free_blocks, total_blocks from pragma_database_size()"
        ).fetchone()
    assert free <= serve.FREE_BLOCKS_SHARE * total
    assert marts(cx.published) == marts(warehouse)
