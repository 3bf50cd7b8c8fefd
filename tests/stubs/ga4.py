"""GA4 BigQuery export files, written as `bq extract` writes them.

Newline-delimited JSON (INT64 as strings, `event_params` as a repeated record of
`{key, value: {string_value, int_value, float_value, double_value}}`) and
Parquet (the same nesting, typed).
https://support.google.com/analytics/answer/7029846 (BigQuery Export schema)
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
HOST = "https://shop.example.com"


def _param(key: str, value: object) -> dict:
    typed = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}
    if isinstance(value, bool | int):
        typed["int_value"] = str(value)
    elif isinstance(value, float):
        typed["double_value"] = value
    else:
        typed["string_value"] = str(value)
    return {"key": key, "value": typed}


def event(
    user: str,
    session: int,
    minute: float,
    name: str,
    path: str,
    *,
    user_id: str | None = None,
    revenue: float | None = None,
    index: int = 0,
) -> dict:
    at = T0 + timedelta(minutes=minute)
    micros = int(at.timestamp() * 1_000_000)
    params = [
        _param("ga_session_id", session),
        _param("ga_session_number", 1),
        _param("page_location", f"{HOST}{path}?utm_source=news"),
        _param("page_title", path.strip("/") or "home"),
        _param("engagement_time_msec", 1200),
    ]
    ecommerce = None
    if revenue is not None:
        params += [_param("currency", "eur"), _param("value", revenue)]
        ecommerce = {
            "total_item_quantity": "1",
            "purchase_revenue_in_usd": revenue * 1.1,
            "purchase_revenue": revenue,
            "refund_value_in_usd": None,
            "refund_value": None,
            "shipping_value_in_usd": None,
            "shipping_value": None,
            "tax_value_in_usd": None,
            "tax_value": None,
            "unique_items": "1",
            "transaction_id": f"T-{user}-{session}",
        }
    return {
        "event_date": at.strftime("%Y%m%d"),
        "event_timestamp": str(micros),
        "event_name": name,
        "event_params": params,
        "event_previous_timestamp": None,
        "event_value_in_usd": None,
        "event_bundle_sequence_id": str(1000 + index),
        "event_server_timestamp_offset": "512",
        "user_id": user_id,
        "user_pseudo_id": user,
        "privacy_info": {
            "analytics_storage": "Yes",
            "ads_storage": "No",
            "uses_transient_token": "No",
        },
        "user_properties": [],
        "user_first_touch_timestamp": str(micros),
        "user_ltv": None,
        "device": {"category": "desktop", "operating_system": "Windows", "language": "en-us"},
        "geo": {"continent": "Europe", "country": "Germany", "region": "Berlin", "city": "Berlin"},
        "app_info": None,
        "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
        "stream_id": "4178000000",
        "platform": "WEB",
        "event_dimensions": None,
        "ecommerce": ecommerce,
        "items": [],
        "collected_traffic_source": None,
        "is_active_user": True,
        "batch_event_index": str(index),
        "batch_ordering_id": "1",
        "batch_page_id": str(micros // 1000),
        "session_traffic_source_last_click": None,
        "publisher": None,
    }


#: Four sessions on 2026-09-10: u1's first buys (59.90 EUR), u1's second is a single
#: page view (a bounce), u2 adds to cart and leaves, u3 reads two pages (Parquet file).
#: sessions 4, conversion 25 %, bounce 25 %, cart abandonment 50 %.
DAY1 = [
    event("111.1", 1, 0, "page_view", "/", user_id="cus_US1"),
    event("111.1", 1, 2, "add_to_cart", "/cart", user_id="cus_US1", index=1),
    event("111.1", 1, 4, "begin_checkout", "/checkout", user_id="cus_US1", index=2),
    event("111.1", 1, 6, "purchase", "/checkout/done", user_id="cus_US1", revenue=59.9, index=3),
    event("111.1", 2, 300, "page_view", "/help"),
    event("222.2", 7, 10, "page_view", "/shop"),
    event("222.2", 7, 12, "add_to_cart", "/cart", index=1),
]
PARQUET_DAY = [
    event("333.3", 9, 20, "page_view", "/"),
    event("333.3", 9, 21, "page_view", "/help/returns", index=1),
]


def write_export(folder: Path) -> list[Path]:
    """The export as files: one gzip JSON day, one Parquet day."""
    folder.mkdir(parents=True, exist_ok=True)
    json_file = folder / "events_20260910.json.gz"
    json_file.write_bytes(gzip.compress("\n".join(json.dumps(e) for e in DAY1).encode()))
    parquet_file = folder / "events_20260911.parquet"
    rows = [
        {
            **e,
            "event_timestamp": int(e["event_timestamp"]),
            "event_params": [
                {
                    "key": p["key"],
                    "value": {
                        "string_value": p["value"]["string_value"],
                        "int_value": None
                        if p["value"]["int_value"] is None
                        else int(p["value"]["int_value"]),
                        "double_value": p["value"]["double_value"],
                    },
                }
                for p in e["event_params"]
            ],
        }
        for e in PARQUET_DAY
    ]
    keep = (
        "event_date",
        "event_timestamp",
        "event_name",
        "event_params",
        "user_id",
        "user_pseudo_id",
        "batch_event_index",
        "platform",
    )
    table = pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows])
    pq.write_table(table, parquet_file)
    return [json_file, parquet_file]
