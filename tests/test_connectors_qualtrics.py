"""Qualtrics connector against its local stub: the asynchronous export, the mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cx_insights.connectors import qualtrics
from cx_insights.connectors.runner import pull_connector, read_status, state_dir
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.qualtrics import MAPPING, SURVEY, TOKEN, QualtricsStub, response
from tests.test_connectors_zendesk import rows, settings_for


@pytest.fixture
def stub(httpserver):  # noqa: ANN001
    s = QualtricsStub()
    s.register(httpserver)
    return s


def mapping_file(tmp_path: Path, text: str = MAPPING) -> str:
    path = tmp_path / "qualtrics.yml"
    path.write_text(text)
    return str(path)


def test_pull_lands_questions_responses_and_answers(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    env = stub.env(httpserver.url_for("/"), mapping_file(tmp_path))
    settings = settings_for(tmp_path, monkeypatch, env)
    stub.faults.rate_limit_once.add("export_start")
    result = pull_connector(settings, qualtrics.SPEC)
    assert result.ok
    questions = {q["question_id"]: q for q in rows(settings.landing_dir, "feedback", "questions")}
    assert sorted(questions) == [f"{SURVEY}/{c}" for c in ("QID1", "QID2", "QID3_1", "QID4_TEXT")]
    nps = questions[f"{SURVEY}/QID1"]
    assert (nps["metric"], nps["scale_min"], nps["scale_max"]) == ("nps", "0", "10")
    assert nps["question_text"] == "How likely are you to recommend us to a friend?"
    driver = questions[f"{SURVEY}/QID3_1"]
    assert (driver["metric"], driver["driver"], driver["scale_max"]) == ("driver", "speed", "5")
    responses = {r["response_id"]: r for r in rows(settings.landing_dir, "feedback", "responses")}
    assert len(responses) == 5
    r1 = responses["R_stub0001"]
    assert r1["customer_id"] == "cus_Q1" and r1["touchpoint_id"] == "TP-ONBOARD"
    assert r1["channel"] == "email" and r1["submitted_at"] == "2026-09-04T10:00:55Z"
    assert r1["cx_connector"] == "qualtrics" and r1["cx_object"] == "response/R_stub0001"
    answers = rows(settings.landing_dir, "feedback", "answers")
    scores = sorted(int(a["value_number"]) for a in answers if a["question_id"].endswith("QID1"))
    assert scores == [3, 7, 9, 9, 10]
    texts = [a["value_text"] for a in answers if a["question_id"].endswith("QID4_TEXT")]
    assert sorted(texts)[0] == "Fast delivery, thank you"
    assert not [a for a in answers if "QID9" in a["question_id"] or "_DO" in a["question_id"]]
    assert len(stub.jobs) == 1 and stub.jobs["ES_stub1"]["polls"] == 2


def test_second_pull_exports_from_the_cursor_and_lands_only_new_responses(
    stub, httpserver, tmp_path, monkeypatch
):  # noqa: ANN001
    settings = settings_for(
        tmp_path, monkeypatch, stub.env(httpserver.url_for("/"), mapping_file(tmp_path))
    )
    pull_connector(settings, qualtrics.SPEC)
    stub.add(response(9, 0, 1, 1, "Cancelled"))
    second = pull_connector(settings, qualtrics.SPEC)
    assert stub.export_bodies[1]["startDate"] == "2026-09-08T10:05:00Z"
    assert second.rows["feedback__responses"] == 1  # response 5, at the cursor, not again
    ids = [r["response_id"] for r in rows(settings.landing_dir, "feedback", "responses")]
    assert sorted(ids) == sorted({*ids}) and "R_stub0009" in ids
    cursor = read_status(state_dir(settings, "qualtrics"))["cursors"]["responses"]
    assert cursor[f"{SURVEY}.newest_recorded_at"] == "2026-09-12T10:09:00Z"
    third = pull_connector(settings, qualtrics.SPEC)
    assert third.rows.get("feedback__responses", 0) == 0


def test_an_answered_question_missing_from_the_mapping_is_named(
    stub, httpserver, tmp_path, monkeypatch
):  # noqa: ANN001
    text = MAPPING.replace("      QID2: {metric: ces, scale: [1, 7]}\n", "")
    settings = settings_for(
        tmp_path, monkeypatch, stub.env(httpserver.url_for("/"), mapping_file(tmp_path, text))
    )
    with pytest.raises(ConnectorError) as err:
        pull_connector(settings, qualtrics.SPEC)
    message = str(err.value)
    assert SURVEY in message and "QID2 ('How easy was it to get what you needed?'" in message
    assert "answered in 4 responses" in message and "qualtrics.yml" in message
    assert TOKEN not in message
    assert not (settings.landing_dir / "feedback").exists()  # nothing of the survey landed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("surveys: {}\n", "expected a 'surveys:' map"),
        (f"surveys:\n  {SURVEY}:\n    questions:\n      QID1: {{metric: stars}}\n", "'stars'"),
        (f"surveys:\n  {SURVEY}:\n    questions:\n      QID2: {{metric: csat}}\n", "scale"),
        (
            f"surveys:\n  {SURVEY}:\n    questions:\n      QID1: {{metric: nps, scale: [1, 10]}}\n",
            "[0, 10]",
        ),
        (
            f"surveys:\n  {SURVEY}:\n    questions:\n"
            "      QID3_1: {metric: driver, scale: [1, 5]}\n",
            "names its driver",
        ),
        ("surveys: [\n", "not valid YAML"),
    ],
)
def test_a_bad_mapping_is_a_clear_error(tmp_path, text, expected):  # noqa: ANN001
    path = mapping_file(tmp_path, text)
    with pytest.raises(qualtrics.MappingError) as err:
        qualtrics.load_mapping(path)
    assert expected in str(err.value) and path in str(err.value)


def test_a_failed_export_keeps_the_cursor_and_the_next_pull_lands_everything(
    stub, httpserver, tmp_path, monkeypatch
):  # noqa: ANN001
    settings = settings_for(
        tmp_path, monkeypatch, stub.env(httpserver.url_for("/"), mapping_file(tmp_path))
    )
    stub.fail_exports = 1
    with pytest.raises(ConnectorError, match="EXPORT_FAILED"):
        pull_connector(settings, qualtrics.SPEC)
    status = read_status(state_dir(settings, "qualtrics"))
    assert status["last_status"] == "failed" and not status.get("cursors", {}).get("responses")
    assert "EXPORT_FAILED" in status["last_error"]
    assert pull_connector(settings, qualtrics.SPEC).rows["feedback__responses"] == 5
