"""What every stub shares: JSON answers, auth checks, injected faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from werkzeug import Request, Response


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
    )


@dataclass
class Faults:
    """Faults a stub injects, by request count of one endpoint."""

    #: Answer the first request of these endpoints with 429 and `Retry-After: 1`.
    rate_limit_once: set[str] = field(default_factory=set)
    #: Answer these (endpoint, page number from 1) with 500, every time, until healed.
    failing_pages: set[tuple[str, int]] = field(default_factory=set)
    #: Answer the first request of these endpoints with 503 once (retried with backoff).
    flaky_once: set[str] = field(default_factory=set)
    seen: dict[str, int] = field(default_factory=dict)

    def check(self, endpoint: str, page: int | None = None) -> Response | None:
        count = self.seen.get(endpoint, 0) + 1
        self.seen[endpoint] = count
        if endpoint in self.rate_limit_once:
            self.rate_limit_once.discard(endpoint)
            return json_response(
                {"error": "APIRateLimitExceeded"}, 429, headers={"Retry-After": "1"}
            )
        if endpoint in self.flaky_once:
            self.flaky_once.discard(endpoint)
            return json_response({"error": "temporarily unavailable"}, 503)
        if page is not None and (endpoint, page) in self.failing_pages:
            return json_response({"error": "InternalError", "description": "boom"}, 500)
        return None


def bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else ""
