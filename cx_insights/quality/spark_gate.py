"""The quality gate as Spark SQL, for `CX_TARGET=spark`.

The same rules as `cx_insights.quality.gate` (`rules_for`, `typed_expr` and
`context_joins` in their Spark dialect), over the same landed rows: the gate
hands the entity's landed rows to Spark as Parquet (`files/raw/<x>/`), and Spark
types every row, applies every rule, keeps the latest accepted row per key and
writes `files/quarantine/<x>/` and `files/raw/<x>__accepted/` itself: the rows
are checked on the executors, never collected to the driver. The answers' and
money rows' context (questions, responses, fx rates) is read from the
dependencies' accepted folders their own gates wrote.

The DuckDB file the loader works in then takes the two results back (its
counts, the run report, the waiting rows and the next gate's plan read them):
the tables equal those of the DuckDB gate row for row (tests/test_spark_gate.py).
Every Spark gate checks every row: Parquet has no row-level delete, so the
delta gate of new files stays DuckDB's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from cx_insights.config import Settings
from cx_insights.contract import Entity, accepted_table
from cx_insights.quality.gate import quarantine_empty
from cx_insights.quality.rules import GateOptions, context_joins, rules_for, t, typed_expr
from cx_insights.warehouse import quote_ident, sql_literal, table_columns

DIALECT = "spark"


@dataclass
class SparkGate:
    """Runs an entity's gate on a Spark session, with the target's folders."""

    session: object
    settings: Settings
    #: The (schema, table)s the last gate wrote to the target's folders.
    written: set[tuple[str, str]] = field(default_factory=set)
    #: Seconds of the last gate's steps (benchmarks/gate_engines.py prints them).
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, settings: Settings) -> SparkGate:
        from cx_insights import spark

        return cls(spark.session(settings), settings)

    def folder(self, schema: str, table: str) -> Path:
        from cx_insights import spark

        return spark.files_dir(self.settings) / schema / table

    def relation(self, schema: str, table: str) -> str:
        return f"parquet.`{self.folder(schema, table)}`"

    def accepted(self, e: Entity) -> str:
        return self.relation("raw", accepted_table(e))

    def gate(
        self,
        con: duckdb.DuckDBPyConnection,
        e: Entity,
        options: GateOptions,
        gated_at: datetime,
    ) -> int:
        """Gate every landed row of `e` on Spark; the results replace the DuckDB
        file's quarantine and accepted tables. Returns the rows checked."""
        from cx_insights import spark

        self.written, self.timings = set(), {}
        started = time.monotonic()
        landed_cols = table_columns(con, "raw", e.qualified)
        checked = spark.write_tables(con, self.settings, [("raw", e.qualified)])
        self.written.add(("raw", e.qualified))
        self._lap("hand_over", started)
        view = f"_cx_gate_{e.qualified}"
        self.session.sql(_checked_sql(self, e, options, landed_cols)).createOrReplaceTempView(view)
        stamp = {"gated_at": gated_at.isoformat(sep=" ")}
        quarantined = self.session.sql(
            f"select {', '.join(quote_ident(c) for c in landed_cols)}, _rule, "
            "coalesce(_reason, _rule) as _reason, "
            "cast(:gated_at as timestamp_ntz) as _quarantined_at "
            f"from {view} where _rule is not null",
            args=stamp,
        )
        self._write(quarantined, "quarantine", e.qualified)
        self._lap("quarantine", started)
        key = ", ".join(t(k) for k in e.key)
        accepted = self.session.sql(
            f"""{_accepted_select(e)} from (
                select *, row_number() over (
                    partition by {key}
                    order by _file_mtime desc, _source_file desc, _source_line desc
                ) as _cx_latest
                from {view} where _rule is null
            ) as typed where _cx_latest = 1""",
            args={**stamp, "cx_pii_salt": options.pii_salt},
        )
        self._write(accepted, "raw", accepted_table(e))
        self._lap("accepted", started)
        self.session.catalog.dropTempView(view)
        _take_back(
            con, e, self.folder("quarantine", e.qualified), self.folder("raw", accepted_table(e))
        )
        self._lap("take_back", started)
        return checked[f"raw.{e.qualified}"]

    def _lap(self, step: str, started: float) -> None:
        self.timings[step] = time.monotonic() - started - sum(self.timings.values())

    def _write(self, frame, schema: str, table: str) -> None:
        """Write a DataFrame as the table's folder, replacing it whole (a new folder
        renamed into place, as `cx_insights.spark.write_tables` does)."""
        from cx_insights import spark

        spark.replace_folder(
            self.folder(schema, table),
            lambda fresh: frame.write.mode("overwrite").parquet(str(fresh)),
        )
        self.written.add((schema, table))


def _checked_sql(g: SparkGate, e: Entity, options: GateOptions, landed_cols: list[str]) -> str:
    """Every landed row with its typed columns and `_rule`/`_reason` (Spark SQL)."""
    typed = ", ".join(
        f"{typed_expr(c.name, c.type, enum=bool(c.enum), dialect=DIALECT)} as {t(c.name)}"
        for c in e.columns
    )
    extra_select, joins = context_joins(e, DIALECT, g.accepted)
    landed = ", ".join(f"landed.{quote_ident(c)}" for c in landed_cols)
    rules = rules_for(e, options, DIALECT)
    rule_case = " ".join(f"when {r.violated} then {sql_literal(r.name)}" for r in rules)
    reason_case = " ".join(f"when {r.violated} then {r.reason}" for r in rules)
    return f"""
        select *, case {rule_case} end as _rule, case {reason_case} end as _reason
        from (
            select {landed}, {typed} {extra_select}
            from {g.relation("raw", e.qualified)} as landed {joins}
        ) as typed
    """


def _accepted_select(e: Entity) -> str:
    """The accepted table's columns, in its order (`accepted_table_ddl`); the e-mail
    hash with the salt as a parameter (in no statement text)."""
    cols = [f"{t(c.name)} as {quote_ident(c.name)}" for c in e.columns]
    for c in e.columns:
        if c.pseudonymise:
            cols.append(
                f"case when nullif(trim({t(c.name)}), '') is not null then "
                f"sha2(concat(:cx_pii_salt, lower(trim({t(c.name)}))), 256) end "
                f"as {quote_ident(c.name + '_hash')}"
            )
    cols += [
        "_source_file",
        "cast(_source_line as bigint) as _source_line",
        "cast(_loaded_at as timestamp_ntz) as _loaded_at",
        "cast(:gated_at as timestamp_ntz) as _gated_at",
    ]
    return f"select {', '.join(cols)}"


def _parquet(folder: Path) -> str | None:
    parts = sorted(folder.rglob("*.parquet"))
    return f"read_parquet([{', '.join(sql_literal(str(p)) for p in parts)}])" if parts else None


def _take_back(con: duckdb.DuckDBPyConnection, e: Entity, quarantine: Path, accepted: Path) -> None:
    """Replace the DuckDB file's quarantine and accepted tables with Spark's results."""
    con.execute(f"create or replace table quarantine.{e.qualified} as {quarantine_empty(con, e)}")
    rows = _parquet(quarantine)
    if rows:
        con.execute(
            f"insert into quarantine.{e.qualified} by name select * from {rows} "
            "order by _file_mtime, _source_file, _source_line"
        )
    con.execute(f"delete from raw.{accepted_table(e)}")
    rows = _parquet(accepted)
    if rows:
        con.execute(f"insert into raw.{accepted_table(e)} by name select * from {rows}")
