"""Great Expectations 1.x suites built from the landing contract.

The contract (`cx_insights.contract`) is the single source of truth: the gate
derives its row-level SQL predicates from it (`orchestration/defs/quality/
gate.py`) and these suites re-state the same rules as expectations, which
confirm the accepted rows before any model reads them.
"""

from __future__ import annotations

from collections.abc import Callable

import great_expectations as gx
import great_expectations.expectations as gxe

from cx_insights.contract import Entity, entity

ExpectationList = list[gxe.Expectation]


def contract_expectations(e: Entity) -> ExpectationList:
    """What every entity's suite says: required, enums, key uniqueness."""
    found: ExpectationList = [
        gxe.ExpectColumnValuesToNotBeNull(column=c) for c in e.required_columns
    ]
    found += [
        gxe.ExpectColumnValuesToBeInSet(column=c.name, value_set=list(c.enum))
        for c in e.columns
        if c.enum
    ]
    if len(e.key) == 1:
        found.append(gxe.ExpectColumnValuesToBeUnique(column=e.key[0]))
    else:
        found.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(e.key)))
    return found


def not_before(later: str, earlier: str) -> gxe.Expectation:
    """`later >= earlier` where both are present."""
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing"
    )


def build_suite(
    qualified: str, extra: Callable[[], ExpectationList] | None = None
) -> gx.ExpectationSuite:
    e = entity(qualified)
    # Expectations are given to the constructor: adding them one by one needs a
    # data context, and the suites are built before one exists.
    return gx.ExpectationSuite(
        name=qualified, expectations=contract_expectations(e) + (extra() if extra else [])
    )
