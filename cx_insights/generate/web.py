"""Web analytics: sessions of GA4-style events.

A session is a landing page view, more page views (none for a bounce), and
for some a cart, checkout and purchase. Most events carry no `session_id` (the
warehouse sessionises them with the 30-minute rule); app sessions do. Events
of one session are at most 20 minutes apart, so sessionisation recovers the
sessions as generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cx_insights.generate import framework as fw
from cx_insights.generate.files import entity_table, ids, money_strings, pick, ts_strings

EVENT_NAMES: tuple[str, ...] = ("page_view", "add_to_cart", "begin_checkout", "purchase", "sign_up")
PV, ATC, BC, PUR, SU = range(5)
PATHS: tuple[str, ...] = fw.PAGE_PATHS + ("/checkout/confirmation", "/signup")
_CART = PATHS.index("/cart")
_CHECKOUT = PATHS.index("/checkout")
_CONFIRMATION = PATHS.index("/checkout/confirmation")
_SIGNUP = PATHS.index("/signup")
_LAND_CUSTOMER = np.array([w for _, w, _ in fw.PAGES])
_LAND_CUSTOMER = _LAND_CUSTOMER / _LAND_CUSTOMER.sum()
_LAND_ANON = np.array([w for _, _, w in fw.PAGES])
_LAND_ANON = _LAND_ANON / _LAND_ANON.sum()
_SHOPPING = np.zeros(len(fw.PAGES), bool)
_SHOPPING[list(fw.SHOPPING_PAGES)] = True

KIND_CUSTOMER, KIND_ANONYMOUS, KIND_SIGNUP = 0, 1, 2


@dataclass
class Sessions:
    start: np.ndarray
    device: pa.Array  # anonymous_id of each session
    customer: pa.Array  # customer_id when logged in, else null
    currency: np.ndarray  # index in fw.CURRENCIES
    kind: np.ndarray
    has_session_id: np.ndarray


def session_events(
    rng: np.random.Generator,
    sessions: Sessions,
    checkout_redesign_at: int,
    event_prefix: str,
    session_prefix: str,
) -> pa.Table:
    """Expand sessions to events, ordered by time, as a table of contract columns."""
    ns = len(sessions.start)
    kind = sessions.kind
    landing = np.where(
        kind == KIND_CUSTOMER,
        rng.choice(len(fw.PAGES), ns, p=_LAND_CUSTOMER),
        rng.choice(len(fw.PAGES), ns, p=_LAND_ANON),
    )
    shopping = _SHOPPING[landing]
    n_pv = rng.geometric(0.45, ns)
    p_cart = np.where(shopping, 0.22, 0.04) * np.where(kind == KIND_ANONYMOUS, 0.6, 1.0)
    cart = (rng.random(ns) < p_cart) & (kind != KIND_SIGNUP)
    checkout = cart & (rng.random(ns) < 0.55)
    # INI-01 (checkout redesign) lifts checkout completion from its start.
    p_buy = np.where(sessions.start >= checkout_redesign_at, 0.7, 0.52)
    buy = checkout & (rng.random(ns) < p_buy)
    signup = kind == KIND_SIGNUP
    counts = n_pv + cart + checkout + buy + signup

    first = np.cumsum(counts) - counts
    sess = np.repeat(np.arange(ns), counts)
    n = len(sess)
    pos = np.arange(n) - first[sess]
    c1 = n_pv[sess]
    c2 = c1 + cart[sess]
    c3 = c2 + checkout[sess]
    c4 = c3 + buy[sess]
    name = np.select([pos < c1, pos < c2, pos < c3, pos < c4], [PV, ATC, BC, PUR], SU)
    browse = rng.choice(len(fw.PAGES), n, p=_LAND_CUSTOMER)
    path = np.select(
        [pos == 0, name == PV, name == ATC, name == BC, name == PUR],
        [landing[sess], browse, _CART, _CHECKOUT, _CONFIRMATION],
        _SIGNUP,
    )
    gap = np.minimum(rng.exponential(70, n) + 3, 1200).astype(np.int64)
    gap[first] = 0
    cum = np.cumsum(gap)
    at = sessions.start[sess] + cum - cum[first][sess]

    order = np.argsort(at, kind="stable")
    sess, name, path, at = sess[order], name[order], path[order], at[order]
    take = pa.array(sess)
    purchase = name == PUR
    cents = np.round(np.exp(rng.normal(np.log(60), 0.6, n)) * 100).astype(np.int64)
    logged_in = sessions.customer.take(take)
    if signup.any():
        # Before signing up the visitor is anonymous; the sign_up event names the customer.
        before = pa.array(signup[sess] & (name != SU))
        logged_in = pc.if_else(before, pa.scalar(None, pa.string()), logged_in)
    session_id = ids(session_prefix, sess, 7)
    session_id = pc.if_else(
        pa.array(sessions.has_session_id[sess]), session_id, pa.scalar(None, pa.string())
    )
    return entity_table(
        "web__events",
        {
            "event_id": ids(event_prefix, np.arange(n), 8),
            "anonymous_id": sessions.device.take(take),
            "customer_id": logged_in,
            "session_id": session_id,
            "occurred_at": ts_strings(rng, at, p_offset=0.03, p_naive=0.01),
            "event_name": pick(EVENT_NAMES, name),
            "page_path": pick(PATHS, path),
            "revenue": money_strings(cents, missing=~purchase),
            "currency": pick(fw.CURRENCIES, sessions.currency[sess], valid=purchase),
        },
    )
