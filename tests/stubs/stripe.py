"""Stripe API stub.

List endpoints (`/v1/customers`, `/v1/subscriptions`, `/v1/invoices`, `/v1/events`)
return `{"object": "list", "url", "has_more", "data"}`, newest first, with `limit`,
`starting_after` and `created[gt]`; `/v1/<objects>/<id>` returns one object.
https://docs.stripe.com/api/pagination  https://docs.stripe.com/api/subscriptions/object
Authentication: `Authorization: Bearer <secret key>`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from werkzeug import Request, Response

from tests.stubs.common import Faults, bearer, json_response

API_KEY = "sk_test_51Stub0000SecretKey"


def _unix(y: int, m: int, d: int, h: int = 9) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp())


def customer(cid: str, created: int, email: str, name: str, country: str, segment: str) -> dict:
    return {
        "id": cid,
        "object": "customer",
        "address": {
            "city": None,
            "country": country,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": cid[-6:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {"segment": segment, "acquisition_channel": "paid_search"},
        "name": name,
        "next_invoice_sequence": 2,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def price(pid: str, amount: int, currency: str, interval: str, nickname: str) -> dict:
    return {
        "id": pid,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": _unix(2026, 1, 1),
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": f"prod_{nickname}",
        "recurring": {
            "aggregate_usage": None,
            "interval": interval,
            "interval_count": 1,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "type": "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def subscription(
    sid: str,
    cust: str,
    created: int,
    currency: str,
    items: list[tuple[dict, int]],
    status: str = "active",
    ended_at: int | None = None,
) -> dict:
    return {
        "id": sid,
        "object": "subscription",
        "billing_cycle_anchor": created,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": ended_at,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": cust,
        "default_payment_method": None,
        "description": None,
        "discount": None,
        "ended_at": ended_at,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sid}_{n}",
                    "object": "subscription_item",
                    "created": created,
                    "metadata": {},
                    "price": p,
                    "quantity": q,
                    "subscription": sid,
                }
                for n, (p, q) in enumerate(items)
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "start_date": created,
        "status": status,
        "trial_end": None,
        "trial_start": None,
    }


def invoice(iid: str, cust: str, created: int, total: int, currency: str, status: str) -> dict:
    return {
        "id": iid,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": total if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else total,
        "created": created,
        "currency": currency,
        "customer": cust,
        "livemode": False,
        "number": iid.upper(),
        "paid": status == "paid",
        "status": status,
        "status_transitions": {
            "finalized_at": created + 60,
            "marked_uncollectible_at": None,
            "paid_at": created + 120 if status == "paid" else None,
            "voided_at": None,
        },
        "subtotal": total,
        "total": total,
    }


#: MRR: sub_usd 2 x 50.00 USD monthly = 100 USD; sub_jpy 120,000 JPY yearly = 10,000 JPY.
#: At 0.9 EUR/USD and 0.006 EUR/JPY: 90 + 60 = 150 EUR.
class StripeStub:
    def __init__(self) -> None:
        self.faults = Faults()
        self.objects: dict[str, list[dict]] = {
            "customers": [],
            "subscriptions": [],
            "invoices": [],
            "events": [],
        }
        self.objects["customers"] += [
            customer("cus_US1", _unix(2026, 9, 2), "Ann.Lee@Example.com", "Ann Lee", "US", "smb"),
            customer("cus_JP1", _unix(2026, 9, 3), "ken@example.jp", "Ken Sato", "JP", "consumer"),
            customer("cus_US2", _unix(2026, 9, 4), "bo@example.com", "Bo Ray", "US", "consumer"),
        ]
        self.objects["subscriptions"] += [
            subscription(
                "sub_usd",
                "cus_US1",
                _unix(2026, 9, 5),
                "usd",
                [(price("price_team", 5000, "usd", "month", "team"), 2)],
            ),
            subscription(
                "sub_jpy",
                "cus_JP1",
                _unix(2026, 9, 6),
                "jpy",
                [(price("price_year", 120000, "jpy", "year", "annual"), 1)],
            ),
        ]
        self.objects["invoices"] += [
            invoice("in_usd1", "cus_US1", _unix(2026, 9, 5), 10000, "usd", "paid"),
            invoice("in_jpy1", "cus_JP1", _unix(2026, 9, 6), 120000, "jpy", "paid"),
            invoice("in_draft", "cus_US2", _unix(2026, 9, 7), 999, "usd", "draft"),
        ]

    def add(self, kind: str, obj: dict) -> None:
        self.objects[kind].append(obj)

    def change(self, kind: str, oid: str, event_type: str, at: int, **changes: object) -> None:
        """An object changes: its new state and an event pointing at it."""
        obj = next(o for o in self.objects[kind] if o["id"] == oid)
        obj.update(changes)
        n = len(self.objects["events"]) + 1
        self.objects["events"].append(
            {
                "id": f"evt_{n}",
                "object": "event",
                "api_version": "2024-06-20",
                "created": at,
                "data": {"object": dict(obj), "previous_attributes": {}},
                "livemode": False,
                "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )

    def list(self, kind: str, request: Request) -> Response:
        if bearer(request) != API_KEY:
            return json_response(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}},
                401,
            )
        items = sorted(self.objects[kind], key=lambda o: (o["created"], o["id"]), reverse=True)
        if "created[gt]" in request.args:
            items = [o for o in items if o["created"] > int(request.args["created[gt]"])]
        if kind == "subscriptions" and request.args.get("status") != "all":
            items = [o for o in items if o["status"] != "canceled"]
        if kind == "events" and request.args.getlist("types[]"):
            items = [o for o in items if o["type"] in request.args.getlist("types[]")]
        limit = int(request.args.get("limit", 10))
        start = 0
        if request.args.get("starting_after"):
            ids = [o["id"] for o in items]
            start = ids.index(request.args["starting_after"]) + 1
        fault = self.faults.check(kind, start // limit + 1)
        if fault:
            return fault
        page = items[start : start + limit]
        return json_response(
            {
                "object": "list",
                "url": f"/v1/{kind}",
                "data": page,
                "has_more": start + limit < len(items),
            }
        )

    def one(self, kind: str, request: Request) -> Response:
        if bearer(request) != API_KEY:
            return json_response({"error": {"message": "Invalid API Key provided"}}, 401)
        oid = request.path.rsplit("/", 1)[-1]
        for o in self.objects[kind]:
            if o["id"] == oid:
                return json_response(o)
        return json_response(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"No such {kind[:-1]}: '{oid}'",
                }
            },
            404,
        )

    def register(self, server) -> None:  # noqa: ANN001 - pytest_httpserver.HTTPServer
        import re

        for kind in ("customers", "subscriptions", "invoices", "events"):
            server.expect_request(f"/v1/{kind}").respond_with_handler(
                lambda r, k=kind: self.list(k, r)
            )
            server.expect_request(re.compile(rf"^/v1/{kind}/[^/]+$")).respond_with_handler(
                lambda r, k=kind: self.one(k, r)
            )

    def env(self, base_url: str) -> dict[str, str]:
        return {"STRIPE_API_KEY": API_KEY, "STRIPE_BASE_URL": base_url, "STRIPE_PAGE_SIZE": "2"}
