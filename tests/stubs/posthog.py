"""PostHog Query API stub.

`POST /api/projects/{project_id}/query/` with `{"query": {"kind": "HogQLQuery",
"query": "SELECT ... FROM events WHERE ... ORDER BY ... LIMIT n"}}` ->
`{"columns": [...], "results": [[...]], "types": [...], "hasMore": bool,
"limit": n, "offset": 0}`. The stub understands the WHERE clauses the connector
writes (time window, keyset cursor, excluded events) and nothing else: any other
query is a 400, as a HogQL syntax error would be.
https://posthog.com/docs/api/query  Authentication: `Authorization: Bearer <personal API key>`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from werkzeug import Request, Response

from tests.stubs.common import Faults, bearer, json_response

API_KEY = "phx_stubPersonalKey0042"
PROJECT = "4242"
T0 = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
_TS = r"toDateTime64\('([0-9: .-]+)', 6, 'UTC'\)"


def _uuid(n: int) -> str:
    return str(uuid.UUID(int=0x0190_0000_0000_7000_8000_000000000000 + n))


def event(n: int, minute: float, name: str, device: str, session: str, path: str, **props) -> dict:
    at = T0 + timedelta(minutes=minute)
    return {
        "uuid": _uuid(n),
        "event": name,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "distinct_id": props.pop("distinct_id", device),
        "properties": {
            "$device_id": device,
            "$session_id": session,
            "$current_url": f"https://app.example.com{path}?ref=mail",
            "$pathname": path,
            "$lib": "web",
            **props,
        },
    }


#: Three sessions on 2026-10-14: d1 signs in (identified as cus_US1), adds to cart and
#: orders (`order_completed`, 30 EUR); d2 views one page (a bounce); d3 views a page and
#: adds to cart. Two events PostHog keeps for itself are not read.
#: sessions 3, conversion 33.3 %, bounce 33.3 %, cart abandonment 50 %.
EVENTS = [
    event(1, 0, "$pageview", "d1", "s1", "/"),
    event(2, 0.5, "$identify", "d1", "s1", "/", distinct_id="cus_US1"),
    event(3, 1, "add_to_cart", "d1", "s1", "/cart", distinct_id="cus_US1"),
    event(
        4,
        3,
        "order_completed",
        "d1",
        "s1",
        "/done",
        distinct_id="cus_US1",
        revenue=30,
        currency="eur",
    ),
    event(5, 10, "$pageview", "d2", "s2", "/pricing"),
    event(6, 10, "$feature_flag_called", "d2", "s2", "/pricing"),
    event(7, 20, "$pageview", "d3", "s3", "/shop"),
    event(8, 21, "add_to_cart", "d3", "s3", "/cart"),
]


class PostHogStub:
    def __init__(self) -> None:
        self.faults = Faults()
        self.events = list(EVENTS)
        self.queries: list[str] = []

    def add(self, e: dict) -> None:
        self.events.append(e)

    def handle(self, request: Request) -> Response:
        if bearer(request) != API_KEY:
            return json_response({"type": "authentication_error", "detail": "bad key"}, 401)
        if request.path.rstrip("/") != f"/api/projects/{PROJECT}/query":
            return json_response({"detail": "Not found."}, 404)
        body = request.get_json()
        q = (body.get("query") or {}).get("query", "")
        if (body.get("query") or {}).get("kind") != "HogQLQuery":
            return json_response({"type": "validation_error", "detail": "unknown kind"}, 400)
        if not self.queries or self.queries[-1] != q:
            self.queries.append(q)  # a retry asks the same again: the same page
        fault = self.faults.check("query", len(self.queries))
        if fault:
            return fault
        window = re.search(rf"timestamp >= {_TS} AND timestamp < {_TS}", q)
        limit = re.search(r"LIMIT (\d+)$", q)
        skipped = re.search(r"event NOT IN \(([^)]*)\)", q)
        if not (window and limit and skipped and q.startswith("SELECT toString(uuid), event")):
            return json_response({"type": "validation_error", "detail": "syntax error"}, 400)
        start, until = (self._dt(window.group(i)) for i in (1, 2))
        excluded = set(re.findall(r"'([^']*)'", skipped.group(1)))
        after = re.search(
            rf"\(timestamp > {_TS} OR \(timestamp = {_TS} AND "
            r"toString\(uuid\) > '([0-9a-f-]+)'\)\)",
            q,
        )
        chosen = []
        for e in sorted(self.events, key=lambda e: (e["timestamp"], e["uuid"])):
            ts = self._dt(e["timestamp"])
            if not (start <= ts < until) or e["event"] in excluded:
                continue
            if after:
                cursor = self._dt(after.group(1))
                if ts < cursor or (ts == cursor and e["uuid"] <= after.group(3)):
                    continue
            chosen.append(e)
        n = int(limit.group(1))
        page = chosen[:n]
        customer = re.search(r"properties\.currency, (\S+) FROM", q).group(1)
        results = [
            [
                e["uuid"],
                e["event"],
                e["timestamp"].replace("Z", "+00:00"),
                e["distinct_id"],
                e["properties"].get("$device_id"),
                e["properties"].get("$session_id"),
                e["properties"].get("$current_url"),
                e["properties"].get("$pathname"),
                e["properties"].get("revenue"),
                e["properties"].get("currency"),
                None
                if customer == "NULL"
                else e["properties"].get(customer.removeprefix("properties.")),
            ]
            for e in page
        ]
        return json_response(
            {
                "columns": ["toString(uuid)", "event", "timestamp", "distinct_id", "..."],
                "results": results,
                "types": [],
                "hasMore": len(chosen) > n,
                "limit": n,
                "offset": 0,
            }
        )

    @staticmethod
    def _dt(text: str) -> datetime:
        text = text.replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    def register(self, server) -> None:  # noqa: ANN001 - pytest_httpserver.HTTPServer
        server.expect_request(
            re.compile(r"^/api/projects/.*$"), method="POST"
        ).respond_with_handler(self.handle)

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "POSTHOG_API_KEY": API_KEY,
            "POSTHOG_PROJECT_ID": PROJECT,
            "POSTHOG_BASE_URL": base_url,
            "POSTHOG_START_DATE": "2026-01-01",
            "POSTHOG_PURCHASE_EVENT": "order_completed",
            "POSTHOG_PAGE_SIZE": "3",
        }
