"""App Store customer-reviews feed stub (the public RSS feed in its JSON form).

`GET /{country}/rss/customerreviews/page={n}/id={appId}/sortby=mostrecent/json` ->
`{"feed": {"author", "entry": [...], "updated", "rights", "title", "icon", "link",
"id"}}`, newest first; every value is `{"label": ...}`; `entry` is a list, one
object when the page holds one review, absent past the last page.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from werkzeug import Request, Response

from tests.stubs.common import Faults, json_response

APP_ID = "1234567890"
PACIFIC = timezone(timedelta(hours=-7))
T0 = datetime(2026, 10, 5, 8, 0, tzinfo=PACIFIC)


def review(i: int, stars: int, title: str, text: str, days: float) -> dict:
    updated = T0 + timedelta(days=days)
    return {
        "author": {
            "uri": {"label": f"https://itunes.apple.com/us/reviews/id{9000 + i}"},
            "name": {"label": f"reviewer{i}"},
            "label": "",
        },
        "updated": {"label": updated.isoformat()},
        "im:rating": {"label": str(stars)},
        "im:version": {"label": "4.2.0"},
        "id": {"label": str(11_000_000_000 + i)},
        "title": {"label": title},
        "content": {"label": text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": "https://apps.apple.com/us/review"}},
        "im:voteSum": {"label": "0"},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": "0"},
    }


#: Ratings 5, 4, 2, 1, 5 -> top-2-box 3 of 5 = CSAT 60 (October 2026).
REVIEWS = [
    review(1, 5, "Love it", "Checkout is quick.", 1),
    review(2, 4, "Good", "Works well, a bit slow at times.", 2),
    review(3, 2, "Crashes", "Crashes when I open my orders.", 3),
    review(4, 1, "Refund?", "Charged twice, nobody answers.", 4),
    review(5, 5, "Great support", "They fixed it in a day.", 5),
]


class AppStoreStub:
    def __init__(self, per_page: int = 2) -> None:
        self.faults = Faults()
        self.reviews = list(REVIEWS)
        self.per_page = per_page
        self.pages_served: list[int] = []

    def add(self, r: dict) -> None:
        self.reviews.append(r)

    def feed(self, request: Request) -> Response:
        match = re.search(r"/([a-z]{2})/rss/customerreviews/page=(\d+)/id=(\d+)/", request.path)
        if not match or match.group(3) != APP_ID:
            return Response("<html>Not found</html>", status=404)
        page = int(match.group(2))
        self.pages_served.append(page)
        fault = self.faults.check("reviews", page)
        if fault:
            return fault
        newest_first = sorted(self.reviews, key=lambda r: r["updated"]["label"], reverse=True)
        chunk = newest_first[(page - 1) * self.per_page : page * self.per_page]
        feed: dict = {
            "author": {
                "name": {"label": "iTunes Store"},
                "uri": {"label": "http://www.apple.com/"},
            },
            "updated": {"label": "2026-10-31T00:00:00-07:00"},
            "rights": {"label": "Copyright 2008 Apple Inc."},
            "title": {"label": "iTunes Store: Customer Reviews"},
            "icon": {"label": "http://itunes.apple.com/favicon.ico"},
            "link": [{"attributes": {"rel": "self", "href": request.url}}],
            "id": {"label": request.url},
        }
        if len(chunk) == 1:
            feed["entry"] = chunk[0]
        elif chunk:
            feed["entry"] = chunk
        return json_response({"feed": feed})

    def register(self, server) -> None:  # noqa: ANN001 - pytest_httpserver.HTTPServer
        server.expect_request(
            re.compile(r"^/[a-z]{2}/rss/customerreviews/.*$")
        ).respond_with_handler(self.feed)

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "APPSTORE_APP_ID": APP_ID,
            "APPSTORE_COUNTRIES": "us",
            "APPSTORE_BASE_URL": base_url,
            "APPSTORE_TOUCHPOINT_ID": "TP-APP",
        }
