"""Stripe -> `crm/customers`, `crm/subscriptions`, `crm/invoices`.

Each list (`/v1/customers`, `/v1/subscriptions?status=all`, `/v1/invoices`) is read
newest first with `limit` + `starting_after` and `created[gt]` = the newest
`created` of the last complete listing. Inside a listing the position
(`starting_after`) is kept after each page, so a page that fails resumes there
and the `created` cursor moves only when the listing is complete.

Changes to objects already landed (a subscription cancelled, an invoice paid,
a customer's segment) come from `/v1/events` (same cursor), as the object's
current state fetched again, so a later row of the same key replaces the old.

Money: minor units to decimals per currency (JPY and the other zero-decimal
currencies have none, BHD/KWD/... three). MRR: the sum over the subscription's
items of `unit_amount x quantity` per month (`year` / 12, `week` x 52 / 12,
`day` x 365 / 12, divided by `interval_count`). Discounts and taxes are not in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from cx_insights.connectors.http import ApiError, HttpClient
from cx_insights.connectors.landing import PullRun, emit, extras, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorSettings, ConnectorSpec

NAME = "stripe"

#: https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

MONTHS_PER = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}

INVOICE_STATUSES = {"paid": "paid", "open": "open", "void": "void", "uncollectible": "open"}

CUSTOMER_FIELDS = frozenset(
    [
        "id",
        "object",
        "address",
        "balance",
        "created",
        "currency",
        "default_source",
        "delinquent",
        "description",
        "discount",
        "email",
        "invoice_prefix",
        "invoice_settings",
        "livemode",
        "metadata",
        "name",
        "next_invoice_sequence",
        "phone",
        "preferred_locales",
        "shipping",
        "tax_exempt",
        "test_clock",
        "cash_balance",
        "invoice_credit_balance",
        "tax",
        "tax_ids",
        "sources",
        "subscriptions",
        "business_name",
        "individual_name",
        "deleted",
    ]
)

EVENT_TYPES = (
    "customer.updated",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.updated",
    "invoice.paid",
    "invoice.voided",
    "invoice.marked_uncollectible",
)


def decimals(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def from_minor(amount: int | str | None, currency: str) -> Decimal | None:
    if amount is None:
        return None
    return Decimal(str(amount)).scaleb(-decimals(currency))


def item_mrr(item: dict, currency: str) -> Decimal:
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or price  # legacy plans carry interval themselves
    interval = recurring.get("interval")
    if interval not in MONTHS_PER:
        return Decimal(0)  # a one-off price adds no recurring revenue
    count = Decimal(recurring.get("interval_count") or 1)
    unit = price.get("unit_amount_decimal") or price.get("unit_amount") or price.get("amount")
    amount = from_minor(unit, currency) or Decimal(0)
    quantity = Decimal(item.get("quantity") or 1)
    return amount * quantity / (MONTHS_PER[interval] * count)


def subscription_mrr(sub: dict) -> Decimal:
    currency = sub.get("currency") or ""
    total = sum(
        (item_mrr(i, currency) for i in (sub.get("items") or {}).get("data", [])), Decimal(0)
    )
    return total.quantize(Decimal("0.000001")).normalize() if total else Decimal(0)


def _plan(sub: dict) -> str | None:
    for item in (sub.get("items") or {}).get("data", []):
        price = item.get("price") or item.get("plan") or {}
        name = price.get("nickname") or price.get("lookup_key") or price.get("product")
        if isinstance(name, dict):
            name = name.get("name") or name.get("id")
        if name:
            return str(name)
    return None


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "") else str(value)


def customer_row(c: dict, pulled_at: str) -> dict:
    meta = c.get("metadata") or {}
    return {
        "customer_id": c["id"],
        "email": c.get("email"),
        "full_name": c.get("name"),
        "signed_up_at": iso(c.get("created")),
        "country_code": ((c.get("address") or {}).get("country") or None),
        "segment": meta.get("segment"),
        "age_band": meta.get("age_band"),
        "acquisition_channel": meta.get("acquisition_channel"),
        **extras(c, CUSTOMER_FIELDS, "stripe"),
        **lineage(NAME, f"customer/{c['id']}", pulled_at),
    }


def subscription_row(s: dict, pulled_at: str) -> dict:
    return {
        "subscription_id": s["id"],
        "customer_id": _id(s.get("customer")),
        "plan": _plan(s),
        "mrr": subscription_mrr(s),
        "currency": (s.get("currency") or "").upper() or None,
        "started_at": iso(s.get("start_date") or s.get("created")),
        "ended_at": iso(s.get("ended_at") or s.get("cancel_at")),
        "stripe_status": s.get("status"),
        **lineage(NAME, f"subscription/{s['id']}", pulled_at),
    }


def invoice_row(i: dict, pulled_at: str) -> dict | None:
    status = INVOICE_STATUSES.get(i.get("status") or "")
    if status is None:  # a draft is not issued yet
        return None
    currency = (i.get("currency") or "").upper()
    finalized = (i.get("status_transitions") or {}).get("finalized_at")
    return {
        "invoice_id": i["id"],
        "customer_id": _id(i.get("customer")),
        "issued_at": iso(finalized or i.get("created")),
        "amount": from_minor(i.get("total", i.get("amount_due")), currency),
        "currency": currency or None,
        "status": status,
        "stripe_status": i.get("status"),
        **lineage(NAME, f"invoice/{i['id']}", pulled_at),
    }


ROWS = {
    "customer": ("crm__customers", customer_row),
    "subscription": ("crm__subscriptions", subscription_row),
    "invoice": ("crm__invoices", invoice_row),
}


def listing(
    client: HttpClient,
    run: PullRun,
    resource: str,
    path: str,
    state: dict,
    params: dict[str, Any],
) -> Iterator[dict]:
    """Objects created after the cursor, newest first, page by page; the state keeps the
    position inside the listing, and the cursor moves when the listing is complete."""
    query: dict[str, Any] = dict(params)
    if state.get("created_gt") is not None:
        query["created[gt]"] = state["created_gt"]
    if state.get("starting_after"):
        query["starting_after"] = state["starting_after"]
    newest = state.get("pending_newest", state.get("created_gt"))
    while True:
        try:
            page = client.get_json(path, query)
        except ApiError as exc:
            run.fail(resource, f"{exc} (the cursor stays at the last good page)")
            raise StopListing from None
        data = page.get("data") or []
        for obj in data:
            yield obj
            if obj.get("created") is not None and (newest is None or obj["created"] > newest):
                newest = obj["created"]
        if not (page.get("has_more") and data):
            break
        state["starting_after"] = query["starting_after"] = data[-1]["id"]
        state["pending_newest"] = newest
    state.pop("starting_after", None)
    state.pop("pending_newest", None)
    if newest is not None:
        state["created_gt"] = newest


class StopListing(Exception):
    """A page failed (already recorded on the run): stop this resource here."""


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt

    client = HttpClient(
        settings.base_url,
        headers={"Authorization": f"Bearer {settings.get('STRIPE_API_KEY')}"},
        secrets=settings.secrets(),
    )
    limit = int(settings.get("STRIPE_PAGE_SIZE", "100"))
    pull_started = int(_now())

    def lister(kind: str, path: str, extra: dict[str, Any]) -> Any:
        table, to_row = ROWS[kind]

        def objects() -> Iterator[Any]:
            state = dlt.current.resource_state()
            try:
                for obj in listing(client, run, f"{kind}s", path, state, {"limit": limit, **extra}):
                    if kind == "customer":
                        run.new_fields("stripe customer", set(obj) - CUSTOMER_FIELDS)
                    row = to_row(obj, now_iso())
                    if row is not None:
                        yield emit(table, row)
            except StopListing:
                return

        return dlt.resource(objects, name=f"{kind}s")

    @dlt.resource(name="events")
    def events() -> Iterator[Any]:
        """Objects changed since the last pull, fetched again in their current state."""
        state = dlt.current.resource_state()
        if state.get("created_gt") is None and not state.get("starting_after"):
            # First pull: the lists bring every object as it is now; changes from here on.
            state["created_gt"] = pull_started - 1
            return
        params = {"limit": limit, "types[]": list(EVENT_TYPES)}
        seen: set[str] = set()
        try:
            for event in listing(client, run, "events", "/v1/events", state, params):
                obj = ((event.get("data") or {}).get("object")) or {}
                kind, oid = obj.get("object"), obj.get("id")
                if kind not in ROWS or not oid or (kind, oid) in seen:
                    continue
                seen.add((kind, oid))
                try:
                    current = client.get_json(f"/v1/{kind}s/{oid}")
                except ApiError as exc:
                    run.fail("events", f"{exc} (the cursor stays at the last good page)")
                    return
                if current.get("deleted"):
                    run.notes.append(f"stripe {kind} {oid} was deleted; its landed rows stay")
                    continue
                table, to_row = ROWS[kind]
                row = to_row(current, now_iso())
                if row is not None:
                    yield emit(table, row)
        except StopListing:
            return

    @dlt.source(name=NAME)
    def stripe() -> Any:
        return [
            lister("customer", "/v1/customers", {}),
            lister("subscription", "/v1/subscriptions", {"status": "all"}),
            lister("invoice", "/v1/invoices", {}),
            events(),
        ]

    return stripe()


def _now() -> float:
    import time

    return time.time()


SPEC = ConnectorSpec(
    name=NAME,
    title="Stripe",
    required=("STRIPE_API_KEY",),
    optional=("STRIPE_PAGE_SIZE",),
    secret_names=("STRIPE_API_KEY",),
    resources=("customers", "subscriptions", "invoices", "events"),
    build_source=build_source,
    default_base_url=lambda v: "https://api.stripe.com",
    lands={
        "customers": "crm/customers",
        "subscriptions": "crm/subscriptions",
        "invoices": "crm/invoices",
        "events": "crm/customers, crm/subscriptions, crm/invoices (changed objects)",
    },
)
