"""Great Expectations 1.x suites derived from the landing contract.

The contract (`cx_insights.contract`) is the one definition of every rule:
the gate renders each rule as SQL, and these suites state the same rules as
expectations (required columns, enums, the key, and each `RowRule`'s
`expectations`), which confirm the accepted rows before any model reads them.
Nothing here is written by hand per entity.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from cx_insights.contract import ENTITIES, Entity

ExpectationList = list[gxe.Expectation]


def contract_expectations(e: Entity) -> ExpectationList:
    """Every expectation the contract gives the entity's accepted rows."""
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
    for rule in e.row_rules:
        for spec in rule.expectations:
            found.append(getattr(gxe, spec.type)(**spec.arguments()))
    return found


def build_suite(e: Entity) -> gx.ExpectationSuite:
    # Expectations are given to the constructor: adding them one by one needs a
    # data context, and the suites are built before one exists.
    return gx.ExpectationSuite(name=e.qualified, expectations=contract_expectations(e))


def all_suites() -> dict[str, gx.ExpectationSuite]:
    return {e.qualified: build_suite(e) for e in ENTITIES}
