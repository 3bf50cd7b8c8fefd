"""GA4's BigQuery export, as files -> `web/events`.

Reads the export's `events_YYYYMMDD` (and `events_intraday_*`) tables as exported
files (newline-delimited JSON, plain or gzip, or Parquet) from a folder or bucket
(`GA4_EXPORT_URL`: a local folder, `gs://`, `s3://`, ... as dlt's filesystem
source reads them) with dlt's `filesystem` source, incremental on each file's
modification time: a day GA4 re-exports (late events) is read again, and its
events land again under the same ids, so the later file wins and nothing doubles.

Mapping (one row per event):
* `event_id`: GA4 has none; a digest of what identifies an event
  (`user_pseudo_id`, `event_timestamp`, `event_name`, the batch fields,
  `event_bundle_sequence_id` and the parameters), `ga4-<40 hex>`;
* `anonymous_id` = `user_pseudo_id`, `customer_id` = `user_id`;
* `session_id` = `<user_pseudo_id>.<ga_session_id>` (GA4's `ga_session_id` is
  unique per user only); `occurred_at` = `event_timestamp` (microseconds, UTC);
* `page_path` = the path of the `page_location` parameter;
* `revenue`, `currency` for `purchase`: `ecommerce.purchase_revenue` (else the
  `value` parameter) in the `currency` parameter.
A file that cannot be read stops the pull naming the file and line; nothing of
that pull lands and the cursor stays, so the next pull reads it again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from cx_insights.connectors.landing import PullRun, emit, iso, lineage, now_iso
from cx_insights.connectors.settings import ConnectorError, ConnectorSettings, ConnectorSpec

NAME = "ga4"
#: Top-level fields of the export schema; any other is a change of it (drift).
EVENT_FIELDS = frozenset(
    [
        "event_date",
        "event_timestamp",
        "event_name",
        "event_params",
        "event_previous_timestamp",
        "event_value_in_usd",
        "event_bundle_sequence_id",
        "event_server_timestamp_offset",
        "user_id",
        "user_pseudo_id",
        "privacy_info",
        "user_properties",
        "user_first_touch_timestamp",
        "user_ltv",
        "device",
        "geo",
        "app_info",
        "traffic_source",
        "stream_id",
        "platform",
        "event_dimensions",
        "ecommerce",
        "items",
        "collected_traffic_source",
        "is_active_user",
        "batch_event_index",
        "batch_ordering_id",
        "batch_page_id",
        "session_traffic_source_last_click",
        "publisher",
    ]
)


def params(event: Mapping[str, Any]) -> dict[str, Any]:
    """`event_params` as key -> value (whichever of the typed values is set)."""
    out: dict[str, Any] = {}
    for p in event.get("event_params") or []:
        value = p.get("value") or {}
        for kind in ("string_value", "int_value", "double_value", "float_value"):
            if value.get(kind) is not None:
                out[p.get("key")] = value[kind]
                break
    return out


def event_id(event: Mapping[str, Any]) -> str:
    parts = [
        event.get(k)
        for k in (
            "user_pseudo_id",
            "event_timestamp",
            "event_name",
            "batch_page_id",
            "batch_ordering_id",
            "batch_event_index",
            "event_bundle_sequence_id",
        )
    ]
    identity = json.dumps([[str(p) if p is not None else None for p in parts], _canonical(event)])
    return "ga4-" + hashlib.sha1(identity.encode()).hexdigest()


def _canonical(event: Mapping[str, Any]) -> list:
    return sorted([k, str(v)] for k, v in params(event).items())


def _micros(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return iso(int(value) / 1_000_000)


def event_row(event: Mapping[str, Any], where: str, pulled_at: str) -> dict[str, Any]:
    p = params(event)
    pseudo = event.get("user_pseudo_id")
    session = p.get("ga_session_id")
    location = p.get("page_location")
    name = event.get("event_name")
    revenue = currency = None
    if name == "purchase":
        revenue = (event.get("ecommerce") or {}).get("purchase_revenue")
        if revenue is None:
            revenue = p.get("value")
        currency = p.get("currency")
    return {
        "event_id": event_id(event),
        "anonymous_id": None if pseudo is None else str(pseudo),
        "customer_id": None if event.get("user_id") in (None, "") else str(event["user_id"]),
        "session_id": f"{pseudo}.{session}" if session is not None and pseudo else None,
        "occurred_at": _micros(event.get("event_timestamp")),
        "event_name": name,
        "page_path": urlsplit(str(location)).path or "/" if location else None,
        "revenue": revenue,
        "currency": None if currency is None else str(currency).upper(),
        "ga4_transaction_id": (event.get("ecommerce") or {}).get("transaction_id"),
        **lineage(NAME, where, pulled_at),
    }


def read_events(name: str, payload: bytes) -> Iterator[tuple[int, dict]]:
    """(line or row number, event) of an exported file; ConnectorError names file and line."""
    if payload[:4] == b"PAR1":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(payload))
        for n, record in enumerate(table.to_pylist(), start=1):
            yield n, record
        return
    if payload[:2] == b"\x1f\x8b":
        payload = gzip.decompress(payload)
    for n, line in enumerate(payload.decode("utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ConnectorError(f"ga4: {name} line {n}: not a JSON object ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ConnectorError(f"ga4: {name} line {n}: not a JSON object")
        yield n, record


def build_source(settings: ConnectorSettings, run: PullRun) -> Any:
    import dlt
    from dlt.sources.filesystem import filesystem

    files = filesystem(
        bucket_url=settings.get("GA4_EXPORT_URL"),
        file_glob=settings.get("GA4_FILE_GLOB", "**/events_*"),
    )
    files.apply_hints(incremental=dlt.sources.incremental("modification_date"))

    @dlt.transformer(name="events")
    def events(items: list[dict]) -> Iterator[Any]:
        pulled_at = now_iso()
        for item in items:
            name = item["file_name"]
            for n, record in read_events(name, item.read_bytes()):
                run.new_fields("ga4 event", set(record) - EVENT_FIELDS)
                missing = [k for k in ("user_pseudo_id", "event_timestamp") if not record.get(k)]
                if missing or not record.get("event_name"):
                    raise ConnectorError(
                        f"ga4: {name} line {n}: no {', '.join(missing) or 'event_name'}: "
                        "not a GA4 export row"
                    )
                yield emit("web__events", event_row(record, f"file/{name}#{n}", pulled_at))

    @dlt.source(name=NAME)
    def ga4() -> Any:
        return [files | events]

    return ga4()


SPEC = ConnectorSpec(
    name=NAME,
    title="GA4 (BigQuery export files)",
    required=("GA4_EXPORT_URL",),
    optional=("GA4_FILE_GLOB",),
    secret_names=(),
    resources=("events",),
    build_source=build_source,
    default_base_url=None,
    lands={"events": "web/events"},
)
