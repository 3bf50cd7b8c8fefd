"""The contract's row rules as SQL: typing landed text, and one predicate and
reason per rule (`cx_insights.contract` declares them; the gate runs them).

`rules_for(entity, options)` lists every rule of an entity, each a SQL
predicate over the gate query's columns (`landed.<column>` as landed,
`__t_<column>` typed) that is true when the row breaks it, and the SQL text of
its `_reason`. The settings a verdict depends on (reporting currency, PII
salt, the window of plausible dates) are GateOptions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cx_insights.config import DEFAULT_EARLIEST_DATE, DEV_PII_SALT, Settings
from cx_insights.contract import (
    MONEY_COLUMN,
    OBSERVED_AT_COLUMNS,
    SQL_TYPES,
    Entity,
    accepted_table,
    entity,
)
from cx_insights.warehouse import quote_ident, sql_literal

#: Bumped when the rules or the accepted tables change: the next run re-gates every row.
GATE_VERSION = 5


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


def as_options(options: GateOptions | str) -> GateOptions:
    """Options from GateOptions or a bare reporting currency (tests)."""
    return GateOptions(reporting_currency=options) if isinstance(options, str) else options


#: Rules whose verdict can change with the run date alone: rows they quarantined
#: are checked again by every gate.
DATED_RULE_PREFIX = "timestamp_in_window:"


@dataclass(frozen=True)
class Rule:
    name: str
    violated: str  # SQL predicate, true when the row breaks the rule
    reason: str  # SQL expression: the message stored in `_reason`


#: What the contract calls a timestamp (landing-contract.md: ISO 8601), after trimming:
#: a date, optionally a time (hours 0-23 or 24:00, seconds optional, any fraction), and an
#: offset (`Z`, `+hh`, `+hhmm`, `+hh:mm`) or ` UTC` (BigQuery's and GA4's exports).
#: Both engines type only values of this shape, so their casts' own extras (DuckDB:
#: `infinity`, time zone names, years of five digits; Spark: `2024`,
#: `2024-01`, a bare `T10`) never decide a row. Written without backslashes: the
#: same text is a DuckDB (RE2) and a Spark (Java) pattern.
TIMESTAMP_SHAPE = (
    "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    "([T ](([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?|24:00(:00([.]0+)?)?)"
    "(Z| UTC|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
#: A date: `YYYY-MM-DD` (a month or day of one digit is read too).
DATE_SHAPE = "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
#: A decimal number: sign, digits with an optional point, an optional exponent. Not
#: digit groups (`1_000`, `1,000`), hex, NaN/Infinity or other scripts' digits.
DECIMAL_SHAPE = "[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?"
#: A whole number; `5.0` (a float column's export) is 5, `5.5` is not a whole number.
INT_SHAPE = "[+-]?[0-9]+([.]0*)?"
#: A value whose time has minutes but no seconds (`T10:00Z`): `:00` is added before
#: casting (ISO 8601 allows it; neither engine's cast reads it).
_MINUTES_ONLY = "^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{2})(Z| UTC|[+-].*)?$"
#: `24:00` (ISO 8601's end of a day): read as 23:00 plus an hour, the next midnight
#: (neither engine's cast reads it the same way: DuckDB does, Spark does not).
_END_OF_DAY = "[T ]24:"
#: A value ending in an offset: its hours and minutes (a UTC offset runs from -12:00
#: to +14:00; both engines' casts accept larger ones, such as a typo +99:00).
_OFFSET = "[T ][0-9:.]+[+-]([0-9]{2}):?([0-9]{2})?$"
_ENDS_IN_OFFSET = "[+-][0-9]{2}:?([0-9]{2})?$"

#: SQL dialects the gate's rules are written in.
DIALECTS = ("duckdb", "spark")


class _Dialect:
    """The few constructs the typing needs that DuckDB and Spark spell differently."""

    def __init__(self, name: str) -> None:
        if name not in DIALECTS:
            raise ValueError(f"unknown SQL dialect {name!r}: one of {DIALECTS}")
        self.name = name

    def full_match(self, value: str, pattern: str) -> str:
        if self.name == "spark":
            return f"({value} rlike {sql_literal('^(' + pattern + ')$')})"
        return f"regexp_full_match({value}, {sql_literal(pattern)})"

    def search(self, value: str, pattern: str) -> str:
        if self.name == "spark":
            return f"({value} rlike {sql_literal(pattern)})"
        return f"regexp_matches({value}, {sql_literal(pattern)})"

    def add_seconds(self, value: str) -> str:
        """`_MINUTES_ONLY` values with `:00` added (others unchanged)."""
        first, second = ("$1", "$2") if self.name == "spark" else ("\\1", "\\2")
        return f"regexp_replace({value}, {sql_literal(_MINUTES_ONLY)}, '{first}:00{second}')"

    @property
    def timestamp(self) -> str:
        """The contract's timestamp: UTC wall time, no zone."""
        return "timestamp_ntz" if self.name == "spark" else "timestamp"

    def parse_timestamp(self, value: str) -> str:
        """Text of TIMESTAMP_SHAPE as the UTC wall time (an offset applied)."""
        if self.name == "spark":
            # With the session in UTC, the instant's wall time there.
            return f"cast(try_cast({value} as timestamp) as timestamp_ntz)"
        return f"cast(try_cast({value} as timestamptz) as timestamp)"


def typed_expr(column: str, type_: str, *, enum: bool = False, dialect: str = "duckdb") -> str:
    """SQL typing the landed text of `column` (null when it does not parse), in
    `dialect` (the same value in either: tests/test_spark_gate.py)."""
    d = _Dialect(dialect)
    c = "landed." + quote_ident(column)
    s = f"trim({c})"
    if type_ == "timestamp":
        # A value with an offset is converted to UTC; one without is taken as UTC
        # (the session time zone is UTC).
        offset_minutes = (
            f"coalesce(try_cast(regexp_extract({s}, {sql_literal(_OFFSET)}, 1) as int) * 60 "
            f"+ coalesce(try_cast(regexp_extract({s}, {sql_literal(_OFFSET)}, 2) as int), 0), 0)"
        )

        def parse(v: str) -> str:
            return f"coalesce({d.parse_timestamp(v)}, {d.parse_timestamp(d.add_seconds(v))})"

        late = f"regexp_replace({s}, {sql_literal(_END_OF_DAY)}, 'T23:')"
        parse_any = (
            # (substring tests: cheaper than a regex on every value; the shape above
            # allows `24:` only as the hour)
            f"case when contains({s}, 'T24:') or contains({s}, ' 24:') "
            f"then {parse(late)} + interval 1 hour "
            f"else {parse(s)} end"
        )
        # Most values end in Z or carry no offset: one regex test tells them apart, and
        # only a value ending in an offset pays for reading it (the same result; the
        # typing of 5 M event times 0.8 s -> 0.5 s).
        return (
            f"case when {d.full_match(s, TIMESTAMP_SHAPE)} then "
            f"case when not {d.search(s, _ENDS_IN_OFFSET)} then {parse_any} "
            f"when {offset_minutes} <= 840 then {parse_any} end end"
        )
    if type_ == "text":
        if enum:
            return f"lower({s})"
        if column == "currency":
            return f"upper({s})"
        if column.endswith("_id"):
            # Identifiers are compared trimmed: ' C1 ' is customer C1.
            return f"nullif({s}, '')"
        return c
    if type_ == "decimal":
        wide = f"try_cast({s} as {SQL_TYPES[type_]})"
        if d.name == "duckdb":
            # Parsing text straight to decimal(38, 9) (a 128-bit integer) is about 50x
            # slower in DuckDB than to decimal(18, 9); the wide parse only runs for the
            # values the narrow one cannot hold (|x| >= 1e9). The results are identical.
            wide = f"coalesce(cast(try_cast({s} as decimal(18, 9)) as {SQL_TYPES[type_]}), {wide})"
        return f"case when {d.full_match(s, DECIMAL_SHAPE)} then {wide} end"
    if type_ == "int":
        # Whole numbers only: the casts round '5.5' to 6 (DuckDB) or read '0x10',
        # '1_000' and '1e3'.
        whole = f"regexp_replace({s}, {sql_literal('[.]0*$')}, '')"
        return f"case when {d.full_match(s, INT_SHAPE)} then try_cast({whole} as bigint) end"
    if type_ == "date":
        return f"case when {d.full_match(s, DATE_SHAPE)} then try_cast({s} as date) end"
    return f"try_cast({s} as {SQL_TYPES[type_]})"


def t(column: str) -> str:
    """The typed value of a column inside the gate query."""
    return quote_ident(f"__t_{column}")


def _column_rules(e: Entity, options: GateOptions, dialect: str) -> list[Rule]:
    ts = _Dialect(dialect).timestamp
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
        too_late = f" or {t(c.name)} >= cast({latest} as {ts})" if c.name in observed else ""
        bounds = (
            f"before {options.earliest.isoformat()} or after {options.latest - timedelta(1)}"
            if too_late
            else f"before {options.earliest.isoformat()}"
        )
        rules.append(
            Rule(
                f"{DATED_RULE_PREFIX}{c.name}",
                f"({t(c.name)} < cast({earliest} as {ts}){too_late})",
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


def rules_for(e: Entity, options: GateOptions | str, dialect: str = "duckdb") -> list[Rule]:
    """Every row rule of the entity, in the order they are reported (the contract's
    own rule templates are SQL both dialects read alike)."""
    options = as_options(options)
    return _column_rules(e, options, dialect) + _entity_rules(e, options.reporting_currency)


def context_joins(
    e: Entity, dialect: str = "duckdb", accepted: Callable[[Entity], str] | None = None
) -> tuple[str, str]:
    """The context values some rules need: (select list, from clause). `accepted`
    gives the relation of an entity's accepted rows (default `raw.<x>__accepted`)."""
    q = e.qualified
    accepted = accepted or (lambda other: "raw." + accepted_table(other))
    if q == "feedback__answers":
        questions = accepted(entity("feedback__questions"))
        responses = accepted(entity("feedback__responses"))
        question_id = typed_expr("question_id", "text", dialect=dialect)
        response_id = typed_expr("response_id", "text", dialect=dialect)
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
        fx = accepted(entity("framework__fx_rates"))
        return (
            f", fx.first_rate_date as {_ctx('fx_first_date')}",
            f" left join (select currency, min(rate_date) as first_rate_date from {fx} "
            f"group by currency) as fx on fx.currency = "
            f"{typed_expr('currency', 'text', dialect=dialect)}",
        )
    return "", ""
