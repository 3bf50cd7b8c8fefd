"""How fast each connector maps and lands a first pull, against the local stubs.

    .venv/bin/python benchmarks/connectors.py --records 20000

Each connector pulls N records (App Store: the feed's 500 at most) from its stub
(the same stubs the tests use, served by pytest-httpserver on localhost; GA4 from
export files on disk) at the vendor's default page size, into a fresh landing
folder. The time is our side only (HTTP on localhost, mapping, dlt, files): a
real first pull is bounded by the vendor's rate limits, which the README
estimates per system. Prints one line per connector.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_httpserver import HTTPServer  # noqa: E402

from cx_insights.config import load_settings  # noqa: E402
from cx_insights.connectors import appstore, ga4, posthog, qualtrics, stripe, zendesk  # noqa: E402
from cx_insights.connectors.runner import pull_connector  # noqa: E402
from tests.stubs import appstore as appstore_stub  # noqa: E402
from tests.stubs import ga4 as ga4_stub  # noqa: E402
from tests.stubs import posthog as posthog_stub  # noqa: E402
from tests.stubs import qualtrics as qualtrics_stub  # noqa: E402
from tests.stubs import stripe as stripe_stub  # noqa: E402
from tests.stubs import zendesk as zendesk_stub  # noqa: E402


def stubs(n: int, root: Path, url: str, server: HTTPServer) -> dict[str, tuple]:
    zd = zendesk_stub.ZendeskStub()
    zd.stream = [zendesk_stub.ticket(i, reply=i % 90) for i in range(1, n + 1)]
    zd.ratings = []
    st = stripe_stub.StripeStub()
    st.objects["customers"] = [
        stripe_stub.customer(f"cus_{i}", 1_780_000_000 + i, f"c{i}@example.com", "C", "DE", "smb")
        for i in range(n)
    ]
    qx = qualtrics_stub.QualtricsStub()
    qx.responses = [
        qualtrics_stub.response(i % 300, i % 11, 1 + i % 7, 1 + i % 5, "ok")
        | {"responseId": f"R_b{i}"}
        for i in range(n)
    ]
    ph = posthog_stub.PostHogStub()
    ph.events = [
        posthog_stub.event(i, i / 10, "$pageview", f"d{i % 997}", f"s{i // 5}", "/")
        for i in range(n)
    ]
    ap = appstore_stub.AppStoreStub(per_page=50)
    ap.reviews = [appstore_stub.review(i, 1 + i % 5, "t", "text", i / 24) for i in range(500)]
    for stub in (zd, st, qx, ph, ap):
        stub.register(server)
    (root / "qualtrics.yml").write_text(qualtrics_stub.MAPPING)
    export = root / "ga4" / "analytics_1"
    export.mkdir(parents=True)
    day = [
        ga4_stub.event(f"{i % 997}.1", i // 5, i / 10, "page_view", "/", index=i) for i in range(n)
    ]
    (export / "events_20260910.json.gz").write_bytes(
        gzip.compress("\n".join(json.dumps(e) for e in day).encode())
    )
    zenv = zd.env(url) | {"ZENDESK_PAGE_SIZE": "1000"}
    senv = st.env(url) | {"STRIPE_PAGE_SIZE": "100"}
    penv = ph.env(url) | {"POSTHOG_PAGE_SIZE": "10000"}
    return {
        "zendesk": (zendesk.SPEC, zenv, "tickets"),
        "stripe": (stripe.SPEC, senv, "customers"),
        "qualtrics": (qualtrics.SPEC, qx.env(url, str(root / "qualtrics.yml")), "responses"),
        "ga4": (ga4.SPEC, {"GA4_EXPORT_URL": str(root / "ga4")}, "events"),
        "posthog": (posthog.SPEC, penv, "events"),
        "appstore": (appstore.SPEC, ap.env(url), "reviews"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = HTTPServer()
    server.start()
    print(
        f"{'connector':10} {'object':10} {'records':>8} {'rows landed':>12} {'seconds':>8} "
        f"{'records/s':>10}"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            url = server.url_for("/")
            for name, (spec, env, obj) in stubs(args.records, root, url, server).items():
                os.environ.update(env)
                settings = load_settings(
                    {
                        "CX_LANDING_DIR": str(root / name / "landing"),
                        "CX_WAREHOUSE": str(root / name / "w" / "cx.duckdb"),
                        "CX_PII_SALT": "bench",
                    }
                )
                started = time.perf_counter()
                result = pull_connector(settings, spec, resources=[obj])
                seconds = time.perf_counter() - started
                records = next(
                    (
                        v
                        for k, v in result.rows.items()
                        if k.endswith(("responses", "events", "tickets", "customers"))
                    ),
                    0,
                )
                print(
                    f"{name:10} {obj:10} {records:>8} {sum(result.rows.values()):>12} "
                    f"{seconds:>8.1f} {records / seconds:>10.0f}"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
