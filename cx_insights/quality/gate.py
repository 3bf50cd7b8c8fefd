"""The quality gate: every landed row is checked before any model reads it.

For one entity, the gate reads `raw.<source>__<entity>` (text, as landed) and
writes

* `quarantine.<source>__<entity>`: every row that breaks a contract rule, as
  landed, with `_rule`, `_reason`, its lineage and `_quarantined_at`;
* `raw.<source>__<entity>__accepted`: the typed rows that passed, reduced to
  the latest accepted row per primary key (file modification time, then file
  name, then line). A rejected later update therefore never replaces an
  accepted row: it waits in quarantine.

The row rules are derived from `cx_insights.contract` (the same source the
Great Expectations suites in `expectations/` are built from) and run as one
SQL pass inside DuckDB, so 50 M rows never travel through pandas. The gate is
a pure function of the raw rows it depends on: re-running it on unchanged
input rebuilds identical tables, and it is skipped outright when the
fingerprint of its inputs has not changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from cx_insights.contract import (
    ENTITIES,
    MONEY_COLUMN,
    WAITING_RULES,
    Entity,
    accepted_table,
    accepted_table_ddl,
)
from cx_insights.quality.results import GateResult, gate_counts
from cx_insights.quality.rules import (
    DATED_RULE_PREFIX,
    GateOptions,
    as_options,
    context_joins,
    rules_for,
    t,
    typed_expr,
)
from cx_insights.warehouse import quote_ident, sql_literal, table_columns, table_exists

if TYPE_CHECKING:
    from cx_insights.quality.spark_gate import SparkGate

#: The accepted tables each entity's rules read (answers need their question
#: and response; money rows need the fx rates).
GATE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "feedback__answers": ("feedback__questions", "feedback__responses"),
    **{q: ("framework__fx_rates",) for q in MONEY_COLUMN},
}


def gate_order() -> list[str]:
    """Every entity, each after the entities whose accepted rows its rules read."""
    done: list[str] = []

    def visit(q: str) -> None:
        for dep in GATE_DEPENDENCIES.get(q, ()):
            visit(dep)
        if q not in done:
            done.append(q)

    for e in ENTITIES:
        visit(e.qualified)
    return done


#: Rules whose verdict depends on another entity's accepted rows and can only
#: turn from broken to passed when that entity gains rows (accepted keys are
#: never removed by new files). When the dependency gets a new file, the rows
#: quarantined by these rules are checked again; any other dependency's new
#: file re-gates every row.
RELEASABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "feedback__answers": {"feedback__responses": ("answer_response_exists",)},
    **{q: {"framework__fx_rates": ("fx_rate_exists",)} for q in MONEY_COLUMN},
}

#: The files (of the entity and its dependencies) the last gate saw.
INPUTS_DDL = """
create table if not exists raw._gate_inputs (
    entity varchar not null,
    input_entity varchar not null,
    path varchar not null,
    sha256 varchar,
    status varchar,
    mtime timestamp,
    primary key (entity, input_entity, path)
)
"""

STATE_DDL = """
create table if not exists raw._gate_state (
    entity varchar primary key,
    fingerprint varchar not null,
    checked_at timestamp not null
)
"""

RESULTS_DDL = """
create table if not exists raw._gate_results (
    entity varchar not null,
    checked_at timestamp not null,
    rows_landed bigint not null,
    rows_accepted bigint not null,
    rows_quarantined bigint not null,
    rows_current bigint not null,
    by_rule varchar not null,
    primary key (entity, checked_at)
)
"""


WAITING_DDL = """
create table if not exists raw._gate_waiting (
    entity varchar not null,
    month_start_date date,
    rule varchar not null,
    rows bigint not null
)
"""


def fingerprint(con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions | str) -> str:
    """A hash of everything the gate's output depends on (the run date too, while
    rows wait in quarantine for being dated in the future)."""
    options = as_options(options)
    dated = (
        table_exists(con, "quarantine", e.qualified)
        and con.execute(
            f"select count(*) from quarantine.{e.qualified} where starts_with(_rule, ?)",
            [DATED_RULE_PREFIX],
        ).fetchone()[0]
    )
    payload = json.dumps(
        {
            "files": [[str(v) for v in row] for row in _input_files(con, e)],
            "settings": options.key(),
            "latest": options.latest.isoformat() if dated else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _inputs(e: Entity) -> tuple[str, ...]:
    return (e.qualified, *GATE_DEPENDENCIES.get(e.qualified, ()))


def _input_files_sql(e: Entity) -> str:
    """(entity, path, sha256, status, mtime) of the entity's files and its dependencies'
    (the parameters are `_inputs(e)`)."""
    placeholders = ", ".join("?" for _ in _inputs(e))
    return (
        "select entity, path, sha256, status, mtime from raw._files "
        f"where entity in ({placeholders}) order by entity, path"
    )


def _input_files(con: duckdb.DuckDBPyConnection, e: Entity) -> list[tuple]:
    return con.execute(_input_files_sql(e), list(_inputs(e))).fetchall()


@dataclass(frozen=True)
class Plan:
    """How the gate brings an entity up to date."""

    mode: str  # "full" | "delta"
    reason: str
    new_files: tuple[str, ...] = ()
    recheck_rules: tuple[str, ...] = ()


def plan(con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions | str) -> Plan:
    """Delta when the only change since the last gate is new files; full otherwise.

    A new file of the entity: only its rows are checked. A new file of a
    dependency listed in RELEASABLE: the quarantined rows waiting for it are
    checked again. Anything else (a file replaced or gone, another dependency
    changed, other settings or gate version, tables missing) re-gates every row.
    """
    options = as_options(options)
    state = con.execute(
        "select settings from raw._gate_state where entity = ?", [e.qualified]
    ).fetchone()
    if state is None or state[0] != options.key():
        return Plan("full", "first gate, or the settings or the gate version changed")
    quarantine_cols = [*table_columns(con, "raw", e.qualified), "_rule", "_reason"]
    if not (
        table_exists(con, "quarantine", e.qualified)
        and table_columns(con, "quarantine", e.qualified)[:-1] == quarantine_cols
        and "_gated_at" in table_columns(con, "raw", accepted_table(e))
    ):
        return Plan("full", "the quarantine or accepted table is missing or outdated")
    before = {
        (r[0], r[1]): tuple(r[2:])
        for r in con.execute(
            "select input_entity, path, sha256, status, mtime from raw._gate_inputs "
            "where entity = ?",
            [e.qualified],
        ).fetchall()
    }
    now = {(r[0], r[1]): tuple(r[2:]) for r in _input_files(con, e)}
    changed = sorted(key[1] for key, seen in before.items() if now.get(key) != seen)
    if changed:
        return Plan("full", f"{len(changed)} file(s) changed or went missing, e.g. {changed[0]}")
    new_files: list[str] = []
    # Rows rejected for a date after the run date may have become valid since.
    recheck: set[str] = {
        r[0]
        for r in con.execute(
            f"select distinct _rule from quarantine.{e.qualified} where starts_with(_rule, ?)",
            [DATED_RULE_PREFIX],
        ).fetchall()
    }
    for (input_entity, path), (_sha, status, _mtime) in sorted(now.items() - before.items()):
        if status != "loaded":
            continue  # a failed, duplicate or ignored file adds no rows
        if input_entity == e.qualified:
            new_files.append(path)
        elif input_entity in RELEASABLE.get(e.qualified, {}):
            recheck.update(RELEASABLE[e.qualified][input_entity])
        else:
            return Plan("full", f"dependency {input_entity} has a new file {path}")
    return Plan(
        "delta",
        f"{len(new_files)} new file(s)"
        + (f", re-checking rows quarantined by {sorted(recheck)}" if recheck else ""),
        tuple(new_files),
        tuple(sorted(recheck)),
    )


def run_gate(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    options: GateOptions | str,
    *,
    force: bool = False,
    spark: SparkGate | None = None,
) -> GateResult:
    """Split the landed rows into quarantine and accepted (latest per key).

    Unchanged input is skipped; new files alone are gated as a delta (only
    their rows, merged into the accepted rows by key and recency); anything
    else re-gates every row. Both paths give the same tables. With `spark`,
    the rows are gated as Spark SQL (every row; `cx_insights.quality.spark_gate`)
    and the results taken back into this file.
    """
    options = as_options(options)
    for ddl in (STATE_DDL, RESULTS_DDL, INPUTS_DDL, WAITING_DDL):
        con.execute(ddl)
    con.execute("alter table raw._gate_state add column if not exists settings varchar")
    if table_exists(con, "raw", accepted_table(e)) and "_gated_at" not in table_columns(
        con, "raw", accepted_table(e)
    ):
        # Built by an older version: derived data, rebuilt below.
        con.execute(f"drop table raw.{accepted_table(e)}")
    con.execute(accepted_table_ddl(e))
    fp = fingerprint(con, e, options)
    state = con.execute(
        "select fingerprint from raw._gate_state where entity = ?", [e.qualified]
    ).fetchone()
    if not force and state and state[0] == fp and table_exists(con, "quarantine", e.qualified):
        return gate_counts(con, e, skipped=True)
    the_plan = Plan("full", "forced") if force else plan(con, e, options)
    if spark is not None:
        the_plan = Plan("full", f"on Spark, every row ({the_plan.reason})")

    checked_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    gated_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("set variable cx_pii_salt = ?", [options.pii_salt])
    con.execute("begin transaction")
    try:
        if spark is not None:
            rows_checked = spark.gate(con, e, options, gated_at)
        elif the_plan.mode == "full":
            rows_checked = _gate_full(con, e, options, gated_at)
        else:
            rows_checked = _gate_delta(con, e, options, gated_at, the_plan)
        _count_waiting(con, e)
        result = gate_counts(con, e, skipped=False)
        result.mode, result.plan_reason, result.rows_checked = (
            the_plan.mode,
            the_plan.reason,
            rows_checked,
        )
        con.execute(
            "insert or replace into raw._gate_state (entity, fingerprint, checked_at, settings) "
            "values (?, ?, ?, ?)",
            [e.qualified, fp, checked_at, options.key()],
        )
        con.execute("delete from raw._gate_inputs where entity = ?", [e.qualified])
        con.execute(
            f"insert into raw._gate_inputs select ?, * from ({_input_files_sql(e)})",
            [e.qualified, *_inputs(e)],
        )
        con.execute(
            "insert or replace into raw._gate_results values (?, ?, ?, ?, ?, ?, ?)",
            [
                e.qualified,
                checked_at,
                result.rows_landed,
                result.rows_accepted,
                result.rows_quarantined,
                result.rows_current,
                json.dumps(result.by_rule, sort_keys=True),
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("reset variable cx_pii_salt")
        con.execute("drop table if exists _gate")
        con.execute("drop table if exists _gate_winners")
        con.execute("drop table if exists _gate_rejected")
    return result


def _count_waiting(con: duckdb.DuckDBPyConnection, e: Entity) -> None:
    """Replace the entity's rows of `raw._gate_waiting`: waiting rows per month of
    the row's date and rule (an answer waiting for its response has no month)."""
    con.execute("delete from raw._gate_waiting where entity = ?", [e.qualified])
    when = e.money_date_column
    month = (
        f"cast(date_trunc('month', {typed_expr(when, 'timestamp')}) as date)"
        if when
        else "cast(null as date)"
    )
    waiting = ", ".join(sql_literal(r) for r in sorted(WAITING_RULES))
    con.execute(
        f"""
        insert into raw._gate_waiting
        select {sql_literal(e.qualified)}, {month}, _rule, count(*)
        from quarantine.{e.qualified} as landed
        where _rule in ({waiting})
        group by all
        """
    )


def _typed_sql(
    con: duckdb.DuckDBPyConnection, e: Entity, landed: str, *, context: bool = True
) -> str:
    """The rows of `landed` (a table or subquery) as landed, with each column typed
    (`__t_<column>`) and, with `context`, the values from other entities some rules
    read (one row per landed row: the joins are to one row per key)."""
    typed = ", ".join(
        f"{typed_expr(c.name, c.type, enum=bool(c.enum))} as {t(c.name)}" for c in e.columns
    )
    extra_select, joins = context_joins(e) if context else ("", "")
    landed_cols = ", ".join(
        f"landed.{quote_ident(c)}" for c in table_columns(con, "raw", e.qualified)
    )
    return f"(select {landed_cols}, {typed} {extra_select} from {landed} as landed {joins})"


def _checked_sql(con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions, landed: str):
    """The rows of `landed` (a table or subquery), typed, with `_rule` and `_reason`."""
    rules = rules_for(e, options)
    rule_case = " ".join(f"when {r.violated} then {sql_literal(r.name)}" for r in rules)
    reason_case = " ".join(f"when {r.violated} then {r.reason}" for r in rules)
    return f"""(
        select *,
            case {rule_case} end as _rule,
            case {reason_case} end as _reason
        from {_typed_sql(con, e, landed)} as typed
    )"""


def _quarantine(
    con: duckdb.DuckDBPyConnection, e: Entity, checked: str, gated_at: datetime
) -> None:
    cols = ", ".join(quote_ident(c) for c in table_columns(con, "raw", e.qualified))
    con.execute(
        f"""
        insert into quarantine.{e.qualified}
        select {cols}, _rule, coalesce(_reason, _rule) as _reason,
            {sql_literal(gated_at.isoformat())}::timestamp as _quarantined_at
        from {checked} as checked where _rule is not null
        order by _file_mtime, _source_file, _source_line
        """
    )


def _accepted_select(e: Entity, gated_at: datetime, *, with_mtime: bool = False) -> str:
    cols = ", ".join(f"{t(c.name)} as {quote_ident(c.name)}" for c in e.columns)
    for c in e.columns:
        if c.pseudonymise:
            # The salt comes from a session variable: it is in no statement text.
            cols += (
                f", case when nullif(trim({t(c.name)}), '') is not null then "
                f"sha256(getvariable('cx_pii_salt') || lower(trim({t(c.name)}))) end "
                f"as {quote_ident(c.name + '_hash')}"
            )
    mtime = ", _file_mtime" if with_mtime else ""
    return (
        f"select {cols}, _source_file, _source_line, _loaded_at, "
        f"{sql_literal(gated_at.isoformat())}::timestamp as _gated_at{mtime}"
    )


def _latest_accepted(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    accepted: str,
    gated_at: datetime,
    target: str,
    *,
    with_mtime: bool = False,
) -> None:
    """Insert into `target` the rows of `accepted` (typed rows that broke no rule), one
    per key: the latest (file mtime, file, line).

    Most keys arrive once. Those stream straight through; only the keys that
    occur more than once go through the window. `accepted` is read as a
    subquery, never materialised: at 50 M rows a temp table of typed rows is
    what made the gate spill to disk.
    """
    key = ", ".join(t(k) for k in e.key)
    select = _accepted_select(e, gated_at, with_mtime=with_mtime)
    con.execute(
        f"""
        create or replace temp table _gate_repeated as
        select {key} from {accepted} as accepted
        group by {key} having count(*) > 1
        """
    )
    con.execute(
        f"""
        insert into {target}
        {select} from {accepted} as accepted anti join _gate_repeated using ({key})
        """
    )
    con.execute(
        f"""
        insert into {target}
        {select} from (
            select * from {accepted} as accepted semi join _gate_repeated using ({key})
        ) as updates
        qualify row_number() over (
            partition by {key} order by _file_mtime desc, _source_file desc, _source_line desc
        ) = 1
        """
    )
    con.execute("drop table _gate_repeated")


def _gate_full(
    con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions, gated_at: datetime
) -> int:
    con.execute(f"create or replace table quarantine.{e.qualified} as {quarantine_empty(con, e)}")
    raw = f"raw.{e.qualified}"
    # The rules run once per row, into the (usually few) rejected rows' ids, verdicts
    # and reasons. Without filter pushdown: DuckDB would push `_rule is not null`
    # below the projection that types the row and substitute each typed column's
    # expression wherever a rule names it, so a timestamp's parse (regexes, casts)
    # ran once per rule reading it instead of once per row (the tickets' three
    # timestamps: 5 s -> 1.4 s for their gate at 100 k customers).
    con.execute("set disabled_optimizers = 'filter_pushdown'")
    try:
        con.execute(
            f"""
            create or replace temp table _gate_rejected as
            select _source_file, _source_line, _rule, _reason
            from {_checked_sql(con, e, options, raw)} as checked where _rule is not null
            """
        )
    finally:
        con.execute("reset disabled_optimizers")
    rejected = (
        f"(select landed.*, rejected._rule, rejected._reason from {raw} as landed "
        "inner join _gate_rejected as rejected using (_source_file, _source_line))"
    )
    _quarantine(con, e, rejected, gated_at)
    # Every other row is accepted: typed again (cheap next to the rules), without the
    # context values only the rules read.
    accepted = (
        f"(select * from {_typed_sql(con, e, raw, context=False)} as typed "
        "anti join _gate_rejected using (_source_file, _source_line))"
    )
    con.execute(f"delete from raw.{accepted_table(e)}")
    _latest_accepted(con, e, accepted, gated_at, f"raw.{accepted_table(e)}")
    return int(con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0])


def quarantine_empty(con: duckdb.DuckDBPyConnection, e: Entity) -> str:
    """A query of no rows with the quarantine table's columns: the landed ones, then
    `_rule`, `_reason` and `_quarantined_at` (both gates create the table from it)."""
    cols = ", ".join(quote_ident(c) for c in table_columns(con, "raw", e.qualified))
    return (
        f"select {cols}, ''::varchar as _rule, ''::varchar as _reason, "
        f"_loaded_at as _quarantined_at from raw.{e.qualified} limit 0"
    )


def _gate_delta(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    options: GateOptions,
    gated_at: datetime,
    p: Plan,
) -> int:
    raw, acc, quarantine = (
        f"raw.{e.qualified}",
        f"raw.{accepted_table(e)}",
        f"quarantine.{e.qualified}",
    )
    new_files = ", ".join(sql_literal(f) for f in p.new_files) or "null"
    rules = ", ".join(sql_literal(r) for r in p.recheck_rules) or "null"
    # Quarantined rows waiting for a dependency are checked again with the new rows.
    con.execute(
        f"""
        create or replace temp table _gate_recheck as
        select _source_file, _source_line from {quarantine} where _rule in ({rules})
        """
    )
    con.execute(
        f"""
        delete from {quarantine} as waiting using _gate_recheck as recheck
        where waiting._source_file = recheck._source_file
          and waiting._source_line = recheck._source_line
        """
    )
    landed = f"""(
        select * from {raw} where _source_file in ({new_files})
        union all
        select * from {raw} semi join _gate_recheck using (_source_file, _source_line)
    )"""
    con.execute(
        "create or replace temp table _gate as "
        f"select * from {_checked_sql(con, e, options, landed)}"
    )
    con.execute("drop table if exists _gate_recheck")
    _quarantine(con, e, "_gate", gated_at)
    keys = ", ".join(quote_ident(k) for k in e.key)
    key_match = " and ".join(f"current.{quote_ident(k)} = winner.{quote_ident(k)}" for k in e.key)
    winner_cols = _accepted_select(e, gated_at, with_mtime=True)
    con.execute(f"create or replace temp table _gate_winners as {winner_cols} from _gate limit 0")
    _latest_accepted(
        con,
        e,
        "(select * from _gate where _rule is null)",
        gated_at,
        "_gate_winners",
        with_mtime=True,
    )
    # A winner older than the row already accepted for its key loses (a late file
    # with an old modification time): the same outcome as re-gating every row.
    con.execute(
        f"""
        delete from _gate_winners as winner
        using (
            select current.*, files.mtime as _file_mtime
            from (select * from {acc} semi join _gate_winners using ({keys})) as current
            inner join raw._files as files
                on files.entity = {sql_literal(e.qualified)} and files.path = current._source_file
        ) as current
        where {key_match}
          and (current._file_mtime > winner._file_mtime
               or (current._file_mtime = winner._file_mtime
                   and (current._source_file > winner._source_file
                        or (current._source_file = winner._source_file
                            and current._source_line > winner._source_line))))
        """
    )
    con.execute(f"delete from {acc} as current using _gate_winners as winner where {key_match}")
    con.execute(f"insert into {acc} select * exclude (_file_mtime) from _gate_winners")
    return int(con.execute("select count(*) from _gate").fetchone()[0])
