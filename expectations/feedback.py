"""Suites for the `feedback` source (surveys: NPS, CSAT, CES, drivers, verbatims)."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations._builder import build_suite


def _answers() -> list[gxe.Expectation]:
    # Validated on answers joined to their question's scale (see
    # `expectations.runner.VALIDATION_QUERIES`): a numeric answer lies in it.
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="question_metric"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="value_number",
            column_B="scale_min",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="scale_max",
            column_B="value_number",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]


def _questions() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="scale_max",
            column_B="scale_min",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
        ),
    ]


def suites() -> dict[str, gx.ExpectationSuite]:
    return {
        "feedback__questions": build_suite("feedback__questions", _questions),
        "feedback__responses": build_suite("feedback__responses"),
        "feedback__answers": build_suite("feedback__answers", _answers),
    }
