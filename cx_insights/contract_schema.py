"""The words the landing contract is written in: columns, their Great
Expectations expectations, row rules (rejecting or waiting) and entities.

cx_insights.contract declares every entity with these; the quality gate, the
GX suites, the dbt sources and the generator all read that one declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "int", "decimal", "timestamp", "date", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = False
    #: Allowed values (compared after trimming and lower-casing).
    enum: tuple[str, ...] | None = None
    #: Personally identifiable: never leaves the raw layer.
    pii: bool = False
    #: What the column holds (the generated dbt sources' description).
    doc: str = ""
    #: The gate adds `<name>_hash`, a salted SHA-256 of the lower-cased, trimmed
    #: value, to the accepted table, so that the salt never reaches dbt.
    pseudonymise: bool = False


RuleKind = Literal["rejected", "waiting"]


@dataclass(frozen=True)
class Expectation:
    """A Great Expectations 1.x expectation (class name in `great_expectations.
    expectations` and its arguments) that confirms a rule on the accepted rows."""

    type: str
    kwargs: tuple[tuple[str, object], ...] = ()

    def arguments(self) -> dict[str, object]:
        return dict(self.kwargs)


def expect(type_: str, **kwargs: object) -> Expectation:
    return Expectation(type_, tuple(sorted(kwargs.items())))


def not_before(later: str, earlier: str) -> Expectation:
    """`later >= earlier` wherever both are present."""
    return expect(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


@dataclass(frozen=True)
class RowRule:
    """One rule of the contract on a single landed row, declared once.

    The gate's SQL, the Great Expectations suites, the generated dbt sources
    and the docs are all derived from these. `violated` and `reason` are SQL
    templates: `{t.col}` is the typed value of a contract column, `{landed.col}`
    its text as landed, `{ctx.name}` a value the gate joins in from another
    entity (`question_metric`, `question_scale_min`, `question_scale_max`,
    `response_exists`, `fx_first_date`), `{reporting_currency}` the setting.
    """

    name: str
    violated: str
    reason: str
    #: `rejected`: wrong in itself, counts toward the reject rate. `waiting`:
    #: valid, waits for another entity's rows, released when they arrive.
    kind: RuleKind = "rejected"
    #: What the rule means, in words (for the docs and the data-quality page).
    description: str = ""
    #: Expectations that confirm the rule on the accepted rows (none when the
    #: rule needs another entity's rows, which GX does not see).
    expectations: tuple[Expectation, ...] = ()


def ended_after_started(later: str = "ended_at", earlier: str = "started_at") -> RowRule:
    name = (
        "ended_after_started"
        if later == "ended_at"
        else f"{later.removesuffix('_at')}_after_created"
    )
    return RowRule(
        name,
        f"{{t.{later}}} < {{t.{earlier}}}",
        f"'{later} ' || {{landed.{later}}} || ' is before {earlier} ' || {{landed.{earlier}}}",
        description=f"{later}, when present, is not before {earlier}",
        expectations=(not_before(later, earlier),),
    )


def money_rules(money: str, when: str) -> tuple[RowRule, ...]:
    return (
        RowRule(
            "amount_has_currency",
            f"{{t.{money}}} is not null and {{t.currency}} is null",
            f"'an amount ({money}) needs a currency'",
            description=f"a {money} comes with its currency",
        ),
        RowRule(
            "fx_rate_exists",
            f"{{t.{money}}} is not null and {{t.currency}} <> {{reporting_currency}} "
            f"and ({{ctx.fx_first_date}} is null "
            f"or cast({{t.{when}}} as date) < {{ctx.fx_first_date}})",
            "'no fx rate for ' || {t.currency} || ' on or before ' "
            f"|| cast(cast({{t.{when}}} as date) as string) "
            "|| ' (the row waits here and is released when one arrives)'",
            kind="waiting",
            description=(
                f"a {money} in another currency than the reporting one needs a rate on or "
                f"before {when}"
            ),
        ),
    )


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    #: The column holding an amount measured at one date, and that date's
    #: column: such a row waits until its currency has a rate on or before it.
    money_column: str | None = None
    money_date_column: str | None = None
    description: str = ""
    #: The entity's own row rules (column rules: required, type, enum, date
    #: window, follow from `columns`).
    rules: tuple[RowRule, ...] = field(default_factory=tuple)

    @property
    def row_rules(self) -> tuple[RowRule, ...]:
        """Every entity-level rule: its own, then the money rules."""
        if self.money_column and self.money_date_column:
            return self.rules + money_rules(self.money_column, self.money_date_column)
        return self.rules

    @property
    def qualified(self) -> str:
        """`<source>__<entity>`: the table name in `raw` and `quarantine`."""
        return f"{self.source}__{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.qualified} has no column {name!r}")


def col(name: str, type_: ColumnType = "text", *, req: bool = False, **kw: object) -> Column:
    return Column(name, type_, req, **kw)  # type: ignore[arg-type]
