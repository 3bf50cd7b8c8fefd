"""One incremental daily drop on top of an existing landing directory.

It reads what is there (customers, subscriptions, tickets and initiatives: the
latest row per key in load order) and writes new files only: the day's web
events, survey responses and answers (a few answers in a second, later file),
tickets created that day, a few new customers with their subscriptions, and
the invoices due that day, and updates by key: open tickets solved (JSON
Lines) and some subscriptions ended.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cx_insights.contract import ENTITIES, ENTITY_BY_QUALIFIED, FORMATS, SOURCES
from cx_insights.generate import framework as fw
from cx_insights.generate.chunk import (
    NEW,
    OPEN,
    PENDING,
    SOLVED,
    STATUSES,
    device_ids,
    survey_tables,
    ticket_states,
    ticket_table,
)
from cx_insights.generate.chunk_ids import customer_ids
from cx_insights.generate.crm import customer_table, subscription_ids, subscription_table
from cx_insights.generate.files import (
    NO_TIME,
    entity_table,
    ids,
    nulls,
    pin_mtime,
    stamp_text,
    ts_strings,
    write_table,
)
from cx_insights.generate.population import (
    BASE_CHURN,
    PLAN_SHARE,
    TICKET_RATE,
    Tickets,
    agent_quality,
    choice_rows,
    mrr_cents,
    ticket_rows,
)
from cx_insights.generate.surveys import (
    RELATIONAL_RATE,
    TICKET_SURVEY_SHARE,
    TRANSACTIONAL_RATE,
    answer,
    make_responses,
    transactional_touchpoints,
)
from cx_insights.generate.timeline import DAY, HOUR, SEASON, add_months
from cx_insights.generate.web import (
    KIND_ANONYMOUS,
    KIND_CUSTOMER,
    KIND_SIGNUP,
    Sessions,
    session_events,
)

_NEVER = 2**62
_DAYS_PER_MONTH = 30.44
#: New customers a day, per customer already in the landing directory.
_SIGNUPS_PER_CUSTOMER = 0.0009
#: Anonymous visitor sessions a day, per customer already in the landing directory.
_VISITS_PER_CUSTOMER = 0.8 * 2.2 / (24 * _DAYS_PER_MONTH)
#: Share of open tickets solved on the day.
_SOLVE_SHARE = 0.35


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def entity_files(out: Path, qualified: str) -> list[Path]:
    """The entity's landing files in load order (modification time, then name)."""
    e = ENTITY_BY_QUALIFIED[qualified]
    folder = Path(out) / e.source / e.name
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORMATS]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def read_text(path: Path) -> pa.Table:
    """A landing file with every column as text and names lower-cased."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=True
            ),
        )
    elif suffix == ".parquet":
        table = pq.read_table(path)
        table = table.cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
    else:
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        names = list(dict.fromkeys(k for r in rows for k in r))
        table = pa.table(
            {
                k: pa.array([None if r.get(k) is None else str(r[k]) for r in rows], pa.string())
                for k in names
            }
        )
    return table.rename_columns([c.strip().lower() for c in table.column_names])


def read_latest(out: Path, qualified: str) -> pa.Table:
    """The latest row per key of an entity (a later file wins, then a later line)."""
    e = ENTITY_BY_QUALIFIED[qualified]
    parts = []
    for path in entity_files(out, qualified):
        t = read_text(path)
        parts.append(
            pa.table(
                {c: t.column(c) if c in t.column_names else nulls(len(t)) for c in e.column_names}
            )
        )
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in e.column_names})
    table = pa.concat_tables(parts)
    table = table.append_column("_row", pa.array(np.arange(len(table))))
    last = table.group_by(list(e.key)).aggregate([("_row", "max")])
    keep = np.sort(last.column("_row_max").to_numpy())
    return table.take(pa.array(keep)).drop_columns(["_row"])


def epoch_seconds(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Epoch seconds of ISO 8601 text (offsets honoured, naive = UTC); NO_TIME for null."""
    text = pd.Series(values.to_pylist(), dtype=object)
    parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.fillna(NO_TIME).to_numpy(dtype=np.int64)


def _initiative_start(initiatives: pa.Table, initiative_id: str) -> int:
    rows = initiatives.filter(pc.equal(initiatives.column("initiative_id"), initiative_id))
    if len(rows) and rows.column("started_at")[0].is_valid:
        return int(epoch_seconds(rows.column("started_at").slice(0, 1))[0])
    return _NEVER


@dataclass
class _Active:
    """Customers with a valid subscription running at the start of the day."""

    subscription_rows: np.ndarray  # rows in the latest subscriptions table
    customer_id: pa.Array
    currency: np.ndarray
    segment: np.ndarray


def _active(subs: pa.Table, customers: pa.Table, day_start: int) -> _Active:
    started = epoch_seconds(subs.column("started_at"))
    ended = epoch_seconds(subs.column("ended_at"))
    mrr = pd.to_numeric(pd.Series(subs.column("mrr").to_pylist(), dtype=object), errors="coerce")
    valid = (mrr.fillna(-1).to_numpy() >= 0) & (started != NO_TIME)
    rows = np.flatnonzero(valid & (started < day_start) & (ended == NO_TIME))
    cust = subs.column("customer_id").to_numpy(zero_copy_only=False)[rows]
    _, first = np.unique(cust.astype(str), return_index=True)
    rows = rows[np.sort(first)]
    customer_id = subs.column("customer_id").take(pa.array(rows)).combine_chunks()
    currency = pc.index_in(subs.column("currency").take(pa.array(rows)), pa.array(fw.CURRENCIES))
    seg_of = dict(
        zip(
            customers.column("customer_id").to_pylist(),
            customers.column("segment").to_pylist(),
            strict=True,
        )
    )
    segment = pc.index_in(
        pa.array([seg_of.get(c) for c in customer_id.to_pylist()], pa.string()),
        pa.array(fw.SEGMENTS),
    )
    return _Active(
        subscription_rows=rows,
        customer_id=customer_id,
        currency=pc.fill_null(currency, 0).to_numpy(zero_copy_only=False),
        segment=pc.fill_null(segment, 0).to_numpy(zero_copy_only=False),
    )


def add_daily_drop(out: Path, seed: int, day: date) -> dict[str, int]:
    """Write one day's incremental drop as new files in `out`; rows written per entity.

    Deterministic for (landing directory, seed, day). The new files' names and
    modification times sort after everything already in `out`.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    out = Path(out)
    existing = [p for s in SOURCES if (out / s).is_dir() for p in (out / s).rglob("*")]
    existing = [p for p in existing if p.is_file()]
    if not existing:
        raise FileNotFoundError(f"{out} holds no landing data; run generate() first")
    rng = np.random.default_rng([seed, day.toordinal(), 0xDA])
    day_start = _epoch(day)
    stamp = max(day_start + DAY + HOUR, int(max(p.stat().st_mtime for p in existing)) + 60)
    ymd = day.strftime("%Y%m%d")
    season = SEASON[day.month - 1]

    customers = read_latest(out, "crm__customers")
    subs = read_latest(out, "crm__subscriptions")
    tickets = read_latest(out, "tickets__tickets")
    initiatives = read_latest(out, "framework__initiatives")
    checkout_at = _initiative_start(initiatives, "INI-01")
    callback_at = _initiative_start(initiatives, "INI-02")
    known = max(len(customers), 1)
    act = _active(subs, customers, day_start)
    a = len(act.customer_id)
    sat = rng.standard_normal(a)
    tables: dict[tuple[str, str], list[pa.Table]] = {}

    def add(qualified: str, table: pa.Table, variant: str = "") -> None:
        if table.num_rows:
            tables.setdefault((qualified, variant), []).append(table)

    # New customers sign up, each with a first subscription and a sign-up visit.
    n_new = max(1, int(rng.poisson(_SIGNUPS_PER_CUSTOMER * known)))
    numbers = int(ymd) * 10_000 + np.arange(1, n_new + 1)
    signup = day_start + rng.integers(0, DAY - HOUR, n_new)
    new_seg = rng.choice(3, n_new, p=fw.SEGMENT_SHARE)
    country = rng.choice(len(fw.COUNTRIES), n_new, p=[s for _, _, s in fw.COUNTRIES])
    new_cur = np.array([fw.CURRENCIES.index(fw.COUNTRIES[c][1]) for c in country])
    age = np.where(new_seg == 0, rng.choice(len(fw.AGE_BANDS), n_new, p=fw.AGE_SHARE), -1)
    add(
        "crm__customers",
        customer_table(
            rng,
            numbers,
            rng.integers(0, len(fw.FIRST_NAMES), n_new),
            rng.integers(0, len(fw.LAST_NAMES), n_new),
            signup,
            country,
            new_seg,
            age,
            rng.choice(len(fw.ACQUISITION), n_new, p=fw.ACQUISITION_SHARE),
        ),
    )
    new_cids = customer_ids(numbers)
    plan = choice_rows(rng, PLAN_SHARE[new_seg])
    add(
        "crm__subscriptions",
        subscription_table(
            rng,
            subscription_ids(numbers, np.ones(n_new, np.int64)),
            new_cids,
            plan,
            mrr_cents(rng, plan, new_cur),
            new_cur,
            signup + rng.integers(60, HOUR, n_new),
            np.full(n_new, NO_TIME),
        ),
    )

    # Some subscriptions end today: the same key again, in a later file.
    if a:
        n_end = max(1, int(rng.binomial(a, BASE_CHURN[0] / _DAYS_PER_MONTH)))
        ending = np.sort(rng.choice(act.subscription_rows, min(n_end, a), replace=False))
        rows = subs.take(pa.array(ending))
        started = epoch_seconds(rows.column("started_at"))
        end_at = np.maximum(day_start + rng.integers(0, DAY, len(ending)), started + HOUR)
        col = rows.schema.get_field_index("ended_at")
        add("crm__subscriptions", rows.set_column(col, "ended_at", ts_strings(rng, end_at)))

    # Monthly invoices of the subscriptions whose billing day is today.
    add("crm__invoices", _invoices_due(rng, subs, act.subscription_rows, day_start, ymd))

    # Web sessions: active customers, today's sign-ups, anonymous visitors.
    who = np.repeat(np.arange(a), rng.poisson(1.45 * season / _DAYS_PER_MONTH, a))
    n_vis = int(rng.poisson(_VISITS_PER_CUSTOMER * season * known))
    who_ids = act.customer_id.take(pa.array(who))
    logged_in = pa.array(rng.random(len(who)) < 0.75)
    sessions = Sessions(
        start=np.concatenate(
            [
                day_start + rng.integers(0, DAY, len(who)),
                signup - rng.integers(120, 900, n_new),
                day_start + rng.integers(0, DAY, n_vis),
            ]
        ),
        device=pa.concat_arrays(
            [
                _first_device(who_ids),
                device_ids(numbers, np.zeros(n_new, bool)),
                ids(f"V{ymd}-", np.arange(n_vis), 6),
            ]
        ),
        customer=pa.concat_arrays(
            [pc.if_else(logged_in, who_ids, pa.scalar(None, pa.string())), new_cids, nulls(n_vis)]
        ),
        currency=np.concatenate([act.currency[who], new_cur, rng.choice(3, n_vis)]),
        kind=np.concatenate(
            [
                np.full(len(who), KIND_CUSTOMER),
                np.full(n_new, KIND_SIGNUP),
                np.full(n_vis, KIND_ANONYMOUS),
            ]
        ),
        has_session_id=np.concatenate([rng.random(len(who)) < 0.12, np.zeros(n_new + n_vis, bool)]),
    )
    add("web__events", session_events(rng, sessions, checkout_at, f"E{ymd}-", f"WS{ymd}-"))

    # Tickets created today.
    counts = rng.poisson(TICKET_RATE[act.segment] * season / _DAYS_PER_MONTH)
    t_cust = np.repeat(np.arange(a), counts)
    created = np.sort(day_start + rng.integers(0, DAY, len(t_cust)))
    peak = np.full(len(t_cust), day.month in (11, 12))
    quality = agent_quality(seed)
    t = Tickets(**ticket_rows(rng, t_cust, created, peak, sat, act.segment, quality, callback_at))
    status, first_resp, solved_at, satisfaction = ticket_states(rng, t, stamp)
    add(
        "tickets__tickets",
        ticket_table(
            rng,
            ids(f"T{ymd}-", np.arange(len(t_cust)), 6),
            act.customer_id.take(pa.array(t_cust)),
            t,
            np.arange(len(t_cust)),
            status,
            first_resp,
            solved_at,
            satisfaction,
        ),
    )

    # Open tickets solved today: an update by key from the help desk, as JSON Lines.
    add("tickets__tickets", _solve_open_tickets(rng, tickets, day_start), "jsonl")

    # Survey responses: relational, transactional and after today's solved tickets.
    rel = np.repeat(np.arange(a), rng.poisson(RELATIONAL_RATE / _DAYS_PER_MONTH, a))
    txn = np.repeat(np.arange(a), rng.poisson(TRANSACTIONAL_RATE / _DAYS_PER_MONTH, a))
    after = np.flatnonzero((solved_at != NO_TIME) & (rng.random(len(t_cust)) < TICKET_SURVEY_SHARE))
    r_cust = np.concatenate([rel, txn, t_cust[after]])
    r_ts = np.concatenate(
        [
            day_start + rng.integers(0, DAY, len(rel) + len(txn)),
            np.minimum(solved_at[after] + HOUR, stamp - 60),
        ]
    )
    r_tp = np.concatenate(
        [
            np.full(len(rel), -1),
            transactional_touchpoints(rng, len(txn)),
            fw.SUPPORT_TP_OF_CHANNEL[t.channel[after]],
        ]
    )
    order = np.argsort(r_ts, kind="stable")
    responses = make_responses(rng, r_cust[order], r_ts[order], r_tp[order])
    answers = answer(rng, responses, 0.85 * sat[r_cust[order]], checkout_at, callback_at)
    r_table, a_table = survey_tables(rng, responses, answers, act.customer_id, f"R{ymd}-")
    add("feedback__responses", r_table)
    late_responses = np.flatnonzero(rng.random(len(r_ts)) < 0.03)
    if len(r_ts) and not len(late_responses):
        late_responses = np.array([len(r_ts) - 1])
    late = np.isin(answers.response, late_responses)
    add("feedback__answers", a_table.filter(pa.array(~late)))
    add("feedback__answers", a_table.filter(pa.array(late)), "late")

    written = {e.qualified: 0 for e in ENTITIES}
    for (qualified, variant), parts in tables.items():
        table = pa.concat_tables(parts)
        ext = "jsonl" if variant == "jsonl" else _EXTENSION.get(qualified, "csv")
        when = stamp + (60 if variant == "late" else 0)
        kind = "daily-late" if variant == "late" else "daily"
        e = ENTITY_BY_QUALIFIED[qualified]
        path = out / e.source / e.name / f"{stamp_text(when)}-{kind}-{ymd}.{ext}"
        write_table(table, path)
        pin_mtime(path, when)
        written[qualified] += table.num_rows
    return written


_EXTENSION = {"web__events": "parquet", "feedback__answers": "parquet"}


def _invoices_due(
    rng: np.random.Generator, subs: pa.Table, rows: np.ndarray, day_start: int, ymd: str
) -> pa.Table:
    """Invoices issued today, on the billing day the generator uses (see `_invoices`)."""
    started = epoch_seconds(subs.column("started_at").take(pa.array(rows, pa.int64())))
    start_month = started.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    today_month = np.datetime64(day_start, "s").astype("datetime64[M]").astype(np.int64)
    due = np.zeros(len(rows), bool)
    issued = np.zeros(len(rows), np.int64)
    for back in (0, 1):  # a late-evening start bills just after midnight
        at = add_months(started, today_month - start_month - back) + 6 * HOUR
        hit = (at >= day_start) & (at < day_start + DAY) & (at >= started)
        due |= hit
        issued = np.where(hit, at, issued)
    picked = subs.take(pa.array(rows[due], pa.int64()))
    k = len(picked)
    paid = rng.random(k) < 0.6
    return entity_table(
        "crm__invoices",
        {
            "invoice_id": ids(f"INV{ymd}-", np.arange(k), 7),
            "customer_id": picked.column("customer_id"),
            "issued_at": ts_strings(rng, issued[due]),
            "amount": picked.column("mrr"),
            "currency": picked.column("currency"),
            "status": pa.array(np.where(paid, "paid", "open"), pa.string()),
        },
    )


def _first_device(customer_id: pa.Array) -> pa.Array:
    """`D<number>-1`, the generator's name for a customer's first device."""
    number = pc.utf8_slice_codeunits(customer_id, 1)
    return pc.binary_join_element_wise(pa.scalar("D"), number, pa.scalar("-1"), "")


def _solve_open_tickets(rng: np.random.Generator, tickets: pa.Table, day_start: int) -> pa.Table:
    status = np.array(tickets.column("status").to_pylist(), dtype=object)
    open_rows = np.flatnonzero(np.isin(status, [STATUSES[i] for i in (NEW, OPEN, PENDING)]))
    solve = open_rows[rng.random(len(open_rows)) < _SOLVE_SHARE]
    if len(open_rows) and not len(solve):
        solve = open_rows[:1]
    upd = tickets.take(pa.array(solve, pa.int64()))
    k = len(solve)
    created = epoch_seconds(upd.column("created_at"))
    first = epoch_seconds(upd.column("first_response_at"))
    at = np.maximum(day_start + rng.integers(0, DAY, k), created + HOUR)
    first = np.where(first == NO_TIME, np.maximum(at - HOUR, created + 60), first)
    rated = rng.random(k) < 0.5
    good = rng.random(k) < 0.75
    satisfaction = pa.array(np.where(rated, np.where(good, "good", "bad"), None), pa.string())
    for name, values in (
        ("status", pa.array([STATUSES[SOLVED]] * k, pa.string())),
        ("first_response_at", ts_strings(rng, first, p_offset=0.15)),
        ("solved_at", ts_strings(rng, at, p_offset=0.15)),
        ("satisfaction", satisfaction),
    ):
        upd = upd.set_column(upd.schema.get_field_index(name), name, values)
    return upd
