"""Zendesk Support API stub.

* `GET /api/v2/incremental/tickets/cursor.json` (start_time | cursor, per_page,
  include=metric_sets): `tickets`, `metric_sets`, `after_cursor`, `after_url`,
  `before_cursor`, `end_of_stream`. A changed ticket reappears later in the stream.
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
* `GET /api/v2/groups.json` (cursor pagination: `meta.has_more`, `links.next`).
* `GET /api/v2/satisfaction_ratings.json` (score, start_time, page[size], page[after]).
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/satisfaction_ratings/
Authentication: HTTP basic `{email}/token:{api_token}`.
"""

from __future__ import annotations

import base64
from copy import deepcopy
from datetime import UTC, datetime, timedelta

from werkzeug import Request, Response

from tests.stubs.common import Faults, json_response

EMAIL = "agent@example.com"
TOKEN = "zd-secret-token-4f9a2c"
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ticket(
    i: int,
    *,
    status: str = "solved",
    channel: str = "email",
    reply: int | None = 30,
    resolution_hours: int = 5,
    group: int = 9001,
    score: str = "unoffered",
    updated: datetime | None = None,
    **extra: object,
) -> tuple[dict, dict]:
    created = T0 + timedelta(days=i, hours=i)
    solved = created + timedelta(hours=resolution_hours) if status in ("solved", "closed") else None
    updated = updated or (solved or created) + timedelta(minutes=1)
    t = {
        "url": f"https://acme.zendesk.com/api/v2/tickets/{i}.json",
        "id": i,
        "external_id": None,
        "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "generated_timestamp": int(updated.timestamp()),
        "type": "question",
        "subject": f"Help with order {i}",
        "raw_subject": f"Help with order {i}",
        "description": "Where is my parcel?",
        "priority": "normal" if i % 2 else "high",
        "status": status,
        "recipient": None,
        "requester_id": 50_000 + i,
        "submitter_id": 50_000 + i,
        "assignee_id": 7001,
        "organization_id": None,
        "group_id": group,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": ["delivery"],
        "custom_fields": [],
        "satisfaction_rating": {"score": score},
        "sharing_agreement_ids": [],
        "custom_status_id": 1,
        "fields": [],
        "followup_ids": [],
        "ticket_form_id": 1,
        "brand_id": 1,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
        **extra,
    }
    m = {
        "url": f"https://acme.zendesk.com/api/v2/ticket_metrics/{i}.json",
        "id": 80_000 + i,
        "ticket_id": i,
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "group_stations": 1,
        "assignee_stations": 1,
        "reopens": 0,
        "replies": 1,
        "assignee_updated_at": None,
        "requester_updated_at": _ts(created),
        "status_updated_at": _ts(updated),
        "initially_assigned_at": _ts(created),
        "assigned_at": _ts(created),
        "solved_at": _ts(solved) if solved else None,
        "latest_comment_added_at": _ts(updated),
        "reply_time_in_minutes": {"calendar": reply, "business": reply},
        "first_resolution_time_in_minutes": {"calendar": resolution_hours * 60, "business": 0},
        "full_resolution_time_in_minutes": {"calendar": resolution_hours * 60, "business": 0},
        "agent_wait_time_in_minutes": {"calendar": 0, "business": 0},
        "requester_wait_time_in_minutes": {"calendar": 0, "business": 0},
        "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
    }
    if reply is None:
        m["reply_time_in_minutes"] = {"calendar": None, "business": None}
    return t, m


def rating(i: int, ticket_id: int, score: str, comment: str = "") -> dict:
    created = T0 + timedelta(days=ticket_id, hours=ticket_id + 6)
    return {
        "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{i}.json",
        "id": i,
        "assignee_id": 7001,
        "group_id": 9001,
        "requester_id": 50_000 + ticket_id,
        "ticket_id": ticket_id,
        "score": score,
        "comment": comment,
        "reason": None,
        "reason_id": None,
        "created_at": _ts(created),
        "updated_at": _ts(created),
    }


#: First-reply minutes of tickets 1..5: sorted 10, 20, 30, 45, 60 -> median 30.
REPLY_MINUTES = {1: 10, 2: 30, 3: 20, 4: 60, 5: 45}


class ZendeskStub:
    def __init__(self) -> None:
        self.faults = Faults()
        self.stream: list[tuple[dict, dict]] = []
        for i, minutes in REPLY_MINUTES.items():
            self.stream.append(
                ticket(
                    i, reply=minutes, channel=["email", "web", "chat", "voice", "twitter"][i - 1]
                )
            )
        # Ticket 6 is still open, ticket 7 was deleted, ticket 8 was closed by a merge.
        self.stream.append(ticket(6, status="open", reply=None))
        self.stream.append(ticket(7, status="deleted", reply=None))
        self.stream.append(ticket(8, status="closed", reply=15, tags=["closed_by_merge"]))
        self.groups = [{"id": 9001, "name": "Delivery", "url": "", "deleted": False}]
        self.ratings = [
            rating(1, 1, "good", "Quick and kind, thanks"),
            rating(2, 2, "good"),
            rating(3, 3, "bad", "Nobody called me back at +44 20 7946 0000"),
            rating(4, 4, "good"),
        ]

    # --- changes a test makes between pulls ------------------------------------
    def update_ticket(self, i: int, **changes: object) -> None:
        """The ticket changes: it reappears later in the export stream."""
        t, m = deepcopy(next(v for v in reversed(self.stream) if v[0]["id"] == i))
        t.update(changes)
        when = datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) + timedelta(days=1)
        t["updated_at"] = _ts(when)
        t["generated_timestamp"] = int(when.timestamp())
        self.stream.append((t, m))

    # --- endpoints --------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        auth = request.authorization
        return bool(auth) and auth.username == f"{EMAIL}/token" and auth.password == TOKEN

    def tickets(self, request: Request) -> Response:
        if not self.authorized(request):
            return json_response({"error": "Couldn't authenticate you"}, 401)
        per_page = int(request.args.get("per_page", 1000))
        if "cursor" in request.args:
            offset = int(base64.urlsafe_b64decode(request.args["cursor"]).decode())
        else:
            start = int(request.args["start_time"])
            offset = next(
                (n for n, (t, _) in enumerate(self.stream) if t["generated_timestamp"] >= start),
                len(self.stream),
            )
        fault = self.faults.check("tickets", offset // per_page + 1)
        if fault:
            return fault
        page = self.stream[offset : offset + per_page]
        end = offset + len(page)
        cursor = base64.urlsafe_b64encode(str(end).encode()).decode()
        body: dict = {
            "tickets": [t for t, _ in page],
            "after_url": f"{request.host_url}api/v2/incremental/tickets/cursor.json"
            f"?cursor={cursor}",
            "after_cursor": cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": end >= len(self.stream),
        }
        if "metric_sets" in request.args.get("include", ""):
            body["metric_sets"] = [m for _, m in page]
        return json_response(body)

    def groups_page(self, request: Request) -> Response:
        if not self.authorized(request):
            return json_response({"error": "Couldn't authenticate you"}, 401)
        return json_response(
            {
                "groups": self.groups,
                "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                "links": {"next": None, "prev": None},
            }
        )

    def satisfaction_ratings(self, request: Request) -> Response:
        if not self.authorized(request):
            return json_response({"error": "Couldn't authenticate you"}, 401)
        size = int(request.args.get("page[size]", 100))
        start = int(request.args.get("start_time", 0))
        rows = [
            r
            for r in self.ratings
            if datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")).timestamp() >= start
            and (request.args.get("score") != "received" or r["score"] in ("good", "bad"))
        ]
        offset = int(request.args.get("page[after]", "0") or 0)
        fault = self.faults.check("satisfaction_ratings", offset // size + 1)
        if fault:
            return fault
        page = rows[offset : offset + size]
        more = offset + size < len(rows)
        return json_response(
            {
                "satisfaction_ratings": page,
                "meta": {
                    "has_more": more,
                    "after_cursor": str(offset + size) if more else None,
                    "before_cursor": None,
                },
                "links": {"next": None, "prev": None},
            }
        )

    def register(self, server) -> None:  # noqa: ANN001 - pytest_httpserver.HTTPServer
        server.expect_request("/api/v2/incremental/tickets/cursor.json").respond_with_handler(
            self.tickets
        )
        server.expect_request("/api/v2/groups.json").respond_with_handler(self.groups_page)
        server.expect_request("/api/v2/satisfaction_ratings.json").respond_with_handler(
            self.satisfaction_ratings
        )

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "ZENDESK_SUBDOMAIN": "acme",
            "ZENDESK_EMAIL": EMAIL,
            "ZENDESK_API_TOKEN": TOKEN,
            "ZENDESK_BASE_URL": base_url,
            "ZENDESK_START_DATE": "2026-01-01",
        }
