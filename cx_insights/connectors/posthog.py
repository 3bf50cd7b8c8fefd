"""PostHog -> `web/events`, through its Query API (HogQL).

PostHog's events list endpoint is deprecated (PostHog's own docs: no offsets past
50,000, last 24 hours unless told); its Query API is the supported way to read
events: `POST /api/projects/{project_id}/query/` with a `HogQLQuery`, answered as
`{"columns", "results": [[...]], "hasMore"}`. Events are read in
(`timestamp`, `uuid`) order from a keyset cursor, a page at a time, up to
`POSTHOG_LAG_MINUTES` (10) before the pull started: PostHog ingests some events
late, and the cursor never passes a time whose events may still arrive. The
cursor moves after each page, so a page that fails resumes there.

Why PostHog rather than Matomo: PostHog is open source too, and its events are
the raw events (uuid, timestamp, session id, URL) our sessionisation and funnel
metrics need; Matomo's Live API returns visits that keep changing while they are
open, with no stable cursor over actions.

Mapping (one row per event):
* `event_id` = `uuid`; `session_id` = `$session_id`; `occurred_at` = `timestamp`;
* `anonymous_id` = `$device_id` (else `distinct_id`); `customer_id` = the
  property `POSTHOG_CUSTOMER_ID_PROPERTY` when set, else `distinct_id` once it
  differs from `$device_id` (PostHog's `identify` makes the distinct id the user's);
* `event_name`: `$pageview` -> `page_view`, `$screen` -> `screen_view`,
  `$autocapture` -> `click`, `POSTHOG_PURCHASE_EVENT` (default `purchase`) ->
  `purchase`, others as they are; PostHog's bookkeeping events (`$identify`,
  `$set`, `$feature_flag_called`, ...) are not read;
* `page_path` = `$pathname` (else the path of `$current_url`);
* `revenue`, `currency` = the `revenue` and `currency` properties.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cx_insights.connectors.http import ApiError, HttpClient
from cx_insights.connectors.landing import PullRun, emit, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorError, ConnectorSettings, ConnectorSpec

NAME = "posthog"
SKIPPED = (
    "$identify",
    "$set",
    "$create_alias",
    "$groupidentify",
    "$feature_flag_called",
    "$web_vitals",
    "$pageleave",
    "$opt_in",
    "$exception",
    "survey shown",
    "survey sent",
    "survey dismissed",
)
RENAMED = {"$pageview": "page_view", "$screen": "screen_view", "$autocapture": "click"}
COLUMNS = (
    "uuid",
    "event",
    "timestamp",
    "distinct_id",
    "device_id",
    "session_id",
    "current_url",
    "pathname",
    "revenue",
    "currency",
    "customer_id",
)
_SAFE = re.compile(r"^[A-Za-z0-9_$.:-]+$")


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _instant(value: str) -> str:
    """An ISO instant as HogQL's `toDateTime64('YYYY-MM-DD HH:MM:SS.ffffff', 6, 'UTC')`."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return f"toDateTime64('{dt:%Y-%m-%d %H:%M:%S.%f}', 6, 'UTC')"


def query(
    after: tuple[str, str] | None,
    start: str,
    until: str,
    limit: int,
    customer_property: str | None = None,
) -> str:
    """The HogQL of one page: events after the keyset cursor (timestamp, uuid)."""
    customer = f"properties.{customer_property}" if customer_property else "NULL"
    where = [f"timestamp >= {_instant(start)}", f"timestamp < {_instant(until)}"]
    if after:
        ts, uid = after
        where.append(
            f"(timestamp > {_instant(ts)} OR "
            f"(timestamp = {_instant(ts)} AND toString(uuid) > {_quoted(uid)}))"
        )
    where.append(f"event NOT IN ({', '.join(_quoted(e) for e in SKIPPED)})")
    return (
        "SELECT toString(uuid), event, timestamp, distinct_id, properties.$device_id, "
        "properties.$session_id, properties.$current_url, properties.$pathname, "
        f"properties.revenue, properties.currency, {customer} "
        f"FROM events WHERE {' AND '.join(where)} "
        f"ORDER BY timestamp ASC, toString(uuid) ASC LIMIT {limit}"
    )


def event_row(values: Mapping[str, Any], purchase_event: str, pulled_at: str) -> dict[str, Any]:
    distinct, device = values.get("distinct_id"), values.get("device_id")
    customer = values.get("customer_id")
    if customer in (None, "") and device and distinct and str(distinct) != str(device):
        customer = distinct
    name = str(values.get("event") or "")
    name = "purchase" if name == purchase_event else RENAMED.get(name, name)
    path = values.get("pathname")
    if not path and values.get("current_url"):
        path = urlsplit(str(values["current_url"])).path or "/"
    currency = values.get("currency")
    return {
        "event_id": str(values["uuid"]),
        "anonymous_id": str(device or distinct),
        "customer_id": None if customer in (None, "") else str(customer),
        "session_id": values.get("session_id") or None,
        "occurred_at": iso(values.get("timestamp")),
        "event_name": name,
        "page_path": path or None,
        "revenue": values.get("revenue"),
        "currency": None if currency in (None, "") else str(currency).upper(),
        "posthog_distinct_id": None if distinct is None else str(distinct),
        **lineage(NAME, f"event/{values['uuid']}", pulled_at),
    }


def rows_of(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    results: Sequence[Sequence[Any]] = answer.get("results") or []
    if results and len(results[0]) != len(COLUMNS):
        raise ConnectorError(
            f"posthog: the query answered {len(results[0])} columns, expected {len(COLUMNS)}"
        )
    return [dict(zip(COLUMNS, r, strict=True)) for r in results]


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt

    client = HttpClient(
        settings.base_url,
        headers={"Authorization": f"Bearer {settings.get('POSTHOG_API_KEY')}"},
        secrets=settings.secrets(),
    )
    project = settings.get("POSTHOG_PROJECT_ID")
    limit = int(settings.get("POSTHOG_PAGE_SIZE", "10000"))
    lag = float(settings.get("POSTHOG_LAG_MINUTES", "10"))
    start = iso(settings.get("POSTHOG_START_DATE", "2000-01-01")) or "2000-01-01T00:00:00Z"
    purchase_event = settings.get("POSTHOG_PURCHASE_EVENT", "purchase")
    prop = settings.get("POSTHOG_CUSTOMER_ID_PROPERTY") or None
    if prop and not _SAFE.match(prop):
        prop = None
        run.notes.append("POSTHOG_CUSTOMER_ID_PROPERTY is not a property name; ignored")

    @dlt.resource(name="events")
    def events() -> Iterator[Any]:
        state = dlt.current.resource_state()
        until = iso(datetime.now(UTC) - timedelta(minutes=lag)) or ""
        while True:
            after = (
                (state["after_timestamp"], state["after_uuid"])
                if state.get("after_timestamp")
                else None
            )
            body = {
                "query": {"kind": "HogQLQuery", "query": query(after, start, until, limit, prop)},
                "name": "cx-insights pull",
            }
            try:
                page = rows_of(client.post_json(f"/api/projects/{project}/query/", body))
            except ApiError as exc:
                run.fail("events", f"{exc} (the cursor stays at the last good page)")
                return
            pulled_at = now_iso()
            for values in page:
                yield emit("web__events", event_row(values, purchase_event, pulled_at))
            if not page:
                return
            last = page[-1]
            state["after_timestamp"] = iso(last["timestamp"])
            state["after_uuid"] = str(last["uuid"])
            if len(page) < limit:
                return

    @dlt.source(name=NAME)
    def posthog() -> Any:
        return [events()]

    return posthog()


SPEC = ConnectorSpec(
    name=NAME,
    title="PostHog",
    required=("POSTHOG_API_KEY", "POSTHOG_PROJECT_ID"),
    optional=(
        "POSTHOG_HOST",
        "POSTHOG_START_DATE",
        "POSTHOG_PAGE_SIZE",
        "POSTHOG_LAG_MINUTES",
        "POSTHOG_PURCHASE_EVENT",
        "POSTHOG_CUSTOMER_ID_PROPERTY",
    ),
    secret_names=("POSTHOG_API_KEY",),
    resources=("events",),
    build_source=build_source,
    default_base_url=lambda v: v.get("POSTHOG_HOST") or "https://eu.posthog.com",
    lands={"events": "web/events"},
)
