"""GA4 export files -> dlt filesystem source -> `web/events`."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from cx_insights.connectors import ga4
from cx_insights.connectors.runner import pull_connector
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.ga4 import DAY1, event, write_export
from tests.test_connectors_zendesk import rows, settings_for


@pytest.fixture
def export(tmp_path):  # noqa: ANN001
    folder = tmp_path / "ga4_export" / "analytics_123456"
    write_export(folder)
    return folder


def test_export_files_land_as_contract_events(export, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, {"GA4_EXPORT_URL": str(export.parent)})
    result = pull_connector(settings, ga4.SPEC)
    assert result.ok and result.rows == {"web__events": 9}
    events = rows(settings.landing_dir, "web", "events")
    assert len({e["event_id"] for e in events}) == 9
    purchase = next(e for e in events if e["event_name"] == "purchase")
    assert purchase["revenue"] == "59.9" and purchase["currency"] == "EUR"
    assert purchase["customer_id"] == "cus_US1" and purchase["anonymous_id"] == "111.1"
    assert purchase["session_id"] == "111.1.1" and purchase["page_path"] == "/checkout/done"
    assert purchase["occurred_at"] == "2026-09-10T12:06:00Z"
    assert purchase["ga4_transaction_id"] == "T-111.1-1"
    assert purchase["cx_object"].startswith("file/") and purchase["cx_object"].endswith("#4")
    from_parquet = [e for e in events if e["anonymous_id"] == "333.3"]
    assert [e["page_path"] for e in from_parquet] == ["/", "/help/returns"]
    assert {e["session_id"] for e in from_parquet} == {"333.3.9"}
    assert all(e["revenue"] is None for e in events if e["event_name"] != "purchase")


def test_only_new_or_rewritten_files_are_read_again(export, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, {"GA4_EXPORT_URL": str(export.parent)})
    pull_connector(settings, ga4.SPEC)
    assert pull_connector(settings, ga4.SPEC).rows.get("web__events", 0) == 0
    late = export / "events_20260910.json.gz"  # GA4 re-exports the day with a late event
    lines = [*DAY1, event("444.4", 3, 30, "page_view", "/")]
    late.write_bytes(gzip.compress("\n".join(json.dumps(e) for e in lines).encode()))
    os.utime(late, (late.stat().st_atime, late.stat().st_mtime + 60))
    again = pull_connector(settings, ga4.SPEC)
    assert again.rows == {"web__events": 8}
    ids = [e["event_id"] for e in rows(settings.landing_dir, "web", "events")]
    assert len(set(ids)) == 10  # the day's 7 events again under the same ids, plus the late one


def test_a_broken_file_is_named_with_its_line_and_nothing_lands(export, tmp_path, monkeypatch):  # noqa: ANN001
    (export / "events_20260912.json").write_text(json.dumps(DAY1[0]) + "\n{oops\n")
    settings = settings_for(tmp_path, monkeypatch, {"GA4_EXPORT_URL": str(export.parent)})
    with pytest.raises(ConnectorError, match=r"events_20260912.json line 2: not a JSON object"):
        pull_connector(settings, ga4.SPEC)
    assert not (settings.landing_dir / "web").exists()


def test_event_ids_are_stable_and_distinguish_events():
    first, second = DAY1[0], DAY1[1]
    assert ga4.event_id(first) == ga4.event_id(json.loads(json.dumps(first)))
    assert ga4.event_id(first) != ga4.event_id(second)
