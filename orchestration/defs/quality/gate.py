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
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from cx_insights.contract import (
    MONEY_COLUMN,
    SQL_TYPES,
    Entity,
    accepted_table,
    accepted_table_ddl,
    entity,
)
from cx_insights.warehouse import quote_ident, sql_literal, table_columns, table_exists

#: The accepted tables each entity's rules read (answers need their question
#: and response; money rows need the fx rates).
GATE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "feedback__answers": ("feedback__questions", "feedback__responses"),
    **{q: ("framework__fx_rates",) for q in MONEY_COLUMN},
}

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


@dataclass(frozen=True)
class Rule:
    name: str
    violated: str  # SQL predicate, true when the row breaks the rule
    reason: str  # SQL expression: the message stored in `_reason`


@dataclass
class GateResult:
    entity: str
    rows_landed: int
    rows_accepted: int
    rows_quarantined: int
    rows_current: int
    by_rule: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    @property
    def reconciles(self) -> bool:
        return self.rows_landed == self.rows_accepted + self.rows_quarantined

    @property
    def reject_rate(self) -> float:
        return self.rows_quarantined / self.rows_landed if self.rows_landed else 0.0


def typed_expr(column: str, type_: str, *, enum: bool = False) -> str:
    """SQL typing the landed text of `column` (null when it does not parse)."""
    c = "landed." + quote_ident(column)
    if type_ == "timestamp":
        # A value with an offset is converted to UTC; one without is taken as
        # UTC (the session time zone is UTC).
        # ISO 8601 allows minutes without seconds (`T10:00Z`), DuckDB's cast does not.
        minutes_only = (
            f"regexp_replace(trim({c}), "
            r"'^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([Zz+-].*)?$', '\1:00\2')"
        )
        return (
            f"cast(coalesce(try_cast(trim({c}) as timestamptz), "
            f"try_cast({minutes_only} as timestamptz)) as timestamp)"
        )
    if type_ == "text":
        if enum:
            return f"lower(trim({c}))"
        if column == "currency":
            return f"upper(trim({c}))"
        return c
    return f"try_cast(trim({c}) as {SQL_TYPES[type_]})"


def t(column: str) -> str:
    """The typed value of a column inside the gate query."""
    return quote_ident(f"__t_{column}")


def _column_rules(e: Entity) -> list[Rule]:
    rules = [
        Rule(
            "parse_error",
            "_parse_error is not null",
            "'the record could not be parsed: ' || _parse_error",
        )
    ]
    for c in e.columns:
        if c.required:
            rules.append(
                Rule(
                    f"required:{c.name}",
                    f"{quote_ident(c.name)} is null",
                    sql_literal(f"required column {c.name} is empty"),
                )
            )
    for c in e.columns:
        if c.type != "text":
            rules.append(
                Rule(
                    f"type:{c.name}",
                    f"{quote_ident(c.name)} is not null and {t(c.name)} is null",
                    f"'value ' || {quote_ident(c.name)} || ' of {c.name} is not a valid {c.type}'",
                )
            )
    for c in e.columns:
        if c.enum:
            allowed = ", ".join(sql_literal(v) for v in c.enum)
            rules.append(
                Rule(
                    f"enum:{c.name}",
                    f"{t(c.name)} is not null and {t(c.name)} not in ({allowed})",
                    f"'value ' || {quote_ident(c.name)} || ' of {c.name} is not one of "
                    f"{'/'.join(c.enum)}'",
                )
            )
    return rules


def _entity_rules(e: Entity, reporting_currency: str) -> list[Rule]:
    rules: list[Rule] = []
    q = e.qualified
    if q == "framework__fx_rates":
        rules.append(
            Rule(
                "fx_rate_positive",
                f"{t('rate_to_reporting')} <= 0",
                "'rate_to_reporting ' || rate_to_reporting || ' is not > 0'",
            )
        )
    if q == "feedback__questions":
        rules += [
            Rule(
                "scale_required",
                f"{t('metric')} <> 'verbatim' and ({t('scale_min')} is null "
                f"or {t('scale_max')} is null)",
                "'a ' || " + t("metric") + " || ' question needs scale_min and scale_max'",
            ),
            Rule(
                "nps_scale_0_10",
                f"{t('metric')} = 'nps' and ({t('scale_min')} <> 0 or {t('scale_max')} <> 10)",
                f"'an NPS question has scale 0..10, not ' || {t('scale_min')} || '..' "
                f"|| {t('scale_max')}",
            ),
            Rule(
                "scale_ordered",
                f"{t('metric')} <> 'verbatim' and {t('scale_min')} >= {t('scale_max')}",
                f"'scale_min ' || {t('scale_min')} || ' is not below scale_max ' "
                f"|| {t('scale_max')}",
            ),
        ]
    if q == "feedback__answers":
        rules += [
            Rule(
                "answer_question_exists",
                "__q_metric is null",
                "'question ' || question_id || ' does not exist (or was rejected)'",
            ),
            Rule(
                "answer_response_exists",
                "not __r_exists",
                "'response ' || response_id || ' has not arrived (the answer waits here "
                "and is released when it does)'",
            ),
            Rule(
                "answer_has_value",
                f"(__q_metric = 'verbatim' and value_text is null) or "
                f"(__q_metric <> 'verbatim' and {t('value_number')} is null)",
                "case when __q_metric = 'verbatim' then 'a verbatim answer needs value_text' "
                "else 'a ' || __q_metric || ' answer needs value_number' end",
            ),
            Rule(
                "answer_within_scale",
                f"__q_metric <> 'verbatim' and ({t('value_number')} < __q_scale_min "
                f"or {t('value_number')} > __q_scale_max)",
                f"'value ' || {t('value_number')} || ' is outside the scale ' || __q_scale_min "
                f"|| '..' || __q_scale_max || ' of question ' || question_id",
            ),
        ]
    if q == "framework__initiatives":
        rules.append(
            Rule(
                "initiative_one_target",
                "(touchpoint_id is null) = (journey_id is null)",
                "'an initiative targets exactly one of touchpoint_id or journey_id'",
            )
        )
    if q == "crm__subscriptions":
        rules.append(Rule("mrr_non_negative", f"{t('mrr')} < 0", "'mrr ' || mrr || ' is negative'"))
    if "started_at" in e.column_names and "ended_at" in e.column_names:
        rules.append(
            Rule(
                "ended_after_started",
                f"{t('ended_at')} < {t('started_at')}",
                "'ended_at ' || ended_at || ' is before started_at ' || started_at",
            )
        )
    if q == "tickets__tickets":
        for col in ("first_response_at", "solved_at"):
            rules.append(
                Rule(
                    f"{col.removesuffix('_at')}_after_created",
                    f"{t(col)} < {t('created_at')}",
                    f"'{col} ' || {col} || ' is before created_at ' || created_at",
                )
            )
    if q in MONEY_COLUMN:
        money = MONEY_COLUMN[q]
        when = e.money_date_column
        assert when is not None
        rules.append(
            Rule(
                "fx_rate_exists",
                f"{t(money)} is not null and ({t('currency')} is null or "
                f"({t('currency')} <> {sql_literal(reporting_currency)} and "
                f"(__fx_first_date is null or cast({t(when)} as date) < __fx_first_date)))",
                f"case when {t('currency')} is null then 'an amount needs a currency' "
                f"else 'no fx rate for ' || {t('currency')} || ' on or before ' "
                f"|| cast(cast({t(when)} as date) as varchar) end",
            )
        )
    return rules


def rules_for(e: Entity, reporting_currency: str) -> list[Rule]:
    """Every row rule of the entity, in the order they are reported."""
    return _column_rules(e) + _entity_rules(e, reporting_currency)


def _context_joins(e: Entity) -> tuple[str, str]:
    """Extra columns and joins some rules need: (select list, from clause)."""
    q = e.qualified
    if q == "feedback__answers":
        questions = "raw." + accepted_table(entity("feedback__questions"))
        responses = "raw." + accepted_table(entity("feedback__responses"))
        return (
            ", question.metric as __q_metric, question.scale_min as __q_scale_min, "
            "question.scale_max as __q_scale_max, "
            "response.response_id is not null as __r_exists",
            f" left join {questions} as question on question.question_id = landed.question_id"
            f" left join (select distinct response_id from {responses}) as response"
            " on response.response_id = landed.response_id",
        )
    if q in MONEY_COLUMN:
        fx = "raw." + accepted_table(entity("framework__fx_rates"))
        return (
            ", fx.first_rate_date as __fx_first_date",
            f" left join (select currency, min(rate_date) as first_rate_date from {fx} "
            "group by currency) as fx on fx.currency = upper(trim(landed.currency))",
        )
    return "", ""


def fingerprint(con: duckdb.DuckDBPyConnection, e: Entity, reporting_currency: str) -> str:
    """A hash of everything the gate's output depends on."""
    deps = (e.qualified, *GATE_DEPENDENCIES.get(e.qualified, ()))
    placeholders = ", ".join("?" for _ in deps)
    files = con.execute(
        f"select entity, path, sha256, status, mtime from raw._files "
        f"where entity in ({placeholders}) order by entity, path",
        list(deps),
    ).fetchall()
    payload = json.dumps(
        {"files": [[str(v) for v in row] for row in files], "ccy": reporting_currency, "v": 1},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def run_gate(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    reporting_currency: str,
    *,
    force: bool = False,
) -> GateResult:
    """Split the landed rows into quarantine and accepted (latest per key)."""
    con.execute(STATE_DDL)
    con.execute(RESULTS_DDL)
    con.execute(accepted_table_ddl(e))
    raw = f"raw.{e.qualified}"
    fp = fingerprint(con, e, reporting_currency)
    state = con.execute(
        "select fingerprint from raw._gate_state where entity = ?", [e.qualified]
    ).fetchone()
    if (
        not force
        and state
        and state[0] == fp
        and table_exists(con, "quarantine", e.qualified)
        and table_exists(con, "raw", accepted_table(e))
    ):
        return gate_counts(con, e, skipped=True)

    checked_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    raw_cols = table_columns(con, "raw", e.qualified)
    rules = rules_for(e, reporting_currency)
    typed = ", ".join(
        f"{typed_expr(c.name, c.type, enum=bool(c.enum))} as {t(c.name)}" for c in e.columns
    )
    extra_select, joins = _context_joins(e)
    rule_case = " ".join(f"when {r.violated} then {sql_literal(r.name)}" for r in rules)
    reason_case = " ".join(f"when {r.violated} then {r.reason}" for r in rules)
    landed_cols = ", ".join(f"landed.{quote_ident(c)}" for c in raw_cols)
    order = "_file_mtime desc, _source_file desc, _source_line desc"
    key = ", ".join(t(k) for k in e.key)
    accepted_cols = ", ".join(f"{t(c.name)} as {quote_ident(c.name)}" for c in e.columns)
    quarantine_cols = ", ".join(quote_ident(c) for c in raw_cols)

    con.execute("begin transaction")
    try:
        con.execute(
            f"""
            create or replace temp table _gate as
            with typed as (
                select {landed_cols}, {typed} {extra_select}
                from {raw} as landed {joins}
            )
            select *,
                case {rule_case} end as _rule,
                case {reason_case} end as _reason
            from typed
            """
        )
        con.execute(
            f"""
            create or replace table quarantine.{e.qualified} as
            select {quarantine_cols}, _rule, coalesce(_reason, _rule) as _reason,
                   _loaded_at as _quarantined_at
            from _gate where _rule is not null
            order by _file_mtime, _source_file, _source_line
            """
        )
        con.execute(f"delete from raw.{accepted_table(e)}")
        con.execute(
            f"""
            insert into raw.{accepted_table(e)}
            select {accepted_cols}, _source_file, _source_line, _loaded_at
            from (
                select *, row_number() over (partition by {key} order by {order}) as _recency
                from _gate where _rule is null
            ) as ranked
            where _recency = 1
            order by _source_file, _source_line
            """
        )
        result = gate_counts(con, e, skipped=False)
        con.execute(
            "insert or replace into raw._gate_state values (?, ?, ?)",
            [e.qualified, fp, checked_at],
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
        con.execute("drop table if exists _gate")
    return result


def gate_counts(con: duckdb.DuckDBPyConnection, e: Entity, *, skipped: bool) -> GateResult:
    landed = con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0]
    quarantined = con.execute(f"select count(*) from quarantine.{e.qualified}").fetchone()[0]
    current = con.execute(f"select count(*) from raw.{accepted_table(e)}").fetchone()[0]
    by_rule = dict(
        con.execute(
            f"select _rule, count(*) from quarantine.{e.qualified} group by _rule order by _rule"
        ).fetchall()
    )
    # Accepted rows counted independently of the quarantine: rows of raw whose
    # (file, line) is not quarantined. The reconciliation compares the two.
    accepted = con.execute(
        f"""
        select count(*) from raw.{e.qualified} as landed
        where not exists (
            select 1 from quarantine.{e.qualified} as rejected
            where rejected._source_file = landed._source_file
              and rejected._source_line = landed._source_line
        )
        """
    ).fetchone()[0]
    return GateResult(
        e.qualified,
        rows_landed=int(landed),
        rows_accepted=int(accepted),
        rows_quarantined=int(quarantined),
        rows_current=int(current),
        by_rule={str(k): int(v) for k, v in by_rule.items()},
        skipped=skipped,
    )


def failed_files(con: duckdb.DuckDBPyConnection, e: Entity) -> list[tuple[str, str]]:
    """(path, reason) of the entity's files that could not be read."""
    if not table_exists(con, "raw", "_files"):
        return []
    return [
        (r[0], r[1])
        for r in con.execute(
            "select path, error from raw._files where entity = ? and status = 'failed' "
            "order by path",
            [e.qualified],
        ).fetchall()
    ]


def quarantine_sample(
    con: duckdb.DuckDBPyConnection, e: Entity, limit: int = 5
) -> list[dict[str, object]]:
    rows = con.execute(
        f"""
        select _source_file, _source_line, _rule, _reason from quarantine.{e.qualified}
        order by _file_mtime, _source_file, _source_line limit {int(limit)}
        """
    ).fetchall()
    return [{"file": r[0], "line": int(r[1]), "rule": r[2], "reason": r[3]} for r in rows]
