"""Suites for the `crm` source (customers, subscriptions, invoices)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations._builder import build_suite, not_before


def suites() -> dict[str, gx.ExpectationSuite]:
    return {
        "crm__customers": build_suite("crm__customers"),
        "crm__subscriptions": build_suite(
            "crm__subscriptions",
            lambda: [
                gxe.ExpectColumnValuesToBeBetween(column="mrr", min_value=0),
                not_before("ended_at", "started_at"),
            ],
        ),
        "crm__invoices": build_suite("crm__invoices"),
    }
