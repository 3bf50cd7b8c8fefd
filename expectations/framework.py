"""Suites for the `framework` source (the CX Insights Framework itself)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations._builder import build_suite, not_before


def suites() -> dict[str, gx.ExpectationSuite]:
    return {
        "framework__fx_rates": build_suite(
            "framework__fx_rates",
            lambda: [
                gxe.ExpectColumnValuesToBeBetween(
                    column="rate_to_reporting", min_value=0, strict_min=True
                )
            ],
        ),
        "framework__journeys": build_suite("framework__journeys"),
        "framework__jobs": build_suite("framework__jobs"),
        "framework__touchpoints": build_suite("framework__touchpoints"),
        "framework__touchpoint_rules": build_suite("framework__touchpoint_rules"),
        "framework__initiatives": build_suite(
            "framework__initiatives", lambda: [not_before("ended_at", "started_at")]
        ),
    }
