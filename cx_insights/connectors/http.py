"""A small HTTP client for vendor APIs: retries as these APIs ask, secrets kept out of errors.

* HTTP 429: wait what `Retry-After` says (seconds or an HTTP date), else back off.
* HTTP 5xx, a reset connection, a timeout: exponential backoff, then give up.
* Any other 4xx: fail at once (a wrong token does not get better by retrying).

Every error message is redacted (`ConnectorSettings.redact`) before it is raised.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from cx_insights.connectors.settings import ConnectorError, redact

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class ApiError(ConnectorError):
    """A request that failed for good (after its retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: list[str] | None = None,
        max_attempts: int | None = None,
        backoff_seconds: float | None = None,
        max_wait_seconds: float | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "cx-insights", **(headers or {})})
        if auth:
            self.session.auth = auth
        self.secrets = [s for s in (secrets or []) if s]
        if auth:
            self.secrets.extend(a for a in auth if a)
        self.max_attempts = max_attempts or int(_float_env("CX_CONNECTOR_MAX_ATTEMPTS", 5))
        self.backoff = (
            backoff_seconds
            if backoff_seconds is not None
            else _float_env("CX_CONNECTOR_BACKOFF_SECONDS", 1.0)
        )
        self.max_wait = (
            max_wait_seconds
            if max_wait_seconds is not None
            else _float_env("CX_CONNECTOR_MAX_WAIT_SECONDS", 300.0)
        )
        self.timeout = timeout
        self.sleep = sleep
        self.requests_made = 0
        self.retries = 0

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _where(self, method: str, url: str) -> str:
        parts = urlsplit(url)
        return redact(f"{method} {parts.scheme}://{parts.netloc}{parts.path}", self.secrets)

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = self.url(path_or_url)
        where = self._where(method, url)
        for attempt in range(1, self.max_attempts + 1):
            self.requests_made += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                reason = redact(f"{type(exc).__name__}: {exc}", self.secrets)
                if attempt == self.max_attempts:
                    raise ApiError(f"{where} failed after {attempt} attempts: {reason}") from None
                self._wait(attempt, None, where, reason)
                continue
            if response.status_code < 400:
                return response
            status = response.status_code
            if status == 429 or status in RETRY_STATUSES:
                if attempt == self.max_attempts:
                    raise ApiError(
                        f"{where} failed after {attempt} attempts: HTTP {status} "
                        f"{self._body(response)}",
                        status,
                    )
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                self._wait(attempt, wait, where, f"HTTP {status}")
                continue
            raise ApiError(f"{where}: HTTP {status} {self._body(response)}", status)
        raise AssertionError("unreachable")

    def _body(self, response: requests.Response) -> str:
        text = (response.text or "").strip().replace("\n", " ")
        if len(text) > 300:
            text = text[:297] + "..."
        return redact(text, self.secrets)

    def _wait(self, attempt: int, retry_after: float | None, where: str, reason: str) -> None:
        self.retries += 1
        wait = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        wait = min(wait, self.max_wait)
        log.warning("%s: %s, retrying in %.1f s (attempt %d)", where, reason, wait, attempt)
        self.sleep(wait)

    def get_json(self, path_or_url: str, params: Any = None) -> Any:
        return self._json(self.request("GET", path_or_url, params=params))

    def post_json(self, path_or_url: str, body: Any = None) -> Any:
        return self._json(self.request("POST", path_or_url, json=body))

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            where = self._where(response.request.method or "GET", response.url)
            raise ApiError(f"{where}: the answer is not JSON: {self._body(response)}") from None
