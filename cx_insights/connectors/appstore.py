"""App Store customer reviews -> `feedback/questions`, `feedback/responses`, `feedback/answers`.

The public customer-reviews feed of one app per storefront country
(`/{country}/rss/customerreviews/page={n}/id={appId}/sortby=mostrecent/json`,
newest first, 50 reviews a page, at most 10 pages) needs no key. Each review
becomes a survey response (survey `appstore_{appId}`, channel `app_store`,
anonymous: the feed names no customer), with its star rating as a CSAT answer on
a 1..5 scale (kpis.md's top-2-box: 4 and 5 stars) and title + text as a verbatim.
The reviewer's nickname is not landed.

Incremental: per country, the newest `updated` seen and the review ids at it.
A pull reads pages until it reaches a review at or before that cursor, and lands
the country's new reviews only when every page it needed has arrived (a failed
page lands nothing of that country and leaves its cursor: the next pull reads the
same pages again). Reviews older than the feed's 500 are out of its reach: the
first pull gets what the feed still shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cx_insights.connectors.http import ApiError, HttpClient
from cx_insights.connectors.landing import PullRun, emit, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorSettings, ConnectorSpec

NAME = "appstore"
MAX_PAGES = 10
#: Entry fields of the feed; any other is a change of the feed (drift).
ENTRY_FIELDS = frozenset(
    [
        "author",
        "updated",
        "im:rating",
        "im:version",
        "id",
        "title",
        "content",
        "link",
        "im:voteSum",
        "im:contentType",
        "im:voteCount",
    ]
)


def survey_id(app_id: str) -> str:
    return f"appstore_{app_id}"


def rating_question(app_id: str) -> str:
    return f"appstore_{app_id}_rating"


def text_question(app_id: str) -> str:
    return f"appstore_{app_id}_review"


def _label(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if isinstance(value, dict):
        value = value.get("label")
    return None if value is None else str(value)


def entries(page: Mapping[str, Any]) -> list[dict]:
    """The reviews of a feed page (`entry` is one object when the page has one; an entry
    without a rating is the app's own description, which old feeds put first)."""
    found = (page.get("feed") or {}).get("entry") or []
    if isinstance(found, dict):
        found = [found]
    return [e for e in found if isinstance(e, dict) and e.get("im:rating")]


def question_rows(app_id: str, pulled_at: str) -> list[dict]:
    where = lineage(NAME, f"app/{app_id}", pulled_at)
    return [
        {
            "question_id": rating_question(app_id),
            "survey_id": survey_id(app_id),
            "metric": "csat",
            "scale_min": 1,
            "scale_max": 5,
            "question_text": "App Store rating (stars)",
            **where,
        },
        {
            "question_id": text_question(app_id),
            "survey_id": survey_id(app_id),
            "metric": "verbatim",
            "question_text": "App Store review (title and text)",
            **where,
        },
    ]


def review_rows(
    app_id: str, country: str, entry: Mapping[str, Any], touchpoint: str | None, pulled_at: str
) -> list[tuple[str, dict]]:
    rid = _label(entry, "id")
    response_id = f"appstore-{rid}"
    where = lineage(NAME, f"review/{country}/{rid}", pulled_at)
    rows: list[tuple[str, dict]] = [
        (
            "feedback__responses",
            {
                "response_id": response_id,
                "survey_id": survey_id(app_id),
                "customer_id": None,
                "touchpoint_id": touchpoint,
                "channel": "app_store",
                "submitted_at": iso(_label(entry, "updated")),
                "appstore_country": country,
                "appstore_app_version": _label(entry, "im:version"),
                **where,
            },
        ),
        (
            "feedback__answers",
            {
                "response_id": response_id,
                "question_id": rating_question(app_id),
                "value_number": _label(entry, "im:rating"),
                **where,
            },
        ),
    ]
    text = "\n".join(t for t in (_label(entry, "title"), _label(entry, "content")) if t).strip()
    if text:
        rows.append(
            (
                "feedback__answers",
                {
                    "response_id": response_id,
                    "question_id": text_question(app_id),
                    "value_text": text,
                    **where,
                },
            )
        )
    return rows


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt

    app_id = settings.get("APPSTORE_APP_ID")
    countries = [c.strip().lower() for c in settings.get("APPSTORE_COUNTRIES", "us").split(",")]
    touchpoint = settings.get("APPSTORE_TOUCHPOINT_ID") or None
    client = HttpClient(settings.base_url, secrets=settings.secrets())

    @dlt.resource(name="reviews")
    def reviews() -> Iterator[Any]:
        state = dlt.current.resource_state()
        pulled_at = now_iso()
        for q in question_rows(app_id, pulled_at):
            yield emit("feedback__questions", q)
        for country in [c for c in countries if c]:
            since = state.get(f"{country}.newest_updated_at")
            seen = set(state.get(f"{country}.ids_at_newest", []))
            new: list[dict] = []
            try:
                for page_no in range(1, MAX_PAGES + 1):
                    path = (
                        f"/{country}/rss/customerreviews/page={page_no}/id={app_id}"
                        "/sortby=mostrecent/json"
                    )
                    found = entries(client.get_json(path))
                    reached = False
                    for entry in found:
                        run.new_fields("app store review", set(entry) - ENTRY_FIELDS)
                        updated, rid = iso(_label(entry, "updated")) or "", _label(entry, "id")
                        if since and (updated < since or (updated == since and rid in seen)):
                            reached = True
                            continue
                        new.append(entry)
                    if reached or not found:
                        break
            except ApiError as exc:
                run.fail("reviews", f"{country}: {exc} (nothing of it landed; its cursor stays)")
                continue
            pulled_at = now_iso()
            for entry in new:
                for table, row in review_rows(app_id, country, entry, touchpoint, pulled_at):
                    yield emit(table, row)
            if new:
                newest = max(iso(_label(e, "updated")) or "" for e in new)
                at_newest = {_label(e, "id") for e in new if iso(_label(e, "updated")) == newest}
                if newest == since:
                    at_newest |= seen
                state[f"{country}.newest_updated_at"] = newest
                state[f"{country}.ids_at_newest"] = sorted(at_newest)

    @dlt.source(name=NAME)
    def appstore() -> Any:
        return [reviews()]

    return appstore()


SPEC = ConnectorSpec(
    name=NAME,
    title="App Store reviews",
    required=("APPSTORE_APP_ID",),
    optional=("APPSTORE_COUNTRIES", "APPSTORE_TOUCHPOINT_ID"),
    secret_names=(),
    resources=("reviews",),
    build_source=build_source,
    default_base_url=lambda v: "https://itunes.apple.com",
    lands={"reviews": "feedback/questions, feedback/responses, feedback/answers"},
)
