"""Zendesk Support -> `tickets/tickets` and `feedback/*` (CSAT).

* Tickets: the cursor-based incremental ticket export
  (`/api/v2/incremental/tickets/cursor.json`, `start_time` once, then `cursor`
  = the last page's `after_cursor` until `end_of_stream`), with the ticket metric
  sets side-loaded (`include=metric_sets`): first reply = `created_at` +
  `reply_time_in_minutes.calendar`, solved at = `solved_at`. A ticket that
  changes arrives again and lands as a later row of the same key. A deleted
  ticket (status `deleted`) lands as `closed` with `cx_deleted`; a ticket closed
  by a merge keeps its status and gets `cx_merged`.
* Category: the ticket's group name (`/api/v2/groups`), else its type.
* Satisfaction ratings (`/api/v2/satisfaction_ratings?score=received`, cursor
  pagination): one survey response each, with a CSAT answer (`zendesk_csat`,
  scale 1..5: good = 5, bad = 1, so kpis.md's top-2-box is Zendesk's own
  good / (good + bad)) and the comment as a verbatim.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from cx_insights.connectors.http import ApiError, HttpClient
from cx_insights.connectors.landing import PullRun, emit, extras, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorSettings, ConnectorSpec

NAME = "zendesk"
SURVEY_ID = "zendesk_csat"
CSAT_QUESTION = "zendesk_csat"
COMMENT_QUESTION = "zendesk_csat_comment"

CHANNELS = {
    "email": "email",
    "web": "web",
    "web_form": "web",
    "web_widget": "web",
    "help_center": "web",
    "mobile": "web",
    "api": "web",
    "chat": "chat",
    "chat_transcript": "chat",
    "native_messaging": "chat",
    "mobile_sdk": "chat",
    "sms": "chat",
    "voice": "phone",
    "phone": "phone",
    "twitter": "social",
    "facebook": "social",
    "instagram_dm": "social",
    "whatsapp": "social",
    "messenger": "social",
    "line": "social",
    "wechat": "social",
}
STATUSES = {"new": "new", "open": "open", "pending": "pending", "hold": "pending"}
STATUSES |= {"solved": "solved", "closed": "closed", "deleted": "closed"}
PRIORITIES = {"low", "normal", "high", "urgent"}

#: Ticket fields of the API reference; any other is a vendor change (drift).
TICKET_FIELDS = frozenset(
    [
        "url",
        "id",
        "external_id",
        "via",
        "created_at",
        "updated_at",
        "generated_timestamp",
        "type",
        "subject",
        "raw_subject",
        "description",
        "priority",
        "status",
        "recipient",
        "requester_id",
        "submitter_id",
        "assignee_id",
        "organization_id",
        "group_id",
        "collaborator_ids",
        "follower_ids",
        "email_cc_ids",
        "forum_topic_id",
        "problem_id",
        "has_incidents",
        "is_public",
        "due_at",
        "tags",
        "custom_fields",
        "satisfaction_rating",
        "sharing_agreement_ids",
        "custom_status_id",
        "fields",
        "followup_ids",
        "ticket_form_id",
        "brand_id",
        "allow_channelback",
        "allow_attachments",
        "from_messaging_channel",
        "encoded_id",
    ]
)


def start_time(settings: ConnectorSettings) -> int:
    day = settings.get("ZENDESK_START_DATE", "2000-01-01")
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def satisfaction(rating: Any) -> str | None:
    score = (rating or {}).get("score") if isinstance(rating, dict) else None
    if isinstance(score, str):
        for verdict in ("good", "bad"):
            if score.startswith(verdict):
                return verdict
    return None


def ticket_row(
    ticket: dict, metrics: dict | None, groups: dict[str, str], pulled_at: str
) -> dict[str, Any]:
    metrics = metrics or {}
    created = iso(ticket.get("created_at"))
    reply = (metrics.get("reply_time_in_minutes") or {}).get("calendar")
    first_response = None
    if created and reply is not None:
        first_response = iso(datetime.fromisoformat(created[:-1]) + timedelta(minutes=reply))
    status = str(ticket.get("status") or "").lower()
    priority = str(ticket.get("priority") or "").lower()
    group = groups.get(str(ticket.get("group_id")))
    row = {
        "ticket_id": str(ticket["id"]),
        "customer_id": _text(ticket.get("requester_id")),
        "created_at": created,
        "channel": CHANNELS.get(str((ticket.get("via") or {}).get("channel") or "").lower()),
        "category": group or ticket.get("type"),
        "priority": priority if priority in PRIORITIES else None,
        "status": STATUSES.get(status, status or None),
        "first_response_at": first_response,
        "solved_at": iso(metrics.get("solved_at")) if status in ("solved", "closed") else None,
        "touchpoint_id": None,
        "agent_id": _text(ticket.get("assignee_id")),
        "satisfaction": satisfaction(ticket.get("satisfaction_rating")),
        **extras(ticket, TICKET_FIELDS, "zendesk"),
        **lineage(NAME, f"ticket/{ticket['id']}", pulled_at),
    }
    if status == "deleted":
        row["cx_deleted"] = "true"
    if "closed_by_merge" in (ticket.get("tags") or []):
        row["cx_merged"] = "true"
    return row


def rating_rows(rating: dict, pulled_at: str) -> list[tuple[str, dict]]:
    """A received rating as a survey response with its CSAT answer (and comment)."""
    verdict = satisfaction(rating)
    if verdict is None:
        return []
    response_id = f"zendesk-rating-{rating['id']}"
    where = lineage(NAME, f"satisfaction_rating/{rating['id']}", pulled_at)
    rows = [
        (
            "feedback__responses",
            {
                "response_id": response_id,
                "survey_id": SURVEY_ID,
                "customer_id": _text(rating.get("requester_id")),
                "touchpoint_id": None,
                "channel": "support",
                "submitted_at": iso(rating.get("updated_at") or rating.get("created_at")),
                "zendesk_ticket_id": _text(rating.get("ticket_id")),
                **where,
            },
        ),
        (
            "feedback__answers",
            {
                "response_id": response_id,
                "question_id": CSAT_QUESTION,
                "value_number": 5 if verdict == "good" else 1,
                "value_text": verdict,
                **where,
            },
        ),
    ]
    comment = (rating.get("comment") or "").strip()
    if comment:
        rows.append(
            (
                "feedback__answers",
                {
                    "response_id": response_id,
                    "question_id": COMMENT_QUESTION,
                    "value_text": comment,
                    **where,
                },
            )
        )
    return rows


def question_rows(pulled_at: str) -> list[dict]:
    where = lineage(NAME, "satisfaction_survey", pulled_at)
    return [
        {
            "question_id": CSAT_QUESTION,
            "survey_id": SURVEY_ID,
            "metric": "csat",
            "scale_min": 1,
            "scale_max": 5,
            "question_text": "How would you rate the support you received? (good = 5, bad = 1)",
            **where,
        },
        {
            "question_id": COMMENT_QUESTION,
            "survey_id": SURVEY_ID,
            "metric": "verbatim",
            "question_text": "Satisfaction rating comment",
            **where,
        },
    ]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _client(settings: ConnectorSettings) -> HttpClient:
    email = settings.get("ZENDESK_EMAIL")
    return HttpClient(
        settings.base_url,
        auth=(f"{email}/token", settings.get("ZENDESK_API_TOKEN")),
        secrets=settings.secrets(),
    )


def _groups(client: HttpClient) -> dict[str, str]:
    names: dict[str, str] = {}
    url: str | None = "/api/v2/groups.json?page[size]=100"
    while url:
        page = client.get_json(url)
        for g in page.get("groups", []):
            names[str(g["id"])] = g.get("name")
        url = (
            (page.get("links") or {}).get("next")
            if (page.get("meta") or {}).get("has_more")
            else None
        )
    return names


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt

    client = _client(settings)
    page_size = int(settings.get("ZENDESK_PAGE_SIZE", "1000"))

    @dlt.resource(name="tickets")
    def tickets() -> Iterator[Any]:
        state = dlt.current.resource_state()
        try:
            groups = _groups(client)
        except ApiError as exc:
            run.fail("tickets", f"groups: {exc}")
            return
        while True:
            params: dict[str, Any] = {"include": "metric_sets", "per_page": page_size}
            if state.get("after_cursor"):
                params["cursor"] = state["after_cursor"]
            else:
                params["start_time"] = start_time(settings)
            try:
                page = client.get_json("/api/v2/incremental/tickets/cursor.json", params)
            except ApiError as exc:
                run.fail("tickets", f"{exc} (the cursor stays at the last good page)")
                return
            pulled_at = now_iso()
            metrics = {str(m.get("ticket_id")): m for m in page.get("metric_sets") or []}
            for t in page.get("tickets", []):
                run.new_fields("zendesk ticket", set(t) - TICKET_FIELDS)
                yield emit(
                    "tickets__tickets", ticket_row(t, metrics.get(str(t["id"])), groups, pulled_at)
                )
            if page.get("after_cursor"):
                state["after_cursor"] = page["after_cursor"]
            state["pages"] = state.get("pages", 0) + 1
            state["last_page_at"] = pulled_at
            if page.get("end_of_stream", True) or not page.get("after_cursor"):
                return

    @dlt.resource(name="satisfaction_ratings")
    def satisfaction_ratings() -> Iterator[Any]:
        state = dlt.current.resource_state()
        pulled_at = now_iso()
        for q in question_rows(pulled_at):
            yield emit("feedback__questions", q)
        since = state.get("newest_updated_at")
        seen_at_since = set(state.get("ids_at_newest", []))
        newest = state.get("pending_newest", since)
        ids_at_newest = set(state.get("pending_ids", seen_at_since))
        while True:
            params: dict[str, Any] = {
                "score": "received",
                "start_time": _epoch(since) if since else start_time(settings),
                "page[size]": min(page_size, 100),
            }
            if state.get("after_cursor"):
                params["page[after]"] = state["after_cursor"]
            try:
                page = client.get_json("/api/v2/satisfaction_ratings.json", params)
            except ApiError as exc:
                run.fail("satisfaction_ratings", f"{exc} (the cursor stays at the last good page)")
                return
            pulled_at = now_iso()
            for rating in page.get("satisfaction_ratings", []):
                updated = iso(rating.get("updated_at") or rating.get("created_at")) or ""
                rid = str(rating.get("id"))
                if since and (updated < since or (updated == since and rid in seen_at_since)):
                    continue  # landed by an earlier pull
                for table, row in rating_rows(rating, pulled_at):
                    yield emit(table, row)
                if newest is None or updated > newest:
                    newest, ids_at_newest = updated, {rid}
                elif updated == newest:
                    ids_at_newest.add(rid)
            meta = page.get("meta") or {}
            if not (meta.get("has_more") and meta.get("after_cursor")):
                break
            # A later page that fails resumes from here, inside this listing.
            state["after_cursor"] = meta["after_cursor"]
            state["pending_newest"], state["pending_ids"] = newest, sorted(ids_at_newest)
        # The listing is complete: the next pull asks for what changed since the newest.
        state.pop("after_cursor", None)
        state.pop("pending_newest", None)
        state.pop("pending_ids", None)
        if newest:
            state["newest_updated_at"] = newest
            state["ids_at_newest"] = sorted(ids_at_newest)

    @dlt.source(name=NAME)
    def zendesk() -> Any:
        return [tickets(), satisfaction_ratings()]

    return zendesk()


def _epoch(instant: str) -> int:
    return int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp())


SPEC = ConnectorSpec(
    name=NAME,
    title="Zendesk Support",
    required=("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
    optional=("ZENDESK_START_DATE", "ZENDESK_PAGE_SIZE"),
    secret_names=("ZENDESK_API_TOKEN",),
    resources=("tickets", "satisfaction_ratings"),
    build_source=build_source,
    default_base_url=lambda v: f"https://{v.get('ZENDESK_SUBDOMAIN', 'example')}.zendesk.com",
    lands={
        "tickets": "tickets/tickets",
        "satisfaction_ratings": "feedback/questions, feedback/responses, feedback/answers",
    },
)
