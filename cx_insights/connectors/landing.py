"""Where connector rows go: contract-shaped JSON Lines files in the landing directory.

A resource yields rows already mapped to one contract entity, tagged with the
entity's qualified name as dlt table name (`tickets__tickets`). The dlt
destination below writes each batch as a new file
`<landing>/<source>/<entity>/<connector>-<entity>-<pulled at>-<load id>-<digest>.jsonl`:

* never an earlier file rewritten or deleted (the loader treats a vanished file as
  deleted rows), so a later pull of a key lands in a later file and wins;
* the name is a function of the load package and the batch's content, so dlt
  retrying a batch after a crash writes the same file again, byte for byte;
* written under a hidden name and renamed, so the loader never reads half a file.

Every row carries the contract's columns (null when the vendor has no value),
then the vendor's extra fields (schema drift, kept), then its lineage:
`cx_connector`, `cx_object` (the vendor object it came from) and `cx_pulled_at`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cx_insights.contract import Entity, entity

LINEAGE_COLUMNS = ("cx_connector", "cx_object", "cx_pulled_at")


@dataclass
class PullRun:
    """What one pull saw: rows written, failures, vendor fields that are new (drift)."""

    connector: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drift: dict[str, set[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def fail(self, resource: str, message: str) -> None:
        self.errors.append(f"{self.connector}.{resource}: {message}")

    def new_fields(self, vendor_object: str, fields: Iterable[str]) -> None:
        fields = set(fields)
        if fields:
            self.drift.setdefault(vendor_object, set()).update(fields)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(value: Any) -> str | None:
    """An instant as ISO 8601 UTC (`...Z`); unix seconds and ISO strings accepted."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        frac = f".{value.microsecond:06d}" if value.microsecond else ""
        return value.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    raise ValueError(f"not an instant: {value!r}")


def lineage(connector: str, vendor_object: str, pulled_at: str) -> dict[str, str]:
    return {"cx_connector": connector, "cx_object": vendor_object, "cx_pulled_at": pulled_at}


def extras(obj: Mapping[str, Any], known: Iterable[str], prefix: str) -> dict[str, Any]:
    """The vendor's fields we do not know (drift): kept as `<prefix>_<field>`."""
    known = set(known)
    return {f"{prefix}_{k}": v for k, v in obj.items() if k not in known and not k.startswith("_")}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def contract_row(e: Entity, item: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's columns in order, then extras, then lineage; values JSON-ready."""
    row = {c: _value(item.get(c)) for c in e.column_names}
    extra = sorted(k for k in item if k not in row and k not in LINEAGE_COLUMNS)
    row.update({k: _value(item[k]) for k in extra})
    row.update({k: _value(item.get(k)) for k in LINEAGE_COLUMNS})
    return row


def landing_file_name(connector: str, e: Entity, load_id: str, payload: bytes) -> str:
    pulled = datetime.fromtimestamp(float(load_id), UTC)
    digest = hashlib.sha256(payload).hexdigest()[:10]
    return f"{connector}-{e.name}-{pulled:%Y%m%dT%H%M%S}Z-{load_id}-{digest}.jsonl"


def write_rows(
    landing_dir: Path, connector: str, qualified: str, load_id: str, items: list[dict]
) -> Path:
    e = entity(qualified)
    lines = [json.dumps(contract_row(e, item), ensure_ascii=False) for item in items]
    payload = ("\n".join(lines) + "\n").encode()
    folder = landing_dir / e.source / e.name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / landing_file_name(connector, e, load_id, payload)
    tmp = folder / f".{target.name}.{os.getpid()}.tmp"
    tmp.write_bytes(payload)
    os.replace(tmp, target)
    return target


def landing_destination(landing_dir: Path, run: PullRun) -> Callable:
    """A dlt destination that lands each batch as one contract-shaped file."""
    import dlt

    def land(items: list[dict], table: dict) -> None:
        load_id = dlt.current.load_package_state()["load_id"]
        path = write_rows(landing_dir, run.connector, table["name"], load_id, list(items))
        run.rows[table["name"]] = run.rows.get(table["name"], 0) + len(items)
        run.files.append(str(path))

    return dlt.destination(
        land,
        name=f"cx_landing_{run.connector}",
        batch_size=100_000,
        loader_file_format="typed-jsonl",
        naming_convention="direct",
        max_table_nesting=0,
    )


def emit(qualified: str, row: Mapping[str, Any]) -> Any:
    """A contract row for dlt: every value as text (so dlt never splits a column into
    type variants when a vendor sends 5 then 4.5), tagged with its entity's table."""
    import dlt

    entity(qualified)  # fail early on a typo
    text = {}
    for k, v in row.items():
        v = _value(v)
        text[k] = None if v is None else (v if isinstance(v, str) else json.dumps(v))
    return dlt.mark.with_table_name(text, qualified)
