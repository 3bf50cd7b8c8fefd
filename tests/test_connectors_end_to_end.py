"""Stubs -> `cx-insights pull` -> `cx-insights run` -> marts: the KPIs equal a hand count.

One warehouse build for every connector together (the slow tier).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from cx_insights.config import SAMPLE_LANDING_DIR
from tests.conftest import run_cli
from tests.stubs import appstore as appstore_stub
from tests.stubs import ga4 as ga4_stub
from tests.stubs import posthog as posthog_stub
from tests.stubs import qualtrics as qualtrics_stub
from tests.stubs import stripe as stripe_stub
from tests.stubs import zendesk as zendesk_stub

FX = (
    "rate_date,currency,rate_to_reporting\n"
    "2026-01-01,EUR,1\n2026-01-01,USD,0.9\n2026-01-01,JPY,0.006\n"
)
SECRETS = (zendesk_stub.TOKEN, stripe_stub.API_KEY, qualtrics_stub.TOKEN, posthog_stub.API_KEY)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    server = HTTPServer()
    server.start()
    zd, st = zendesk_stub.ZendeskStub(), stripe_stub.StripeStub()
    qx, ph, ap = (
        qualtrics_stub.QualtricsStub(),
        posthog_stub.PostHogStub(),
        appstore_stub.AppStoreStub(),
    )
    for stub in (zd, st, qx, ph, ap):
        stub.register(server)
    zd.faults.rate_limit_once.add("tickets")
    root = tmp_path_factory.mktemp("connectors")
    (root / "qualtrics.yml").write_text(qualtrics_stub.MAPPING)
    ga4_stub.write_export(root / "ga4" / "analytics_123456")
    landing, warehouse = root / "landing", root / "w" / "cx.duckdb"
    # The CX team's reference data (not a system's): the sample's framework and our rates.
    shutil.copytree(SAMPLE_LANDING_DIR / "framework", landing / "framework")
    shutil.rmtree(landing / "framework" / "fx_rates")
    (landing / "framework" / "fx_rates").mkdir(parents=True)
    (landing / "framework" / "fx_rates" / "fx.csv").write_text(FX)
    env = {
        **zd.env(server.url_for("/")),
        **st.env(server.url_for("/")),
        **qx.env(server.url_for("/"), str(root / "qualtrics.yml")),
        **ph.env(server.url_for("/")),
        **ap.env(server.url_for("/")),
        "GA4_EXPORT_URL": str(root / "ga4"),
        "CX_CONNECTOR_BACKOFF_SECONDS": "0.01",
    }
    pulled = run_cli(["pull"], landing, warehouse, **env)
    ran = run_cli(["run"], landing, warehouse, **env)
    status = run_cli(["status"], landing, warehouse, **env)
    yield pulled, ran, status, landing, warehouse
    server.stop()


def kpi(warehouse: Path, metric: str, month: str = "2026-09-01") -> float | None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select value from marts.kpi_monthly where level = 'company' and metric = ? "
            "and month = cast(? as date)",
            [metric, month],
        ).fetchone()
    return None if row is None else row[0]


def test_pull_then_run_builds_the_marts(built):  # noqa: ANN001
    pulled, ran, status, landing, warehouse = built
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "Binder Error" in ran.stderr or ran.returncode == 0, ran.stdout + ran.stderr
    assert (landing / "tickets" / "tickets").is_dir() and (
        landing / "crm" / "subscriptions"
    ).is_dir()
    # Zendesk: 8 tickets; first replies 10, 30, 20, 60, 45 and 15 minutes -> median 25;
    # ratings good, good, bad, good -> CSAT 75.
    assert kpi(warehouse, "tickets_created") == 8
    assert kpi(warehouse, "median_first_response_minutes") == pytest.approx(25.0)
    assert kpi(warehouse, "csat") == pytest.approx(75.0)
    # Stripe: 2 x 50 USD monthly at 0.9 + 120,000 JPY yearly / 12 at 0.006 = 90 + 60 EUR.
    assert kpi(warehouse, "mrr_end") == pytest.approx(150.0)
    # Paid invoices: 100 USD at 0.9 + 120,000 JPY at 0.006 = 90 + 720 EUR.
    assert kpi(warehouse, "revenue") == pytest.approx(810.0)
    # Qualtrics: NPS 10, 9, 9, 7, 3 -> (3 - 1) / 5 = 40; CES 7, 6, 5, 2 on 1..7 -> 5.
    assert kpi(warehouse, "nps") == pytest.approx(40.0)
    assert kpi(warehouse, "ces") == pytest.approx(5.0)
    # GA4 files: 4 sessions, one buys, one bounces, one of two carts is left.
    assert kpi(warehouse, "sessions") == 4
    assert kpi(warehouse, "conversion_rate") == pytest.approx(25.0)
    assert kpi(warehouse, "bounce_rate") == pytest.approx(25.0)
    assert kpi(warehouse, "cart_abandonment_rate") == pytest.approx(50.0)
    # October: PostHog's 3 sessions (one order, one bounce, one cart left) and the
    # App Store's ratings 5, 4, 2, 1, 5 as CSAT (top-2-box 3 of 5).
    october = "2026-10-01"
    assert kpi(warehouse, "sessions", october) == 3
    assert kpi(warehouse, "conversion_rate", october) == pytest.approx(100 / 3)
    assert kpi(warehouse, "bounce_rate", october) == pytest.approx(100 / 3)
    assert kpi(warehouse, "cart_abandonment_rate", october) == pytest.approx(50.0)
    assert kpi(warehouse, "csat", october) == pytest.approx(60.0)


def test_every_system_landed_its_entities(built):  # noqa: ANN001
    landing = built[3]
    for connector, folder in [
        ("zendesk", "tickets/tickets"),
        ("stripe", "crm/invoices"),
        ("qualtrics", "feedback/responses"),
        ("appstore", "feedback/responses"),
        ("ga4", "web/events"),
        ("posthog", "web/events"),
    ]:
        assert list((landing / folder).glob(f"{connector}-*.jsonl")), (connector, folder)


def test_run_exits_zero(built):  # noqa: ANN001
    ran = built[1]
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_status_shows_each_connector(built):  # noqa: ANN001
    status = built[2].stdout
    assert "connectors (UTC)" in status
    zendesk_line = next(line for line in status.splitlines() if line.strip().startswith("zendesk"))
    assert "success" in zendesk_line
    assert "tickets: after_cursor=" in status and "subscriptions: created_gt=" in status
    for name in ("stripe", "qualtrics", "ga4", "posthog", "appstore"):
        line = next(x for x in status.splitlines() if x.strip().startswith(name))
        assert "success" in line, line
    assert f"{qualtrics_stub.SURVEY}.newest_recorded_at=" in status
    assert "us.newest_updated_at=" in status and "after_timestamp=" in status
    assert "filesystem: modification_date=" in status


def test_no_secret_in_output_files_or_warehouse(built):  # noqa: ANN001
    pulled, ran, status, landing, warehouse = built
    texts = [pulled.stdout, pulled.stderr, ran.stdout, ran.stderr, status.stdout]
    for path in [*landing.rglob("*"), *warehouse.parent.rglob("*")]:
        if path.is_file():
            texts.append(path.read_bytes().decode("latin-1"))
    for secret in SECRETS:
        assert not any(secret in t for t in texts), secret
