"""Stripe connector against its local stub: lists, cursors, events, money, MRR."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from cx_insights.connectors import stripe
from cx_insights.connectors.runner import pull_connector
from cx_insights.connectors.settings import ConnectorError
from tests.stubs.stripe import API_KEY, StripeStub, _unix, customer, price, subscription
from tests.test_connectors_zendesk import rows, settings_for


@pytest.fixture
def stub(httpserver):  # noqa: ANN001
    s = StripeStub()
    s.register(httpserver)
    return s


def test_money_and_mrr():
    assert stripe.from_minor(120000, "jpy") == Decimal(120000)
    assert stripe.from_minor(1999, "usd") == Decimal("19.99")
    assert stripe.from_minor(1500, "kwd") == Decimal("1.500")
    sub = subscription(
        "s",
        "c",
        0,
        "usd",
        [(price("p", 120000, "usd", "year", "y"), 1), (price("q", 500, "usd", "month", "m"), 3)],
    )
    assert stripe.subscription_mrr(sub) == Decimal(100 + 15)


def test_pull_lands_crm(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    stub.faults.flaky_once.add("subscriptions")  # a 503, retried with backoff
    result = pull_connector(settings, stripe.SPEC)
    assert result.ok
    subs = {r["subscription_id"]: r for r in rows(settings.landing_dir, "crm", "subscriptions")}
    assert subs["sub_usd"]["mrr"] == "100" and subs["sub_usd"]["currency"] == "USD"
    assert subs["sub_jpy"]["mrr"] == "10000" and subs["sub_jpy"]["currency"] == "JPY"
    assert subs["sub_usd"]["started_at"] == "2026-09-05T09:00:00Z"
    assert subs["sub_usd"]["plan"] == "team" and subs["sub_usd"]["ended_at"] is None
    invoices = {r["invoice_id"]: r for r in rows(settings.landing_dir, "crm", "invoices")}
    assert sorted(invoices) == ["in_jpy1", "in_usd1"]  # a draft is not issued
    assert invoices["in_jpy1"]["amount"] == "120000" and invoices["in_usd1"]["amount"] == "100.00"
    customers = {r["customer_id"]: r for r in rows(settings.landing_dir, "crm", "customers")}
    assert customers["cus_US1"]["email"] == "Ann.Lee@Example.com"
    assert customers["cus_US1"]["segment"] == "smb" and customers["cus_JP1"]["country_code"] == "JP"
    assert customers["cus_US1"]["signed_up_at"] == "2026-09-02T09:00:00Z"


def test_cancellation_arrives_through_events(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    pull_connector(settings, stripe.SPEC)
    ended = _unix(2026, 11, 20)
    now = int(time.time())  # the event happens after the first pull
    stub.change(
        "subscriptions",
        "sub_usd",
        "customer.subscription.deleted",
        now + 1,
        status="canceled",
        ended_at=ended,
    )
    stub.add(
        "customers", customer("cus_NEW", _unix(2026, 11, 21), "n@example.com", "N", "FR", "smb")
    )
    result = pull_connector(settings, stripe.SPEC)
    assert result.rows == {"crm__subscriptions": 1, "crm__customers": 1}
    latest = {r["subscription_id"]: r for r in rows(settings.landing_dir, "crm", "subscriptions")}
    assert latest["sub_usd"]["ended_at"] == "2026-11-20T09:00:00Z"


def test_failed_page_resumes_inside_the_listing(stub, httpserver, tmp_path, monkeypatch):  # noqa: ANN001
    for n in range(5):
        stub.add(
            "customers",
            customer(f"cus_X{n}", _unix(2026, 9, 10 + n), f"x{n}@e.com", "X", "DE", "smb"),
        )
    settings = settings_for(tmp_path, monkeypatch, stub.env(httpserver.url_for("/")))
    stub.faults.failing_pages.add(("customers", 3))
    with pytest.raises(ConnectorError) as err:
        pull_connector(settings, stripe.SPEC, resources=["customers"])
    assert API_KEY not in str(err.value)
    assert len(rows(settings.landing_dir, "crm", "customers")) == 4  # pages 1 and 2
    stub.faults.failing_pages.clear()
    pull_connector(settings, stripe.SPEC, resources=["customers"])
    ids = [r["customer_id"] for r in rows(settings.landing_dir, "crm", "customers")]
    assert sorted(ids) == sorted({*ids}) and len(ids) == 8
    assert pull_connector(settings, stripe.SPEC, resources=["customers"]).rows == {}
