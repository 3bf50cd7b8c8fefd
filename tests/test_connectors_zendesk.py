"""Zendesk connector against its local stub: stub -> dlt -> contract-shaped landing files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cx_insights.config import load_settings
from cx_insights.connectors import zendesk
from cx_insights.connectors.runner import pull_connector, read_status, state_dir
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.zendesk import TOKEN, ZendeskStub


@pytest.fixture
def stub(httpserver):  # noqa: ANN001
    s = ZendeskStub()
    s.register(httpserver)
    return s


def rows(landing: Path, source: str, entity: str) -> list[dict]:
    out = []
    for f in sorted((landing / source / entity).glob("*.jsonl"), key=lambda p: p.stat().st_mtime):
        out += [json.loads(line) for line in f.read_text().splitlines()]
    return out


def settings_for(tmp_path: Path, monkeypatch, env: dict) -> object:  # noqa: ANN001
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CX_CONNECTOR_BACKOFF_SECONDS", "0.01")
    return load_settings(
        {
            "CX_LANDING_DIR": str(tmp_path / "landing"),
            "CX_WAREHOUSE": str(tmp_path / "w/cx.duckdb"),
            "CX_PII_SALT": "x",
        }
    )


def test_pull_lands_contract_rows(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    stub.faults.rate_limit_once.add("tickets")  # 429 + Retry-After: 1, honoured
    started = time.monotonic()
    result = pull_connector(settings, zendesk.SPEC)
    assert time.monotonic() - started >= 1.0
    assert result.ok
    tickets = {r["ticket_id"]: r for r in rows(settings.landing_dir, "tickets", "tickets")}
    assert sorted(tickets) == [str(i) for i in range(1, 9)]
    t1 = tickets["1"]
    assert t1["status"] == "solved" and t1["channel"] == "email" and t1["category"] == "Delivery"
    assert t1["created_at"] == "2026-09-02T09:00:00Z"
    assert t1["first_response_at"] == "2026-09-02T09:10:00Z"
    assert t1["solved_at"] == "2026-09-02T14:00:00Z"
    assert t1["customer_id"] == "50001" and t1["agent_id"] == "7001"
    assert t1["cx_connector"] == "zendesk" and t1["cx_object"] == "ticket/1" and t1["cx_pulled_at"]
    assert [tickets[str(i)]["channel"] for i in range(1, 6)] == [
        "email",
        "web",
        "chat",
        "phone",
        "social",
    ]
    assert tickets["7"]["status"] == "closed" and tickets["7"]["cx_deleted"] == "true"
    assert tickets["8"]["cx_merged"] == "true"
    assert tickets["6"]["first_response_at"] is None and tickets["6"]["status"] == "open"
    answers = rows(settings.landing_dir, "feedback", "answers")
    csat = [a for a in answers if a["question_id"] == "zendesk_csat"]
    assert sorted(a["value_number"] for a in csat) == ["1", "5", "5", "5"]
    questions = {q["question_id"]: q for q in rows(settings.landing_dir, "feedback", "questions")}
    assert questions["zendesk_csat"]["metric"] == "csat"
    assert (questions["zendesk_csat"]["scale_min"], questions["zendesk_csat"]["scale_max"]) == (
        "1",
        "5",
    )
    assert len(rows(settings.landing_dir, "feedback", "responses")) == 4
    assert not any(k.startswith("_") for r in answers for k in r)
    status = read_status(state_dir(settings, "zendesk"))
    assert status["last_status"] == "success" and status["cursors"]["tickets"]["after_cursor"]


def test_second_pull_brings_only_changes(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    pull_connector(settings, zendesk.SPEC)
    stub.update_ticket(6, status="solved")
    result = pull_connector(settings, zendesk.SPEC)
    assert result.rows == {"tickets__tickets": 1, "feedback__questions": 2}
    latest = {r["ticket_id"]: r for r in rows(settings.landing_dir, "tickets", "tickets")}
    assert latest["6"]["status"] == "solved"


def test_failed_page_resumes_without_gaps_or_duplicates(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    env = {**stub.env(httpserver.url_for("/")), "ZENDESK_PAGE_SIZE": "3"}
    settings = settings_for(tmp_path, monkeypatch, env)
    stub.faults.failing_pages.add(("tickets", 2))
    with pytest.raises(ConnectorError) as err:
        pull_connector(settings, zendesk.SPEC)
    assert "HTTP 500" in str(err.value) and TOKEN not in str(err.value)
    first = rows(settings.landing_dir, "tickets", "tickets")
    assert [r["ticket_id"] for r in first] == ["1", "2", "3"]
    assert read_status(state_dir(settings, "zendesk"))["last_status"] == "failed"
    stub.faults.failing_pages.clear()
    pull_connector(settings, zendesk.SPEC)
    resumed = rows(settings.landing_dir, "tickets", "tickets")
    assert [r["ticket_id"] for r in resumed] == [str(i) for i in range(1, 9)]
    # The same rows as one uninterrupted pull (nothing skipped, nothing twice).
    clean = settings_for(tmp_path / "clean", monkeypatch, env)
    pull_connector(clean, zendesk.SPEC)

    def strip(rs: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "cx_pulled_at"} for r in rs]

    assert strip(resumed) == strip(rows(clean.landing_dir, "tickets", "tickets"))


def test_new_vendor_field_is_kept_and_reported(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    stub.stream[0][0]["ai_summary"] = "customer asks about a parcel"
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    result = pull_connector(settings, zendesk.SPEC)
    assert result.drift == {"zendesk ticket": ["ai_summary"]}
    t1 = next(r for r in rows(settings.landing_dir, "tickets", "tickets") if r["ticket_id"] == "1")
    assert t1["zendesk_ai_summary"] == "customer asks about a parcel"


def test_wrong_token_fails_without_leaking_it(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    env = {**stub.env(httpserver.url_for("/")), "ZENDESK_API_TOKEN": "wrong-token-123456"}
    settings = settings_for(tmp_path, monkeypatch, env)
    with pytest.raises(ConnectorError) as err:
        pull_connector(settings, zendesk.SPEC)
    assert "HTTP 401" in str(err.value)
    assert "wrong-token-123456" not in str(err.value)
    for f in state_dir(settings, "zendesk").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".log", ".txt", ""):
            assert "wrong-token-123456" not in f.read_text(errors="ignore"), f


def test_dagster_assets_keep_secrets_out_of_events(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    import dagster as dg

    from orchestration.defs.connectors.assets import connector_asset
    from orchestration.resources import CxSettingsResource

    settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    monkeypatch.setenv("CX_PII_SALT", "x")
    cx = CxSettingsResource(
        landing_dir=str(tmp_path / "landing"), warehouse=str(tmp_path / "w" / "cx.duckdb")
    )
    ok = dg.materialize([connector_asset(zendesk.SPEC)], resources={"cx": cx})
    assert ok.success
    keys = {e.asset_key.to_user_string() for e in ok.get_asset_materialization_events()}
    assert keys == {"connectors/zendesk/tickets", "connectors/zendesk/satisfaction_ratings"}
    monkeypatch.setenv("ZENDESK_API_TOKEN", "bad-token-987654")
    failed = dg.materialize(
        [connector_asset(zendesk.SPEC)], resources={"cx": cx}, raise_on_error=False
    )
    assert not failed.success
    for result, secret in ((ok, TOKEN), (failed, "bad-token-987654")):
        text = repr([e.event_specific_data for e in result.all_events])
        assert secret not in text
    assert "HTTP 401" in repr([e.event_specific_data for e in failed.all_events])
