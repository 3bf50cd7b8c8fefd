"""Suites for the `web` source (analytics events)."""

from __future__ import annotations

import great_expectations as gx

from expectations._builder import build_suite


def suites() -> dict[str, gx.ExpectationSuite]:
    return {"web__events": build_suite("web__events")}
