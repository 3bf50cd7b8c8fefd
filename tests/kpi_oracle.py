"""An independent calculation of kpis.md straight from a landing directory.

A test oracle: plain Python and pandas, no DuckDB SQL and no import of the
project's loader, gate or models (only `cx_insights.contract`, for the list of
entities, columns, keys and enums). It reads a landing directory laid out as
in landing-contract.md, applies the row rules, keeps the latest accepted row
per key, and computes the `company` and `segment` rows of `marts.kpi_monthly`.

API
---
* `kpi_monthly(landing_dir, reporting_currency="EUR", *, earliest=date(2000, 1, 1),
  today=None, days_ahead=1) -> pd.DataFrame`: the oracle's rows, with the columns
  of marts.kpi_monthly (`month` a datetime.date).
* `accepted_rows(landing_dir, ...) -> dict[str, pd.DataFrame]`: the typed latest
  accepted row per key of every entity the KPIs read (timestamps as int
  microseconds since the epoch, UTC; money as `Decimal`).
* `warehouse_kpis(duckdb_path, levels=("company", "segment")) -> pd.DataFrame`:
  those rows of marts.kpi_monthly from a built warehouse (opened read-only).
* `compare(oracle_df, warehouse_df, rel_tol=1e-9) -> list[str]`: the differences,
  one human-readable line each; empty when both agree (same set of (month, level,
  level_id, metric) for the levels the oracle computes; values, numerator,
  denominator and the NPS interval to `rel_tol`, both null counting as equal;
  `n` and `is_low_sample` exact).

Which rows exist (mirrors int_*_metrics_aggregated and kpi_monthly.sql)
-------------------------------------------------------------------------
* Months: every UTC calendar month from the first to the last month holding an
  observed instant of an accepted row: `responses.submitted_at`,
  `tickets.created_at`, `tickets.solved_at`, `events.occurred_at`,
  `invoices.issued_at`, `subscriptions.started_at` (never `ended_at`, a
  scheduled cancellation, interface.md). No such instant: no rows at all.
* Survey (`nps`, `csat`, `ces`), ticket (`tickets_created`,
  `median_first_response_minutes`, `avg_resolution_hours`) and web (`sessions`,
  `conversion_rate`, `bounce_rate`, `cart_abandonment_rate`) metrics: a row
  exists for a (month, level_id) only where the metric's sample is not empty
  (`n > 0`): answers of that metric; tickets created; tickets created with a
  first response; tickets solved; sessions; sessions with `add_to_cart`. A
  month without such data has no row (not a row with null or 0).
* Customer and revenue metrics (`active_customers_start`, `active_customers_end`,
  `new_customers`, `lost_customers`, `churn_rate`, `mrr_start`, `mrr_end`,
  `revenue_churn_rate`, `revenue`): a row for every month of the spine, at
  company level and for every segment that has a customer-month anywhere in the
  spine, with 0 for counts and sums where nothing happened and null for a
  ratio whose denominator is 0. A customer-month exists for a customer with a
  subscription with `started_at <= next_month_start` and (`ended_at` null or
  `ended_at > month_start`), or a paid invoice issued in that month.

numerator / denominator / n (mirrors int_*_metrics_aggregated and its yml)
--------------------------------------------------------------------------
* nps: numerator promoters - detractors, denominator answers, n answers, and
  ci_low / ci_high; csat: top-2-box answers / answers; conversion, bounce and
  cart abandonment: the session counts; churn_rate: lost / active at start;
  revenue_churn_rate: mrr_start of churned customers / mrr_start. Every other
  metric: numerator and denominator null. The ratio's value is
  100 x numerator / denominator, null when the denominator is 0.
* n: answers of the metric (survey); tickets created, tickets created with a
  first response, tickets solved; sessions, sessions with add_to_cart;
  active customers at start (active_customers_start, churn_rate, mrr_start,
  revenue_churn_rate), at end (active_customers_end, mrr_end), new customers
  (new_customers), start + new (lost_customers), paid invoices (revenue).
* `is_low_sample` is `n < 30`.

Segments and sessions
---------------------
* Segment level: the customer's current segment (latest accepted customers
  row), used as landed (no trimming or case folding, like the warehouse). A
  known customer whose segment is null counts under `unknown`, like an
  anonymous or unknown customer: the warehouse does `coalesce(segment,
  'unknown')`, and this oracle mirrors it.
* Sessions: events with a session_id form that session; events without one
  are sessionised per anonymous_id (a gap of more than 30 minutes between
  consecutive unsessioned events starts a new session). A given session id
  and a generated session are always different sessions, whatever their ids
  look like (the warehouse names generated sessions 'anon:<anonymous_id>:
  <first event_id>', which a given id can collide with). A session's month is
  its first event's, its customer that of its first event with a customer_id
  (by occurred_at, then event_id).

Not covered: the journey, job and touchpoint levels (touchpoint_rules), the
framework entities other than fx_rates, file-level failures other than a
missing required column, a column named twice or bytes that are not UTF-8
(symbolic links, permissions), schema drift reporting, and which rule a
quarantined row is reported under (only whether it is accepted).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path

import numpy as np
import pandas as pd

from cx_insights.contract import Entity, entity

KPI_COLUMNS = [
    "month",
    "level",
    "level_id",
    "metric",
    "value",
    "numerator",
    "denominator",
    "n",
    "ci_low",
    "ci_high",
    "is_low_sample",
]
KEY_COLUMNS = ["month", "level", "level_id", "metric"]
FLOAT_COLUMNS = ["value", "numerator", "denominator", "ci_low", "ci_high"]

#: The entities the KPIs read, in an order where every entity comes after those
#: its rules look up (answers after questions and responses, money after fx).
KPI_ENTITIES = (
    "framework__fx_rates",
    "feedback__questions",
    "feedback__responses",
    "feedback__answers",
    "crm__customers",
    "crm__subscriptions",
    "crm__invoices",
    "web__events",
    "tickets__tickets",
)

#: Instants of things that happened (an upper bound applies: not after the run
#: date plus `days_ahead`). Scheduled instants (ended_at) only get the lower bound.
OBSERVED = {
    "crm__customers": ("signed_up_at",),
    "crm__subscriptions": ("started_at",),
    "crm__invoices": ("issued_at",),
    "feedback__responses": ("submitted_at",),
    "web__events": ("occurred_at",),
    "tickets__tickets": ("created_at", "first_response_at", "solved_at"),
}

SESSION_GAP_US = 30 * 60 * 1_000_000
EPOCH = datetime(1970, 1, 1)
FAR_FUTURE_US = 2**62
MONEY_PLACES = Decimal("0.000000001")  # decimal(38, 9): the contract's decimal


# --- reading the landing directory ------------------------------------------------


class _UnreadableFile(Exception):
    pass


def _clean_name(name: str) -> str:
    return "".join(ch for ch in str(name) if ch.isprintable()).strip().lower()


def _columns_of(names: list[str]) -> list[str]:
    cleaned = [_clean_name(n) or f"unnamed_{i}" for i, n in enumerate(names, start=1)]
    if len(set(cleaned)) != len(cleaned):
        raise _UnreadableFile("a column appears twice (names are case-insensitive)")
    return cleaned


def _text(value: object) -> str | None:
    """A landed value as the text raw stores (empty text = null)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, (dict, list)):
        text = json.dumps(value)
    else:
        text = str(value)
    return None if text == "" else text


def _read_csv(path: Path):
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _UnreadableFile("not UTF-8") from exc
    rows = [
        r
        for r in csv.reader(io.StringIO(text, newline=""))
        if not (len(r) == 0 or (len(r) == 1 and r[0].strip(" \t\r") == ""))
    ]
    if not rows:
        return [], []
    names = _columns_of(rows[0])
    out: list[tuple[int, dict[str, str | None] | None]] = []
    for line, fields in enumerate(rows[1:], start=2):
        if len(fields) != len(names):
            out.append((line, None))  # wrong field count: a parse error
        else:
            out.append((line, {n: _text(v) for n, v in zip(names, fields, strict=True)}))
    return out, names


def _read_jsonl(path: Path):
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UnreadableFile("not UTF-8") from exc
    out: list[tuple[int, dict[str, str | None] | None]] = []
    names: dict[str, None] = {}
    for line, raw_line in enumerate(text.split("\n"), start=1):
        raw_line = raw_line.rstrip("\r")
        if raw_line.strip(" \t\r") == "":
            continue
        try:
            pairs = json.loads(raw_line, object_pairs_hook=lambda p: p)
        except ValueError:
            out.append((line, None))
            continue
        if not isinstance(pairs, list):
            out.append((line, None))
            continue
        record: dict[str, str | None] = {}
        for key, value in pairs:
            name = _clean_name(key) or "unnamed"
            if name in record:
                raise _UnreadableFile("an object holds one column twice")
            record[name] = _text(value)
            names[name] = None
        out.append((line, record))
    return out, list(names)


def _read_parquet(path: Path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = _columns_of(list(table.column_names))
    columns = [[_text(v) for v in table.column(i).to_pylist()] for i in range(len(names))]
    out = [
        (line, dict(zip(names, values, strict=True)))
        for line, values in enumerate(zip(*columns, strict=True), start=2)
    ]
    return out, names


READERS = {".csv": _read_csv, ".jsonl": _read_jsonl, ".parquet": _read_parquet}


def landed_rows(landing_dir: Path, e: Entity) -> list[dict]:
    """Every landed record of the entity, in update order (file modification time,
    then file path, then line), each with `_parse_error` set when it could not be
    parsed. Files that cannot be read at all load nothing."""
    folder = Path(landing_dir) / e.source / e.name
    if not folder.is_dir():
        return []
    files = []
    for path in folder.rglob("*"):
        if path.is_dir() or path.name.startswith((".", "_")):
            continue
        if path.suffix.lower() not in READERS:
            continue
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        files.append((mtime, path.relative_to(landing_dir).as_posix(), path))
    rows: list[dict] = []
    column_names = e.column_names
    for mtime, rel, path in sorted(files, key=lambda f: (f[0], f[1])):
        try:
            records, names = READERS[path.suffix.lower()](path)
        except _UnreadableFile:
            continue
        if any(c not in names for c in e.required_columns):
            continue  # a missing required column fails the whole file
        for line, record in records:
            if record is None:
                row = dict.fromkeys(column_names)
                row["_parse_error"] = True
            else:
                row = {c: record.get(c) for c in column_names}
                row["_parse_error"] = False
            row["_file"], row["_line"], row["_mtime"] = rel, line, mtime
            rows.append(row)
    return rows


# --- typing -----------------------------------------------------------------------

_TS = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_timestamp(text: str | None) -> int | None:
    """ISO 8601 to microseconds since the epoch, UTC (an offset converted, none = UTC)."""
    if text is None:
        return None
    m = _TS.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, offset = m.groups()
    try:
        base = datetime(int(y), int(mo), int(d))
    except ValueError:
        return None
    hours, minutes, seconds = int(hh or 0), int(mi or 0), int(ss or 0)
    if hours > 24 or minutes > 59 or seconds > 59 or (hours == 24 and (minutes or seconds)):
        return None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    offset_minutes = 0
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        offset_minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        if offset_minutes > 14 * 60:
            return None  # UTC offsets run from -12:00 to +14:00
        if offset[0] == "-":
            offset_minutes = -offset_minutes
    stamp = base + timedelta(
        hours=hours, minutes=minutes - offset_minutes, seconds=seconds, microseconds=micros
    )
    delta = stamp - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", text.strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_decimal(text: str | None) -> Decimal | None:
    """A decimal(38, 9): rounded half away from zero to 9 places."""
    if text is None:
        return None
    s = text.strip()
    if not _DECIMAL.match(s):
        return None
    try:
        with localcontext() as ctx:
            ctx.prec = 80
            value = Decimal(s).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return value if abs(value) < Decimal(10) ** 29 else None


def parse_int(text: str | None) -> int | None:
    value = parse_decimal(text)
    if value is None or value != value.to_integral_value():
        return None  # "5.5" is not an int (DuckDB would round it to 6)
    return int(value)


def _enum_text(text: str | None) -> str | None:
    return None if text is None else text.strip(" ").lower()


def _currency_text(text: str | None) -> str | None:
    return None if text is None else text.strip(" ").upper()


def _id_text(text: str | None) -> str | None:
    return None if text is None else (text.strip(" ") or None)


def _as_landed(text: str | None) -> str | None:
    return text


def _parse_bool(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() in ("true", "t", "1", "yes", "y")


def _typer(e: Entity, column: str):
    """The function typing a landed text of the column (None when it does not parse).

    Enum columns are lower-cased and trimmed, currency upper-cased and trimmed,
    ids trimmed; any other text is used as landed."""
    c = e.column(column)
    by_type = {
        "timestamp": parse_timestamp,
        "date": parse_date,
        "decimal": parse_decimal,
        "int": parse_int,
        "bool": _parse_bool,
    }
    if c.type in by_type:
        return by_type[c.type]
    if c.enum:
        return _enum_text
    if column == "currency":
        return _currency_text
    if column.endswith("_id"):
        return _id_text
    return _as_landed


def us_of(d: date | datetime) -> int:
    dt = d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def datetime_of(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def month_of(us: int) -> date:
    dt = datetime_of(us)
    return date(dt.year, dt.month, 1)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


# --- the row rules and the latest accepted row per key ------------------------------


class FxTable:
    """Rates into the reporting currency: the latest on or before a date; the
    reporting currency itself is always 1 (whatever fx_rates says of it)."""

    def __init__(self, rates: pd.DataFrame, reporting_currency: str) -> None:
        self.reporting = reporting_currency
        self._by_currency: dict[str, tuple[np.ndarray, list[Decimal]]] = {}
        by_currency: dict[str, list[tuple[date, Decimal]]] = {}
        for r in rates.itertuples(index=False):
            by_currency.setdefault(r.currency, []).append((r.rate_date, r.rate_to_reporting))
        for currency, pairs in by_currency.items():
            pairs.sort(key=lambda p: p[0])
            self._by_currency[currency] = (
                np.array([p[0] for p in pairs], dtype="datetime64[D]"),
                [p[1] for p in pairs],
            )

    def first_date(self, currency: str) -> date | None:
        found = self._by_currency.get(currency)
        return found[0][0].astype(object) if found else None

    def rate(self, currency: str | None, on: date) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        found = self._by_currency.get(currency or "")
        if not found:
            return None
        dates, rates = found
        i = int(np.searchsorted(dates, np.datetime64(on, "D"), "right"))
        return rates[i - 1] if i > 0 else None


def _violations(
    e: Entity, raw: dict, t: dict, ctx: dict, rc: str, earliest: int, latest: int
) -> str | None:
    """The first rule the row breaks, or None when it is accepted (`earliest`: the
    first instant allowed, `latest`: the first instant an observed one may not reach,
    both in microseconds)."""
    if raw["_parse_error"]:
        return "parse_error"
    for c in e.required_columns:
        if raw[c] is None or raw[c].strip(" ") == "":
            return f"required:{c}"
    for c in e.columns:
        if c.type != "text" and raw[c.name] is not None and t[c.name] is None:
            return f"type:{c.name}"
    for c in e.columns:
        if c.type in ("timestamp", "date") and t[c.name] is not None:
            us = t[c.name] if c.type == "timestamp" else us_of(t[c.name])
            if us < earliest:
                return f"timestamp_in_window:{c.name}"
            if c.name in OBSERVED.get(e.qualified, ()) and us >= latest:
                return f"timestamp_in_window:{c.name}"
    for c in e.columns:
        if c.enum and t[c.name] is not None and t[c.name] not in c.enum:
            return f"enum:{c.name}"
    q = e.qualified
    if q == "framework__fx_rates" and t["rate_to_reporting"] <= 0:
        return "fx_rate_positive"
    if q == "crm__subscriptions":
        if t["mrr"] < 0:
            return "mrr_non_negative"
        if t["ended_at"] is not None and t["ended_at"] < t["started_at"]:
            return "ended_after_started"
        # Never quarantined for fx: MRR is measured at each month instant.
    if q == "tickets__tickets":
        for later in ("first_response_at", "solved_at"):
            if t[later] is not None and t[later] < t["created_at"]:
                return f"{later}_before_created"
    if q == "feedback__questions":
        metric, lo, hi = t["metric"], t["scale_min"], t["scale_max"]
        if metric != "verbatim" and (lo is None or hi is None):
            return "scale_required"
        if metric == "nps" and (lo != 0 or hi != 10):
            return "nps_scale_0_10"
        if metric != "verbatim" and lo >= hi:
            return "scale_ordered"
    if q == "feedback__answers":
        question = ctx["questions"].get(t["question_id"])
        if question is None:
            return "answer_question_exists"
        if t["response_id"] not in ctx["responses"]:
            return "answer_response_exists"  # waiting
        metric, lo, hi = question
        if metric == "verbatim" and t["value_text"] is None:
            return "answer_has_value"
        if metric != "verbatim":
            if t["value_number"] is None:
                return "answer_has_value"
            if t["value_number"] < lo or t["value_number"] > hi:
                return "answer_within_scale"
    money = {"crm__invoices": ("amount", "issued_at"), "web__events": ("revenue", "occurred_at")}
    if q in money:
        amount, when = money[q]
        if t[amount] is not None:
            if t["currency"] is None:
                return "amount_has_currency"
            fx: FxTable = ctx["fx"]
            first = fx.first_date(t["currency"])
            if t["currency"] != rc and (first is None or datetime_of(t[when]).date() < first):
                return "fx_rate_exists"  # waiting for a rate on or before that date
    return None


def accepted_rows(
    landing_dir: Path | str,
    reporting_currency: str = "EUR",
    *,
    earliest: date = date(2000, 1, 1),
    today: date | None = None,
    days_ahead: int = 1,
) -> dict[str, pd.DataFrame]:
    """Per entity (qualified name), the latest accepted row per key, typed.

    Every landed row is checked on its own first (required, type, date window,
    enum and the entity's rules, with the accepted rows of the entities it
    looks up); only the rows that pass take part in the latest-row-per-key
    choice, so a rejected update never replaces an accepted row.
    """
    landing_dir = Path(landing_dir)
    rc = reporting_currency.strip().upper()
    latest = (today or datetime.now(UTC).date()) + timedelta(days=days_ahead + 1)
    first_us, end_us = us_of(earliest), us_of(latest)
    ctx: dict[str, object] = {}
    out: dict[str, pd.DataFrame] = {}
    for q in KPI_ENTITIES:
        e = entity(q)
        kept: dict[tuple, dict] = {}
        typers = [(c, _typer(e, c)) for c in e.column_names]
        for raw in landed_rows(landing_dir, e):
            t = {c: typer(raw[c]) for c, typer in typers}
            if _violations(e, raw, t, ctx, rc, first_us, end_us) is None:
                # Rows arrive in update order: a later accepted row replaces the key.
                key = tuple(t[k] for k in e.key)
                kept.pop(key, None)
                kept[key] = t
        frame = pd.DataFrame(list(kept.values()), columns=list(e.column_names), dtype=object)
        out[q] = frame
        if q == "framework__fx_rates":
            ctx["fx"] = FxTable(frame, rc)
        elif q == "feedback__questions":
            ctx["questions"] = {
                r.question_id: (r.metric, r.scale_min, r.scale_max)
                for r in frame.itertuples(index=False)
            }
        elif q == "feedback__responses":
            ctx["responses"] = set(frame["response_id"])
    out["_fx"] = ctx["fx"]  # type: ignore[assignment]
    return out


# --- the KPIs -----------------------------------------------------------------------


def _row(month, level, level_id, metric, value, n, numerator=None, denominator=None, ci=None):
    return {
        "month": month,
        "level": level,
        "level_id": level_id,
        "metric": metric,
        "value": None if value is None else float(value),
        "numerator": None if numerator is None else float(numerator),
        "denominator": None if denominator is None else float(denominator),
        "n": int(n),
        "ci_low": None if ci is None else ci[0],
        "ci_high": None if ci is None else ci[1],
        "is_low_sample": int(n) < 30,
    }


def _ratio(numerator, denominator):
    """100 x numerator / denominator in double precision; null when it is 0."""
    return None if denominator == 0 else 100 * float(numerator) / float(denominator)


def _levels(segment: str) -> list[tuple[str, str]]:
    return [("company", "all"), ("segment", segment)]


def _sessions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per web session: start, month, customer and the flags of kpis.md.

    An event with a session_id belongs to that session. The others (null
    session_id) are sessionised per anonymous_id, in (occurred_at, event_id)
    order: an event more than 30 minutes after the previous one starts a new
    session. The two kinds are kept apart by their key (a tuple), so a given
    session id can never merge with a generated one; the gaps are measured
    between the unsessioned events of the anonymous_id (as the warehouse does).
    """
    order = sorted(
        zip(
            events["occurred_at"],
            events["event_id"],
            events["anonymous_id"],
            events["session_id"],
            events["customer_id"],
            events["event_name"],
            strict=True,
        )
    )
    sessions: dict[tuple, dict] = {}
    last_seen: dict[str, tuple[int, str]] = {}  # anonymous_id -> (previous at, session)
    for at, event_id, anonymous_id, session_id, customer_id, name in order:
        if session_id is not None:
            key: tuple = ("given", session_id)
        else:
            previous = last_seen.get(anonymous_id)
            if previous is None or at - previous[0] > SESSION_GAP_US:
                first = event_id  # a new session, named after its first event
            else:
                first = previous[1]
            last_seen[anonymous_id] = (at, first)
            key = ("sessionised", anonymous_id, first)
        # Events come in (occurred_at, event_id) order: the first one seen is the
        # session's first event, and the first with a customer_id gives its customer.
        session = sessions.setdefault(key, {"started_at": at, "customer_id": None, "names": []})
        if session["customer_id"] is None and customer_id is not None:
            session["customer_id"] = customer_id
        session["names"].append(name)
    return pd.DataFrame(
        [
            {
                "started_at": v["started_at"],
                "customer_id": v["customer_id"],
                "has_purchase": "purchase" in v["names"],
                "has_cart": "add_to_cart" in v["names"],
                "is_bounce": v["names"] == ["page_view"],
            }
            for v in sessions.values()
        ],
        columns=["started_at", "customer_id", "has_purchase", "has_cart", "is_bounce"],
        dtype=object,
    )


def kpi_monthly(
    landing_dir: Path | str,
    reporting_currency: str = "EUR",
    *,
    earliest: date = date(2000, 1, 1),
    today: date | None = None,
    days_ahead: int = 1,
) -> pd.DataFrame:
    """The company and segment rows of marts.kpi_monthly, computed from the landing files."""
    acc = accepted_rows(
        landing_dir, reporting_currency, earliest=earliest, today=today, days_ahead=days_ahead
    )
    fx: FxTable = acc["_fx"]  # type: ignore[assignment]
    customers = acc["crm__customers"]
    questions = acc["feedback__questions"]
    responses = acc["feedback__responses"]
    answers = acc["feedback__answers"]
    subscriptions = acc["crm__subscriptions"]
    invoices = acc["crm__invoices"]
    events = acc["web__events"]
    tickets = acc["tickets__tickets"]

    # The customer's current segment; none, or not a customer: 'unknown' (as the
    # warehouse: coalesce(segment, 'unknown'); a segment is used as landed).
    segment_of = {
        r.customer_id: r.segment for r in customers.itertuples(index=False) if r.segment is not None
    }

    def segment(customer_id: str | None) -> str:
        return segment_of.get(customer_id, "unknown") if customer_id is not None else "unknown"

    # Month spine: observed instants only.
    instants: list[int] = []
    for frame, column in (
        (responses, "submitted_at"),
        (tickets, "created_at"),
        (tickets, "solved_at"),
        (events, "occurred_at"),
        (invoices, "issued_at"),
        (subscriptions, "started_at"),
    ):
        instants += [int(v) for v in frame[column] if v is not None and not pd.isna(v)]
    if not instants:
        return pd.DataFrame(columns=KPI_COLUMNS)
    months = [month_of(min(instants))]
    while months[-1] < month_of(max(instants)):
        months.append(next_month(months[-1]))
    rows: list[dict] = []

    # --- survey metrics ---
    question_of = {r.question_id: r for r in questions.itertuples(index=False)}
    response_of = {r.response_id: r for r in responses.itertuples(index=False)}
    survey: dict[tuple, dict[str, list]] = {}
    for a in answers.itertuples(index=False):
        question, response = question_of[a.question_id], response_of[a.response_id]
        if question.metric not in ("nps", "csat", "ces") or a.value_number is None:
            continue
        month = month_of(response.submitted_at)
        v = a.value_number
        for level in _levels(segment(response.customer_id)):
            bucket = survey.setdefault((month, *level), {"nps": [], "csat": [], "ces": []})
            if question.metric == "nps":
                bucket["nps"].append(1 if v >= 9 else (-1 if v <= 6 else 0))
            elif question.metric == "csat":
                bucket["csat"].append(v >= question.scale_max - 1)
            else:
                score = 1 + 6 * (float(v) - float(question.scale_min)) / float(
                    question.scale_max - question.scale_min
                )
                bucket["ces"].append(score)
    for (month, level, level_id), bucket in survey.items():
        if bucket["nps"]:
            n = len(bucket["nps"])
            promoters = bucket["nps"].count(1)
            detractors = bucket["nps"].count(-1)
            nps = _ratio(promoters - detractors, n)
            p, d = promoters / n, detractors / n
            se = 100 * math.sqrt((p + d - (p - d) * (p - d)) / n)
            ci = (nps - 1.96 * se, nps + 1.96 * se)
            rows.append(_row(month, level, level_id, "nps", nps, n, promoters - detractors, n, ci))
        if bucket["csat"]:
            n, top = len(bucket["csat"]), sum(bucket["csat"])
            rows.append(_row(month, level, level_id, "csat", _ratio(top, n), n, top, n))
        if bucket["ces"]:
            # The scores summed exactly (as decimals), then divided in double.
            with localcontext() as c:
                c.prec = 80
                total = sum(
                    Decimal(s).quantize(Decimal("1e-18"), rounding=ROUND_HALF_UP)
                    for s in bucket["ces"]
                )
            n = len(bucket["ces"])
            rows.append(_row(month, level, level_id, "ces", float(total) / n, n))

    # --- ticket metrics ---
    created: dict[tuple, list] = {}
    solved: dict[tuple, list] = {}
    for tk in tickets.itertuples(index=False):
        levels = _levels(segment(tk.customer_id))
        for level in levels:
            bucket = created.setdefault((month_of(tk.created_at), *level), [0, []])
            bucket[0] += 1
            if tk.first_response_at is not None and not pd.isna(tk.first_response_at):
                bucket[1].append((int(tk.first_response_at) - int(tk.created_at)) / 1e6 / 60)
            if tk.solved_at is not None and not pd.isna(tk.solved_at):
                solved.setdefault((month_of(tk.solved_at), *level), []).append(
                    int(tk.solved_at) - int(tk.created_at)
                )
    for (month, level, level_id), (count, firsts) in created.items():
        rows.append(_row(month, level, level_id, "tickets_created", count, count))
        if firsts:
            median = float(np.median(np.array(firsts, dtype=float)))
            rows.append(
                _row(month, level, level_id, "median_first_response_minutes", median, len(firsts))
            )
    for (month, level, level_id), micros in solved.items():
        hours = sum(micros) / 1e6 / len(micros) / 3600
        rows.append(_row(month, level, level_id, "avg_resolution_hours", hours, len(micros)))

    # --- web metrics ---
    web: dict[tuple, list[int]] = {}
    for s in _sessions(events).itertuples(index=False):
        for level in _levels(segment(s.customer_id)):
            b = web.setdefault((month_of(s.started_at), *level), [0, 0, 0, 0, 0])
            b[0] += 1
            b[1] += bool(s.has_purchase)
            b[2] += bool(s.is_bounce)
            b[3] += bool(s.has_cart)
            b[4] += bool(s.has_cart and not s.has_purchase)
    for (month, level, level_id), (count, bought, bounced, carts, abandoned) in web.items():
        rows.append(_row(month, level, level_id, "sessions", count, count))
        rows.append(
            _row(
                month,
                level,
                level_id,
                "conversion_rate",
                _ratio(bought, count),
                count,
                bought,
                count,
            )
        )
        rows.append(
            _row(
                month, level, level_id, "bounce_rate", _ratio(bounced, count), count, bounced, count
            )
        )
        if carts:
            rows.append(
                _row(
                    month,
                    level,
                    level_id,
                    "cart_abandonment_rate",
                    _ratio(abandoned, carts),
                    carts,
                    abandoned,
                    carts,
                )
            )

    rows += _customer_rows(months, subscriptions, invoices, fx, segment)
    frame = pd.DataFrame(rows, columns=KPI_COLUMNS)
    for c in FLOAT_COLUMNS:
        frame[c] = frame[c].astype(float)
    frame["n"] = frame["n"].astype("int64")
    frame["is_low_sample"] = frame["is_low_sample"].astype(bool)
    return frame.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)


def _customer_month(customers: dict[str, dict], customer_id: str) -> dict:
    return customers.setdefault(
        customer_id,
        {
            "start": False,
            "end": False,
            "in": False,
            "mrr_start": Decimal(0),
            "mrr_end": Decimal(0),
            "revenue": Decimal(0),
            "paid": 0,
        },
    )


def _customer_rows(months, subscriptions, invoices, fx: FxTable, segment) -> list[dict]:
    """Customer and revenue metrics: every spine month, company and every segment seen."""
    bounds = [us_of(m) for m in months] + [us_of(next_month(months[-1]))]
    b = np.array(bounds, dtype=np.int64)
    subs = subscriptions.reset_index(drop=True)
    started = np.array([int(v) for v in subs["started_at"]], dtype=np.int64)
    ends = np.array(
        [FAR_FUTURE_US if v is None or pd.isna(v) else int(v) for v in subs["ended_at"]],
        dtype=np.int64,
    )
    # Active at each instant t of the spine: started_at <= t < ended_at.
    active = (started[:, None] <= b[None, :]) & (ends[:, None] > b[None, :])
    # Active at some instant of [month_start, next_month_start).
    in_month = (started[:, None] < b[None, 1:]) & (
        ends[:, None] > np.maximum(started[:, None], b[None, :-1])
    )
    # The warehouse's customer-month (which segments get rows at all).
    overlaps = (started[:, None] <= b[None, 1:]) & (ends[:, None] > b[None, :-1])
    # MRR in the reporting currency at each instant (no rate: adds 0, still active).
    with localcontext() as c:
        c.prec = 80
        rates = {
            (cur, i): fx.rate(cur, datetime_of(bounds[i]).date())
            for cur in set(subs["currency"])
            for i in range(len(bounds))
        }
    sub_rows = list(zip(subs["customer_id"], subs["currency"], subs["mrr"], strict=True))
    paid_by_month: dict[date, list] = {}
    for inv in invoices.itertuples(index=False):
        if inv.status == "paid":
            paid_by_month.setdefault(month_of(inv.issued_at), []).append(inv)

    members: set[str] = set()
    per_month: list[dict[str, dict]] = []
    for i, month in enumerate(months):
        customers: dict[str, dict] = {}

        with localcontext() as c:
            c.prec = 80
            for j in np.flatnonzero(overlaps[:, i]):
                customer_id, currency, mrr = sub_rows[j]
                cm = _customer_month(customers, customer_id)
                cm["start"] |= bool(active[j, i])
                cm["end"] |= bool(active[j, i + 1])
                cm["in"] |= bool(in_month[j, i])
                for instant, column in ((i, "mrr_start"), (i + 1, "mrr_end")):
                    rate = rates[(currency, instant)]
                    if active[j, instant] and rate is not None:
                        cm[column] += mrr * rate
            for inv in paid_by_month.get(month, []):
                rate = fx.rate(inv.currency, datetime_of(inv.issued_at).date())
                cm = _customer_month(customers, inv.customer_id)
                cm["revenue"] += inv.amount * rate  # the gate holds back rows without a rate
                cm["paid"] += 1
        per_month.append(customers)
        members |= {segment(cid) for cid in customers}

    rows = []
    for month, customers in zip(months, per_month, strict=True):
        for level, level_id in [("company", "all")] + [("segment", s) for s in sorted(members)]:
            chosen = [
                cm
                for cid, cm in customers.items()
                if level == "company" or segment(cid) == level_id
            ]
            start = sum(cm["start"] for cm in chosen)
            end = sum(cm["end"] for cm in chosen)
            new = sum(cm["in"] and not cm["start"] for cm in chosen)
            lost = start + new - end
            with localcontext() as c:
                c.prec = 80
                mrr_start = sum((cm["mrr_start"] for cm in chosen), Decimal(0))
                mrr_end = sum((cm["mrr_end"] for cm in chosen), Decimal(0))
                churned = sum(
                    (cm["mrr_start"] for cm in chosen if cm["start"] and not cm["end"]),
                    Decimal(0),
                )
                revenue = sum((cm["revenue"] for cm in chosen), Decimal(0))
            paid_count = sum(cm["paid"] for cm in chosen)
            args = (month, level, level_id)
            rows += [
                _row(*args, "active_customers_start", start, start),
                _row(*args, "active_customers_end", end, end),
                _row(*args, "new_customers", new, new),
                _row(*args, "lost_customers", lost, start + new),
                _row(*args, "churn_rate", _ratio(lost, start), start, lost, start),
                _row(*args, "mrr_start", mrr_start, start),
                _row(*args, "mrr_end", mrr_end, end),
                _row(
                    *args,
                    "revenue_churn_rate",
                    _ratio(churned, mrr_start),
                    start,
                    churned,
                    mrr_start,
                ),
                _row(*args, "revenue", revenue, paid_count),
            ]
    return rows


# --- the warehouse and the comparison ----------------------------------------------------


def warehouse_kpis(
    duckdb_path: Path | str, levels: Iterable[str] = ("company", "segment")
) -> pd.DataFrame:
    """Rows of marts.kpi_monthly of a built warehouse at the given levels."""
    import duckdb

    levels = list(levels)
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        frame = con.execute(
            f"select {', '.join(KPI_COLUMNS)} from marts.kpi_monthly "
            f"where level in ({', '.join('?' for _ in levels)})",
            levels,
        ).df()
    frame["month"] = [pd.Timestamp(m).date() for m in frame["month"]]
    return frame


def _same(a: object, b: object, rel_tol: float) -> bool:
    a_null = a is None or (isinstance(a, float) and math.isnan(a))
    b_null = b is None or (isinstance(b, float) and math.isnan(b))
    if a_null or b_null:
        return a_null and b_null
    return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-12)


def compare(
    oracle_df: pd.DataFrame, warehouse_df: pd.DataFrame, rel_tol: float = 1e-9
) -> list[str]:
    """Human-readable differences between the oracle and the warehouse (empty: equal).

    Only the levels the oracle computes are compared (company and segment).
    """
    levels = set(oracle_df["level"]) or {"company", "segment"}

    def keyed(frame: pd.DataFrame) -> dict[tuple, dict]:
        frame = frame[frame["level"].isin(levels)]
        out = {}
        for r in frame.to_dict("records"):
            month = r["month"]
            month = month.date() if isinstance(month, datetime) else month
            out[(month, r["level"], r["level_id"], r["metric"])] = r
        return out

    ours, theirs = keyed(oracle_df), keyed(warehouse_df)
    diffs: list[str] = []

    def name(k: tuple) -> str:
        return f"{k[0].isoformat()} {k[1]}:{k[2]} {k[3]}"

    for k in sorted(ours.keys() - theirs.keys()):
        diffs.append(f"{name(k)}: missing in the warehouse (oracle value {ours[k]['value']!r})")
    for k in sorted(theirs.keys() - ours.keys()):
        diffs.append(
            f"{name(k)}: only in the warehouse (value {theirs[k]['value']!r}, n {theirs[k]['n']})"
        )
    for k in sorted(ours.keys() & theirs.keys()):
        o, w = ours[k], theirs[k]
        for column in FLOAT_COLUMNS:
            if not _same(o[column], w[column], rel_tol):
                diffs.append(f"{name(k)}: {column} oracle {o[column]!r} != warehouse {w[column]!r}")
        if int(o["n"]) != int(w["n"]):
            diffs.append(f"{name(k)}: n oracle {o['n']} != warehouse {w['n']}")
        if bool(o["is_low_sample"]) != bool(w["is_low_sample"]):
            diffs.append(
                f"{name(k)}: is_low_sample oracle {o['is_low_sample']} "
                f"!= warehouse {w['is_low_sample']}"
            )
    return diffs
