"""Each connector's settings, from environment variables, and the redaction of its secrets."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

REDACTED = "***"


class ConnectorError(RuntimeError):
    """A pull that could not complete. Its message never holds a secret."""


@dataclass(frozen=True)
class ConnectorSettings:
    """The settings of one connector, as read from the environment."""

    name: str
    values: Mapping[str, str]
    secret_names: tuple[str, ...] = ()
    base_url: str = ""

    def get(self, var: str, default: str = "") -> str:
        return self.values.get(var) or default

    def secrets(self) -> list[str]:
        """Every secret value and the encodings in which it travels (HTTP basic auth)."""
        found: list[str] = []
        for var in self.secret_names:
            value = self.values.get(var)
            if value:
                found.append(value)
        return found

    def redact(self, text: object) -> str:
        return redact(str(text), self.secrets())


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def basic_auth_token(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class ConnectorSpec:
    """What a connector needs and what it offers.

    `build_source(settings, run)` returns the dlt source; it must not touch the
    network (resources are lazy generators).
    """

    name: str
    title: str
    required: tuple[str, ...]
    secret_names: tuple[str, ...]
    resources: tuple[str, ...]
    build_source: Callable[..., object]
    optional: tuple[str, ...] = ()
    #: Default base URL from the settings (None: the connector has no HTTP API).
    default_base_url: Callable[[Mapping[str, str]], str] | None = None
    #: What each resource lands, for the docs and the Dagster asset descriptions.
    lands: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url_var(self) -> str:
        return f"{self.name.upper()}_BASE_URL"

    def missing(self, env: Mapping[str, str]) -> list[str]:
        return [var for var in self.required if not (env.get(var) or "").strip()]

    def is_configured(self, env: Mapping[str, str] | None = None) -> bool:
        return not self.missing(os.environ if env is None else env)

    def settings(self, env: Mapping[str, str] | None = None) -> ConnectorSettings:
        env = os.environ if env is None else env
        names = (*self.required, *self.optional, self.base_url_var)
        values = {var: env[var].strip() for var in names if (env.get(var) or "").strip()}
        base = values.get(self.base_url_var) or (
            self.default_base_url(values) if self.default_base_url else ""
        )
        return ConnectorSettings(self.name, values, self.secret_names, base.rstrip("/"))
