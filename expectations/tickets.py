"""Suites for the `tickets` source (support desk)."""

from __future__ import annotations

import great_expectations as gx

from expectations._builder import build_suite, not_before


def suites() -> dict[str, gx.ExpectationSuite]:
    return {
        "tickets__tickets": build_suite(
            "tickets__tickets",
            lambda: [
                not_before("first_response_at", "created_at"),
                not_before("solved_at", "created_at"),
            ],
        )
    }
