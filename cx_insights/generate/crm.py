"""The CRM entities of one chunk: customers, subscriptions and invoices (the
rows of each drop, with the planted contract breaks of seeds/README.md)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cx_insights.contract import entity
from cx_insights.generate import framework as fw
from cx_insights.generate.chunk_ids import customer_ids, nullable_ids
from cx_insights.generate.files import (
    NO_TIME,
    entity_table,
    ids,
    money_strings,
    pick,
    ts_strings,
)
from cx_insights.generate.population import Population, Subscriptions
from cx_insights.generate.timeline import DAY, HOUR, Window, add_months


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum())


_FIRST_ASCII = [_ascii(x) for x in fw.FIRST_NAMES]
_LAST_ASCII = [_ascii(x) for x in fw.LAST_NAMES]
#: The contract's enum (the generator indexes it by position).
INVOICE_STATUSES = entity("crm__invoices").column("status").enum or ()


def customer_rows(rng: np.random.Generator, pop: Population, numbers: np.ndarray) -> pa.Table:
    return customer_table(
        rng,
        numbers,
        pop.first_name,
        pop.last_name,
        pop.signed_up_at,
        pop.country,
        pop.segment,
        pop.age_band,
        pop.acquisition,
    )


def customer_table(
    rng: np.random.Generator,
    numbers: np.ndarray,
    first_name: np.ndarray,
    last_name: np.ndarray,
    signed_up_at: np.ndarray,
    country: np.ndarray,
    segment: np.ndarray,
    age_band: np.ndarray,
    acquisition: np.ndarray,
) -> pa.Table:
    n = len(numbers)
    first = pick(_FIRST_ASCII, first_name)
    last = pick(_LAST_ASCII, last_name)
    local = pc.binary_join_element_wise(first, last, ".")
    local = pc.binary_join_element_wise(local, pa.array(numbers).cast(pa.string()), "")
    domain = pick(fw.EMAIL_DOMAINS, rng.integers(0, len(fw.EMAIL_DOMAINS), n))
    email = pc.binary_join_element_wise(local, domain, "@")
    # Hashing must lower-case and trim: some addresses come in mixed case or padded.
    u = rng.random(n)
    email = pc.if_else(pa.array(u < 0.97), pc.utf8_lower(email), email)
    padded = pc.binary_join_element_wise(pa.scalar(" "), email, pa.scalar(" "), "")
    email = pc.if_else(pa.array(u > 0.995), padded, email)
    email = nullable_ids(email, rng.random(n) >= 0.01)
    full_name = pc.binary_join_element_wise(
        pick(fw.FIRST_NAMES, first_name), pick(fw.LAST_NAMES, last_name), " "
    )
    return entity_table(
        "crm__customers",
        {
            "customer_id": customer_ids(numbers),
            "email": email,
            "full_name": full_name,
            "signed_up_at": ts_strings(rng, signed_up_at),
            "country_code": pick([c for c, _, _ in fw.COUNTRIES], country),
            "segment": pick(fw.SEGMENTS, segment),
            "age_band": pick(fw.AGE_BANDS, np.maximum(age_band, 0), valid=age_band >= 0),
            "acquisition_channel": pick(fw.ACQUISITION, acquisition),
        },
    )


def subscription_ids(numbers: np.ndarray, seq: np.ndarray) -> pa.Array:
    base = ids("SUB-", numbers, 7)
    return pc.binary_join_element_wise(base, pa.array(seq).cast(pa.string()), "-")


def subscription_table(
    rng: np.random.Generator,
    sub_ids: pa.Array,
    cust: pa.Array,
    plan: np.ndarray,
    mrr_cents: np.ndarray,
    currency: np.ndarray,
    started_at: np.ndarray,
    ended_at: np.ndarray,
) -> pa.Table:
    return entity_table(
        "crm__subscriptions",
        {
            "subscription_id": sub_ids,
            "customer_id": cust,
            "plan": pick([p[0] for p in fw.PLANS], plan),
            "mrr": money_strings(mrr_cents),
            "currency": pick(fw.CURRENCIES, currency),
            "started_at": ts_strings(rng, started_at),
            "ended_at": ts_strings(rng, ended_at),
        },
    )


def subscription_rows(
    rng: np.random.Generator,
    pop: Population,
    numbers: np.ndarray,
    cids: pa.Array,
    window: Window,
    plant: bool,
) -> tuple[pa.Table, pa.Table]:
    s = pop.subscriptions
    k = len(s.customer)
    ended = s.ended_at != NO_TIME
    # Ends reach the CRM extract late: recent ones often, older ones sometimes.
    late = ended & (
        ((s.ended_at > window.end - 60 * DAY) & (rng.random(k) < 0.6)) | (rng.random(k) < 0.08)
    )
    sub_ids = subscription_ids(numbers[s.customer], s.seq)
    cust = cids.take(pa.array(s.customer))
    main_end = np.where(late, NO_TIME, s.ended_at)
    main = subscription_table(
        rng, sub_ids, cust, s.plan, s.mrr_cents, s.currency, s.started_at, main_end
    )
    if plant and k:
        # Planted: a subscription with a negative MRR (rule mrr_non_negative).
        bad = int(rng.integers(0, k))
        negative = subscription_table(
            rng,
            subscription_ids(numbers[s.customer[[bad]]], np.array([9])),
            cust.take(pa.array([bad])),
            s.plan[[bad]],
            -s.mrr_cents[[bad]],
            s.currency[[bad]],
            s.started_at[[bad]],
            np.array([NO_TIME]),
        )
        main = pa.concat_tables([main, negative])

    rows = np.flatnonzero(late)
    upd = subscription_table(
        rng,
        sub_ids.take(pa.array(rows)),
        cust.take(pa.array(rows)),
        s.plan[rows],
        s.mrr_cents[rows],
        s.currency[rows],
        s.started_at[rows],
        s.ended_at[rows],
    )
    # Planted: an end before the start for a still-active subscription (rule
    # ended_after_started): it must be quarantined and the subscription stay active.
    still = np.flatnonzero(~ended)
    if plant and len(still):
        b = still[int(rng.integers(0, len(still)))]
        wrong = subscription_table(
            rng,
            sub_ids.take(pa.array([b])),
            cust.take(pa.array([b])),
            s.plan[[b]],
            s.mrr_cents[[b]],
            s.currency[[b]],
            s.started_at[[b]],
            s.started_at[[b]] - 2 * DAY,
        )
        upd = pa.concat_tables([upd, wrong])
    return main, upd


def invoice_rows(
    rng: np.random.Generator,
    s: Subscriptions,
    cids: pa.Array,
    window: Window,
    chunk: int,
    plant: bool,
) -> pa.Table:
    """One invoice a month per subscription until the window's end, plus credit notes."""
    stop = np.where(s.ended_at == NO_TIME, window.end, np.minimum(s.ended_at, window.end))
    # Months between start and stop, an upper bound on the invoices per subscription.
    span = window.month_at(stop) - window.month_at(s.started_at) + 2
    sub = np.repeat(np.arange(len(span)), span)
    k = np.arange(len(sub)) - np.repeat(np.cumsum(span) - span, span)
    issued = add_months(s.started_at[sub], k) + 6 * HOUR
    keep = (issued < stop[sub]) & (issued >= s.started_at[sub])
    sub, issued = sub[keep], issued[keep]
    n = len(sub)
    amount = s.mrr_cents[sub]
    recent = issued >= window.end - 31 * DAY
    u = rng.random(n)
    status = np.where(
        recent,
        np.where(u < 0.6, 0, np.where(u < 0.98, 1, 2)),
        np.where(u < 0.94, 0, np.where(u < 0.97, 1, 2)),
    )
    # Credit notes: about 1 % of invoices are partly refunded a few days later.
    credit = np.flatnonzero(rng.random(n) < 0.01)
    c_issued = issued[credit] + rng.integers(DAY, 20 * DAY, len(credit))
    ok = c_issued < window.end
    credit, c_issued = credit[ok], c_issued[ok]
    c_amount = -np.round(amount[credit] * rng.uniform(0.2, 1.0, len(credit))).astype(np.int64)

    sub = np.concatenate([sub, sub[credit]])
    issued = np.concatenate([issued, c_issued])
    amount = np.concatenate([amount, c_amount])
    status = np.concatenate([status, np.zeros(len(credit), np.int64)])
    order = np.argsort(issued, kind="stable")
    sub, issued, amount, status = sub[order], issued[order], amount[order], status[order]
    currency = pick(fw.CURRENCIES, s.currency[sub])
    status_text = pick(INVOICE_STATUSES, status)
    # Planted: one invoice in a currency without FX rates (rule fx_rate_exists) and
    # one with an unknown status (rule enum).
    if plant and len(sub) >= 2:
        a, b = rng.choice(len(sub), 2, replace=False)
        currency = pc.if_else(pa.array(np.arange(len(sub)) == a), pa.scalar("CHF"), currency)
        status_text = pc.if_else(
            pa.array(np.arange(len(sub)) == b), pa.scalar("refunded"), status_text
        )
    return entity_table(
        "crm__invoices",
        {
            "invoice_id": ids(f"INV{chunk:04d}-", np.arange(len(sub)), 7),
            "customer_id": cids.take(pa.array(s.customer[sub])),
            "issued_at": ts_strings(rng, issued),
            "amount": money_strings(amount),
            "currency": currency,
            "status": status_text,
        },
    )
