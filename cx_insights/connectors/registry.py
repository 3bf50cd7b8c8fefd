"""Every connector, by name, and which of them the environment configures."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cx_insights.connectors import appstore, ga4, posthog, qualtrics, stripe, zendesk
from cx_insights.connectors.settings import ConnectorSpec

CONNECTORS: dict[str, ConnectorSpec] = {
    spec.name: spec
    for spec in (zendesk.SPEC, stripe.SPEC, qualtrics.SPEC, ga4.SPEC, posthog.SPEC, appstore.SPEC)
}


def configured(env: Mapping[str, str] | None = None) -> list[ConnectorSpec]:
    """The connectors whose required settings are all present (none on the sample drop)."""
    env = os.environ if env is None else env
    return [spec for spec in CONNECTORS.values() if spec.is_configured(env)]


def unconfigured(env: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Connectors with some but not all of their settings: name -> missing variables."""
    env = os.environ if env is None else env
    partial = {}
    for spec in CONNECTORS.values():
        missing = spec.missing(env)
        if missing and len(missing) < len(spec.required):
            partial[spec.name] = missing
    return partial
