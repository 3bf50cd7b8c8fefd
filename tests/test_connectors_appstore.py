"""App Store reviews connector against its local stub: pages, cursor, a failing page."""

from __future__ import annotations

import pytest

from cx_insights.connectors import appstore
from cx_insights.connectors.runner import pull_connector
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.appstore import APP_ID, AppStoreStub, review
from tests.test_connectors_zendesk import rows, settings_for


@pytest.fixture
def stub(httpserver):  # noqa: ANN001
    s = AppStoreStub()
    s.register(httpserver)
    return s


def test_reviews_land_as_anonymous_responses_with_a_rating_and_a_verbatim(
    stub, httpserver, tmp_path, monkeypatch
):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    result = pull_connector(settings, appstore.SPEC)
    assert result.ok
    assert stub.pages_served == [1, 2, 3, 4]  # 5 reviews at 2 a page, then an empty page
    responses = {r["response_id"]: r for r in rows(settings.landing_dir, "feedback", "responses")}
    assert len(responses) == 5
    first = responses["appstore-11000000001"]
    assert first["customer_id"] is None and first["channel"] == "app_store"
    assert first["touchpoint_id"] == "TP-APP" and first["survey_id"] == f"appstore_{APP_ID}"
    assert first["submitted_at"] == "2026-10-06T15:00:00Z"  # 08:00 at UTC-7, a day later
    assert "reviewer1" not in str(rows(settings.landing_dir, "feedback", "responses"))
    answers = rows(settings.landing_dir, "feedback", "answers")
    stars = sorted(a["value_number"] for a in answers if a["question_id"].endswith("_rating"))
    assert stars == ["1", "2", "4", "5", "5"]
    texts = [a["value_text"] for a in answers if a["question_id"].endswith("_review")]
    assert "Crashes\nCrashes when I open my orders." in texts
    questions = {q["question_id"]: q for q in rows(settings.landing_dir, "feedback", "questions")}
    rating = questions[f"appstore_{APP_ID}_rating"]
    assert (rating["metric"], rating["scale_min"], rating["scale_max"]) == ("csat", "1", "5")


def test_the_next_pull_stops_at_the_cursor(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    pull_connector(settings, appstore.SPEC)
    stub.pages_served.clear()
    stub.add(review(6, 3, "Okay", "Fine.", 9))
    second = pull_connector(settings, appstore.SPEC)
    assert second.rows["feedback__responses"] == 1
    assert stub.pages_served == [1]  # the first page already reaches the cursor
    assert pull_connector(settings, appstore.SPEC).rows.get("feedback__responses", 0) == 0


def test_a_failing_page_lands_nothing_and_the_next_pull_gets_everything(
    stub, httpserver, tmp_path, monkeypatch
):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    monkeypatch.setenv("CX_CONNECTOR_MAX_ATTEMPTS", "2")
    stub.faults.failing_pages.add(("reviews", 2))
    with pytest.raises(ConnectorError, match="nothing of it landed"):
        pull_connector(settings, appstore.SPEC)
    assert not (settings.landing_dir / "feedback" / "responses").exists()
    stub.faults.failing_pages.clear()
    assert pull_connector(settings, appstore.SPEC).rows["feedback__responses"] == 5


def test_a_page_with_one_review_and_the_apps_own_entry():
    page = {"feed": {"entry": {"im:name": {"label": "App"}, "id": {"label": "1"}}}}
    assert appstore.entries(page) == []
    one = review(1, 5, "t", "x", 0)
    assert appstore.entries({"feed": {"entry": one}}) == [one]
    assert appstore.entries({"feed": {}}) == []
