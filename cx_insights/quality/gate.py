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
from datetime import UTC, date, datetime, timedelta

import duckdb

from cx_insights.config import DEFAULT_EARLIEST_DATE, DEV_PII_SALT, Settings
from cx_insights.contract import (
    MONEY_COLUMN,
    OBSERVED_AT_COLUMNS,
    SQL_TYPES,
    WAITING_RULES,
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

#: Bumped when the rules or the accepted tables change: the next run re-gates every row.
GATE_VERSION = 4


@dataclass(frozen=True)
class GateOptions:
    """The settings the gate's verdicts depend on."""

    reporting_currency: str = "EUR"
    #: Salt of the e-mail pseudonyms (`email_hash`), applied here so that it is
    #: never written into a model, a view or dbt's target folder.
    pii_salt: str = DEV_PII_SALT
    #: Timestamps before this date are rejected (`timestamp_in_window:<column>`).
    earliest: date = DEFAULT_EARLIEST_DATE
    #: Observed timestamps after the run date plus this many days are rejected.
    days_ahead: int = 1
    #: The run date (today, UTC, unless a test pins it).
    today: date | None = None

    @property
    def latest(self) -> date:
        """The first date an observed timestamp may not reach."""
        return (self.today or datetime.now(UTC).date()) + timedelta(days=self.days_ahead + 1)

    def key(self) -> str:
        """What a re-gate of every row depends on (the salt only as a digest)."""
        salt = hashlib.sha256(f"cx-insights gate key\0{self.pii_salt}".encode()).hexdigest()
        return json.dumps(
            {
                "ccy": self.reporting_currency,
                "v": GATE_VERSION,
                "salt": salt[:16],
                "earliest": self.earliest.isoformat(),
                "ahead": self.days_ahead,
            },
            sort_keys=True,
        )


def gate_options(settings: Settings) -> GateOptions:
    """The gate's options from the run's settings."""
    return GateOptions(
        reporting_currency=settings.reporting_currency,
        pii_salt=settings.pii_salt,
        earliest=settings.earliest_date,
        days_ahead=settings.days_ahead,
    )


def _options(options: GateOptions | str) -> GateOptions:
    return GateOptions(reporting_currency=options) if isinstance(options, str) else options


#: Rules whose verdict can change with the run date alone: rows they quarantined
#: are checked again by every gate.
DATED_RULE_PREFIX = "timestamp_in_window:"

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
    rows_waiting: int = 0
    skipped: bool = False
    mode: str = "skipped"  # full | delta | skipped
    plan_reason: str = "unchanged input"
    rows_checked: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_landed == self.rows_accepted + self.rows_quarantined

    @property
    def rows_rejected(self) -> int:
        """Quarantined rows that are wrong in themselves (not merely waiting)."""
        return self.rows_quarantined - self.rows_waiting

    @property
    def reject_rate(self) -> float:
        """Rejected rows over landed rows; waiting rows never count."""
        return self.rows_rejected / self.rows_landed if self.rows_landed else 0.0


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
        # UTC offsets run from -12:00 to +14:00; DuckDB accepts up to +-15:59 and
        # more, so a larger offset (a typo such as +99:00) is not a valid timestamp.
        offset = r"'[T ][0-9:.,]+[+-]([0-9]{2}):?([0-9]{2})?$'"
        offset_minutes = (
            f"coalesce(try_cast(regexp_extract(trim({c}), {offset}, 1) as int) * 60 "
            f"+ coalesce(try_cast(regexp_extract(trim({c}), {offset}, 2) as int), 0), 0)"
        )
        return (
            f"case when {offset_minutes} <= 840 then "
            f"cast(coalesce(try_cast(trim({c}) as timestamptz), "
            f"try_cast({minutes_only} as timestamptz)) as timestamp) end"
        )
    if type_ == "text":
        if enum:
            return f"lower(trim({c}))"
        if column == "currency":
            return f"upper(trim({c}))"
        if column.endswith("_id"):
            # Identifiers are compared trimmed: ' C1 ' is customer C1.
            return f"nullif(trim({c}), '')"
        return c
    if type_ == "decimal":
        # Parsing text straight to decimal(38, 9) (a 128-bit integer) is about 50x
        # slower in DuckDB than to decimal(18, 9); the wide parse only runs for the
        # values the narrow one cannot hold (|x| >= 1e9, or not a number). The
        # results are identical.
        # DuckDB's cast also reads '1_000' (digit groups): not a number in a file.
        return (
            f"case when not contains({c}, '_') then "
            f"coalesce(cast(try_cast(trim({c}) as decimal(18, 9)) as {SQL_TYPES[type_]}), "
            f"try_cast(trim({c}) as {SQL_TYPES[type_]})) end"
        )
    if type_ == "int":
        # Whole numbers only: DuckDB's cast rounds '5.5' to 6 and reads '0x10',
        # '0b11', '1_000' and '1e3'. '5.0' (a float column's export) is 5.
        return (
            rf"case when regexp_full_match(trim({c}), '[+-]?[0-9]+(\.0*)?') then "
            rf"try_cast(regexp_replace(trim({c}), '\.0*$', '') as {SQL_TYPES[type_]}) end"
        )
    return f"try_cast(trim({c}) as {SQL_TYPES[type_]})"


def t(column: str) -> str:
    """The typed value of a column inside the gate query."""
    return quote_ident(f"__t_{column}")


def _column_rules(e: Entity, options: GateOptions) -> list[Rule]:
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
                    f"nullif(trim({quote_ident(c.name)}), '') is null",
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
    observed = OBSERVED_AT_COLUMNS.get(e.qualified, ())
    earliest, latest = (
        sql_literal(options.earliest.isoformat()),
        sql_literal(options.latest.isoformat()),
    )
    for c in e.columns:
        if c.type not in ("timestamp", "date"):
            continue
        too_late = f" or {t(c.name)} >= {latest}::timestamp" if c.name in observed else ""
        bounds = (
            f"before {options.earliest.isoformat()} or after {options.latest - timedelta(1)}"
            if too_late
            else f"before {options.earliest.isoformat()}"
        )
        rules.append(
            Rule(
                f"{DATED_RULE_PREFIX}{c.name}",
                f"({t(c.name)} < {earliest}::timestamp{too_late})",
                f"'{c.name} ' || {quote_ident(c.name)} || ' is {bounds} (a typo or a "
                "placeholder, not data; see CX_EARLIEST_DATE and CX_DAYS_AHEAD)'",
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


class _Names:
    """`{x.name}` in a rule template: the SQL name of `name` (checked to exist)."""

    def __init__(self, render, allowed: tuple[str, ...] | None = None) -> None:
        self._render, self._allowed = render, allowed

    def __getattr__(self, name: str) -> str:
        if self._allowed is not None and name not in self._allowed:
            raise KeyError(f"a rule template names {name!r}, which is not one of {self._allowed}")
        return self._render(name)


#: Values the gate joins in from other entities' accepted rows, for the rules of
#: the entities that need them (`{ctx.<name>}` in a rule template).
CONTEXT_VALUES = (
    "question_metric",
    "question_scale_min",
    "question_scale_max",
    "response_exists",
    "fx_first_date",
)


def _ctx(name: str) -> str:
    return quote_ident(f"__ctx_{name}")


def render_rule(template: str, e: Entity, reporting_currency: str) -> str:
    """A rule template of the contract as SQL over the gate's typed row."""
    return template.format(
        t=_Names(t, e.column_names),
        landed=_Names(quote_ident, e.column_names),
        ctx=_Names(_ctx, CONTEXT_VALUES),
        reporting_currency=sql_literal(reporting_currency),
    )


def _entity_rules(e: Entity, reporting_currency: str) -> list[Rule]:
    """The entity's own rules of the contract (`Entity.row_rules`), as SQL."""
    return [
        Rule(
            r.name,
            render_rule(r.violated, e, reporting_currency),
            render_rule(r.reason, e, reporting_currency),
        )
        for r in e.row_rules
    ]


def rules_for(e: Entity, options: GateOptions | str) -> list[Rule]:
    """Every row rule of the entity, in the order they are reported."""
    options = _options(options)
    return _column_rules(e, options) + _entity_rules(e, options.reporting_currency)


def _context_joins(e: Entity) -> tuple[str, str]:
    """The context values some rules need: (select list, from clause)."""
    q = e.qualified
    if q == "feedback__answers":
        questions = "raw." + accepted_table(entity("feedback__questions"))
        responses = "raw." + accepted_table(entity("feedback__responses"))
        question_id = typed_expr("question_id", "text")
        response_id = typed_expr("response_id", "text")
        return (
            f", question.metric as {_ctx('question_metric')}, "
            f"question.scale_min as {_ctx('question_scale_min')}, "
            f"question.scale_max as {_ctx('question_scale_max')}, "
            f"response.response_id is not null as {_ctx('response_exists')}",
            f" left join {questions} as question on question.question_id = {question_id}"
            f" left join (select distinct response_id from {responses}) as response"
            f" on response.response_id = {response_id}",
        )
    if q in MONEY_COLUMN:
        fx = "raw." + accepted_table(entity("framework__fx_rates"))
        return (
            f", fx.first_rate_date as {_ctx('fx_first_date')}",
            f" left join (select currency, min(rate_date) as first_rate_date from {fx} "
            f"group by currency) as fx on fx.currency = {typed_expr('currency', 'text')}",
        )
    return "", ""


def fingerprint(con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions | str) -> str:
    """A hash of everything the gate's output depends on (the run date too, while
    rows wait in quarantine for being dated in the future)."""
    options = _options(options)
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
    options = _options(options)
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
) -> GateResult:
    """Split the landed rows into quarantine and accepted (latest per key).

    Unchanged input is skipped; new files alone are gated as a delta (only
    their rows, merged into the accepted rows by key and recency); anything
    else re-gates every row. Both paths give the same tables.
    """
    options = _options(options)
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

    checked_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    gated_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("set variable cx_pii_salt = ?", [options.pii_salt])
    con.execute("begin transaction")
    try:
        if the_plan.mode == "full":
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


def _checked_sql(con: duckdb.DuckDBPyConnection, e: Entity, options: GateOptions, landed: str):
    """The rows of `landed` (a table or subquery), typed, with `_rule` and `_reason`."""
    rules = rules_for(e, options)
    typed = ", ".join(
        f"{typed_expr(c.name, c.type, enum=bool(c.enum))} as {t(c.name)}" for c in e.columns
    )
    extra_select, joins = _context_joins(e)
    rule_case = " ".join(f"when {r.violated} then {sql_literal(r.name)}" for r in rules)
    reason_case = " ".join(f"when {r.violated} then {r.reason}" for r in rules)
    landed_cols = ", ".join(
        f"landed.{quote_ident(c)}" for c in table_columns(con, "raw", e.qualified)
    )
    return f"""(
        with typed as (
            select {landed_cols}, {typed} {extra_select}
            from {landed} as landed {joins}
        )
        select *,
            case {rule_case} end as _rule,
            case {reason_case} end as _reason
        from typed
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
    checked: str,
    gated_at: datetime,
    target: str,
    *,
    with_mtime: bool = False,
) -> None:
    """Insert into `target` the accepted rows of `checked`, one per key: the latest
    (file mtime, file, line).

    Most keys arrive once. Those stream straight through; only the keys that
    occur more than once go through the window. `checked` is read as a
    subquery, never materialised: at 50 M rows a temp table of typed rows is
    what made the gate spill to disk.
    """
    key = ", ".join(t(k) for k in e.key)
    select = _accepted_select(e, gated_at, with_mtime=with_mtime)
    con.execute(
        f"""
        create or replace temp table _gate_repeated as
        select {key} from {checked} as checked where _rule is null
        group by {key} having count(*) > 1
        """
    )
    con.execute(
        f"""
        insert into {target}
        {select} from {checked} as checked anti join _gate_repeated using ({key})
        where _rule is null
        """
    )
    con.execute(
        f"""
        insert into {target}
        {select} from (
            select * from {checked} as checked semi join _gate_repeated using ({key})
            where _rule is null
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
    con.execute(f"create or replace table quarantine.{e.qualified} as {_quarantine_empty(con, e)}")
    checked = _checked_sql(con, e, options, f"raw.{e.qualified}")
    _quarantine(con, e, checked, gated_at)
    con.execute(f"delete from raw.{accepted_table(e)}")
    _latest_accepted(con, e, checked, gated_at, f"raw.{accepted_table(e)}")
    return int(con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0])


def _quarantine_empty(con: duckdb.DuckDBPyConnection, e: Entity) -> str:
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
    _latest_accepted(con, e, "_gate", gated_at, "_gate_winners", with_mtime=True)
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


def gate_counts(con: duckdb.DuckDBPyConnection, e: Entity, *, skipped: bool) -> GateResult:
    landed = con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0]
    quarantined = con.execute(f"select count(*) from quarantine.{e.qualified}").fetchone()[0]
    current = con.execute(f"select count(*) from raw.{accepted_table(e)}").fetchone()[0]
    by_rule = dict(
        con.execute(
            f"select _rule, count(*) from quarantine.{e.qualified} group by _rule order by _rule"
        ).fetchall()
    )
    waiting = sum(int(n) for rule, n in by_rule.items() if rule in WAITING_RULES)
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
        rows_waiting=waiting,
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
    con: duckdb.DuckDBPyConnection, e: Entity, limit: int = 5, *, rejected_only: bool = False
) -> list[dict[str, object]]:
    waiting = ", ".join(sql_literal(r) for r in sorted(WAITING_RULES))
    where = f"where _rule not in ({waiting})" if rejected_only else ""
    rows = con.execute(
        f"""
        select _source_file, _source_line, _rule, _reason from quarantine.{e.qualified}
        {where} order by _file_mtime, _source_file, _source_line limit {int(limit)}
        """
    ).fetchall()
    return [{"file": r[0], "line": int(r[1]), "rule": r[2], "reason": r[3]} for r in rows]


def reporting_currency_problem(con: duckdb.DuckDBPyConnection, currency: str) -> str | None:
    """Why the fx table cannot convert to `currency` (CX_REPORTING_CURRENCY), or None.

    Rates are "1 unit of currency = this many units of the reporting currency",
    so the reporting currency itself, where listed, has rate 1; and a table
    that gives another currency rate 1 on every date and never lists the
    reporting currency converts to that other currency.
    """
    fx = "raw." + accepted_table(entity("framework__fx_rates"))
    if not table_exists(con, "raw", accepted_table(entity("framework__fx_rates"))):
        return None
    rates = con.execute(
        f"select currency, min(rate_to_reporting), max(rate_to_reporting) from {fx} "
        "group by currency order by currency"
    ).fetchall()
    own = [r for r in rates if r[0] == currency]
    if own and (own[0][1] != 1 or own[0][2] != 1):
        return (
            f"CX_REPORTING_CURRENCY={currency}, but framework/fx_rates gives {currency} rates "
            f"from {own[0][1]:g} to {own[0][2]:g}, not 1: the table converts to another currency"
        )
    base = [r[0] for r in rates if r[1] == 1 and r[2] == 1 and r[0] != currency]
    if not own and base:
        return (
            f"CX_REPORTING_CURRENCY={currency}, but framework/fx_rates converts to {base[0]} "
            f"({base[0]} has rate 1 on every date and {currency} is not listed): set "
            f"CX_REPORTING_CURRENCY={base[0]} or supply rates into {currency}"
        )
    return None
