"""PostHog connector against its local Query API stub: keyset pages, mapping, resume."""

from __future__ import annotations

import pytest

from cx_insights.connectors import posthog
from cx_insights.connectors.runner import pull_connector, read_status, state_dir
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.posthog import API_KEY, PostHogStub, event
from tests.test_connectors_zendesk import rows, settings_for


@pytest.fixture
def stub(httpserver):  # noqa: ANN001
    s = PostHogStub()
    s.register(httpserver)
    return s


def test_events_land_mapped_to_the_contract(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    stub.faults.rate_limit_once.add("query")
    result = pull_connector(settings, posthog.SPEC)
    assert result.ok and result.rows == {"web__events": 6}
    assert len(stub.queries) == 3  # 6 events at 3 a page, then a page that is short
    events = {e["event_id"]: e for e in rows(settings.landing_dir, "web", "events")}
    names = sorted(e["event_name"] for e in events.values())
    assert names == [
        "add_to_cart",
        "add_to_cart",
        "page_view",
        "page_view",
        "page_view",
        "purchase",
    ]
    order = next(e for e in events.values() if e["event_name"] == "purchase")
    assert order["revenue"] == "30" and order["currency"] == "EUR"
    assert order["customer_id"] == "cus_US1" and order["anonymous_id"] == "d1"
    assert order["session_id"] == "s1" and order["page_path"] == "/done"
    assert order["occurred_at"] == "2026-10-14T09:03:00Z"
    first = min(events.values(), key=lambda e: e["occurred_at"])
    assert first["customer_id"] is None and first["event_name"] == "page_view"


def test_a_failing_page_resumes_at_the_cursor(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    monkeypatch.setenv("CX_CONNECTOR_MAX_ATTEMPTS", "2")
    stub.faults.failing_pages.add(("query", 2))
    with pytest.raises(ConnectorError, match="cursor stays"):
        pull_connector(settings, posthog.SPEC)
    status = read_status(state_dir(settings, "posthog"))
    assert status["cursors"]["events"]["after_timestamp"] == "2026-10-14T09:03:00Z"
    assert API_KEY not in str(status)
    stub.faults.failing_pages.clear()
    resumed = pull_connector(settings, posthog.SPEC)
    assert resumed.rows == {"web__events": 3}
    ids = [e["event_id"] for e in rows(settings.landing_dir, "web", "events")]
    assert len(ids) == len(set(ids)) == 6  # nothing twice, nothing skipped
    stub.add(event(9, 60, "$pageview", "d4", "s4", "/"))
    assert pull_connector(settings, posthog.SPEC).rows == {"web__events": 1}


def test_the_query_is_hogql_with_a_keyset_cursor():
    q = posthog.query(
        ("2026-10-14T09:01:00Z", "abc"), "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", 5
    )
    assert "timestamp = toDateTime64('2026-10-14 09:01:00.000000', 6, 'UTC')" in q
    assert "toString(uuid) > 'abc'" in q and q.endswith("LIMIT 5")
    assert "'$identify'" in q
    assert posthog._quoted("it's") == "'it\\'s'"
