"""Customers, their subscriptions over time, and their support tickets.

One latent variable per customer, `sat` (satisfaction, standard normal), drives
what the warehouse must later discover: low `sat` customers answer surveys
more negatively and churn more. Support tickets add to a customer's `pain`
(slow first response or resolution, reopened, rated bad), and pain raises next
month's churn hazard and lowers survey scores, so slow and reopened tickets
precede churn. Everything is vectorised over the customers of one chunk; the
only loop is over months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cx_insights.generate import framework as fw
from cx_insights.generate.files import NO_TIME
from cx_insights.generate.timeline import DAY, HOUR, Window

#: Monthly churn hazard at sat = 0 and no pain, by segment.
BASE_CHURN = np.array([0.017, 0.012, 0.007])
#: Tickets per active customer-month, by segment.
TICKET_RATE = np.array([0.09, 0.16, 0.3])

_CURRENCY_OF_COUNTRY = np.array([fw.CURRENCIES.index(c) for _, c, _ in fw.COUNTRIES])
_COUNTRY_SHARE = np.array([s for _, _, s in fw.COUNTRIES])
_CAT_SHARE = np.array([c[1] for c in fw.TICKET_CATEGORIES])
_CAT_SHARE_PEAK = np.array([c[2] for c in fw.TICKET_CATEGORIES])
_CAT_SHARE /= _CAT_SHARE.sum()
_CAT_SHARE_PEAK /= _CAT_SHARE_PEAK.sum()
_CAT_TP = np.array([fw.TP_INDEX[c[3]] if c[3] else -1 for c in fw.TICKET_CATEGORIES])
_CAT_RESOLUTION = np.array([1.2, 1.0, 1.6, 1.4, 1.3, 0.7, 0.8, 0.6, 0.8])
_CANCELLATION = [c[0] for c in fw.TICKET_CATEGORIES].index("cancellation")
_TECHNICAL = [c[0] for c in fw.TICKET_CATEGORIES].index("technical_issue")
_PRIORITY_SPEED = np.array([1.6, 1.0, 0.6, 0.3])
_J03 = fw.JOURNEY_INDEX["J03"]


def _plan_table() -> tuple[np.ndarray, np.ndarray]:
    """Price in cents per (plan, currency) and the plan shares within each segment."""
    prices = np.zeros((len(fw.PLANS), len(fw.CURRENCIES)), dtype=np.int64)
    share = np.zeros((len(fw.SEGMENTS), len(fw.PLANS)))
    for i, (_, seg, price, p) in enumerate(fw.PLANS):
        share[seg, i] = p
        if price is not None:
            for j, cur in enumerate(("EUR", "USD", "GBP")):
                prices[i, fw.CURRENCIES.index(cur)] = round(float(price[j]) * 100)
    return prices, share


PLAN_PRICES, PLAN_SHARE = _plan_table()


@dataclass
class Subscriptions:
    customer: np.ndarray  # index within the chunk
    seq: np.ndarray  # 1 = first, 2 = after a return
    plan: np.ndarray
    currency: np.ndarray
    mrr_cents: np.ndarray
    started_at: np.ndarray
    ended_at: np.ndarray  # NO_TIME while active


@dataclass
class Intervals:
    """Each customer's active time inside each month of the data window."""

    customer: np.ndarray
    month: np.ndarray  # simulated month index
    lo: np.ndarray
    hi: np.ndarray
    pain: np.ndarray  # pain at the start of the month
    subscription: np.ndarray  # row in Subscriptions


@dataclass
class Tickets:
    customer: np.ndarray  # -1 = not a customer (prospect)
    created_at: np.ndarray
    channel: np.ndarray
    category: np.ndarray
    priority: np.ndarray
    agent: np.ndarray
    explicit_tp: np.ndarray  # touchpoint given by the desk, -1 = none
    effective_tp: np.ndarray  # what touchpoint_rules will give, -1 = unknown
    first_response_at: np.ndarray
    first_solved_at: np.ndarray
    solved_at: np.ndarray  # final (after a reopen)
    reopened: np.ndarray
    slow: np.ndarray
    satisfaction: np.ndarray  # 0 none, 1 good, 2 bad


@dataclass
class Population:
    n: int
    sat: np.ndarray
    segment: np.ndarray
    country: np.ndarray
    currency: np.ndarray
    signed_up_at: np.ndarray
    age_band: np.ndarray  # -1 = not asked (business customers)
    acquisition: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    subscriptions: Subscriptions
    intervals: Intervals
    tickets: Tickets


def agent_quality(seed: int) -> np.ndarray:
    """How good each support agent is (shared by all chunks and daily drops)."""
    return np.random.default_rng([seed, 0xA6E]).normal(0, 0.35, fw.N_AGENTS)


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return (u > cum).sum(axis=1)


def _uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def mrr_cents(rng: np.random.Generator, plan: np.ndarray, currency: np.ndarray) -> np.ndarray:
    cents = PLAN_PRICES[plan, currency]
    negotiated = cents == 0
    if negotiated.any():
        units = np.exp(rng.normal(np.log(2500), 0.5, negotiated.sum()))
        cents[negotiated] = (np.round(units / 50) * 50 * 100).astype(np.int64)
    return cents


def simulate(
    rng: np.random.Generator,
    n: int,
    window: Window,
    agent_quality: np.ndarray,
) -> Population:
    sat = rng.standard_normal(n)
    segment = rng.choice(3, n, p=fw.SEGMENT_SHARE)
    country = rng.choice(len(fw.COUNTRIES), n, p=_COUNTRY_SHARE)
    currency = _CURRENCY_OF_COUNTRY[country]
    age = rng.choice(len(fw.AGE_BANDS), n, p=fw.AGE_SHARE)
    age = np.where((segment == 0) & (rng.random(n) < 0.97), age, -1)
    acquisition = rng.choice(len(fw.ACQUISITION), n, p=fw.ACQUISITION_SHARE)
    first_name = rng.integers(0, len(fw.FIRST_NAMES), n)
    last_name = rng.integers(0, len(fw.LAST_NAMES), n)

    # Sign-ups: 40 % before the data window (the existing base), the rest inside it,
    # growing over time and peaking in November-December.
    pre, T = window.pre, window.n_sim
    growth = np.linspace(1.0, 1.6, window.months) * window.season(np.arange(pre, T))
    month_p = np.concatenate([np.full(pre, 0.4 / pre), 0.6 * growth / growth.sum()])
    signup_m = rng.choice(T, n, p=month_p)
    b = window.bounds
    signed_up_at = _uniform_between(rng, b[signup_m], b[signup_m + 1])

    cap = 2 * n + 1
    subs = Subscriptions(
        customer=np.zeros(cap, np.int64),
        seq=np.zeros(cap, np.int64),
        plan=np.zeros(cap, np.int64),
        currency=np.zeros(cap, np.int64),
        mrr_cents=np.zeros(cap, np.int64),
        started_at=np.zeros(cap, np.int64),
        ended_at=np.full(cap, NO_TIME, np.int64),
    )
    n_subs = 0
    active = np.zeros(n, bool)
    current = np.full(n, -1)  # current subscription row
    churn_month = np.full(n, 10**6)
    returned = np.zeros(n, bool)
    pain = np.zeros(n)
    base_logit = np.log(BASE_CHURN / (1 - BASE_CHURN))[segment]

    iv_parts: list[tuple[np.ndarray, ...]] = []
    tk_parts: list[dict[str, np.ndarray]] = []
    ini_times = window.initiative_times()

    for m in range(T):
        ms, me = int(b[m]), int(b[m + 1])
        # Churn of those active at the month start, from sat and last months' pain.
        tenure_days = np.where(active, (ms - subs.started_at[current]) / DAY, 0)
        logit = base_logit - 0.9 * sat + 1.2 * pain + 0.6 * (tenure_days < 90)
        churn = active & (rng.random(n) < 1 / (1 + np.exp(-logit)))

        # Starts: first subscriptions at sign-up, and returns of former customers.
        new = signup_m == m
        p_return = np.where(sat > 0, 0.03, 0.012)
        ret = (~active) & (churn_month < m) & (~returned) & (rng.random(n) < p_return)
        starts = new | ret
        idx = np.flatnonzero(starts)
        if len(idx):
            # A new customer's subscription starts shortly after sign-up, in the same month.
            soon = signed_up_at[idx] + rng.integers(60, 2 * HOUR, len(idx))
            soon = np.maximum(np.minimum(soon, me - 1), signed_up_at[idx])
            start_at = np.where(
                new[idx],
                soon,
                _uniform_between(rng, np.full(len(idx), ms), np.full(len(idx), me)),
            )
            cur = currency[idx].copy()
            switch = ret[idx] & (rng.random(len(idx)) < 0.15)  # moved country
            cur[switch] = (cur[switch] + rng.integers(1, 3, switch.sum())) % 3
            plan = choice_rows(rng, PLAN_SHARE[segment[idx]])
            rows = np.arange(n_subs, n_subs + len(idx))
            subs.customer[rows] = idx
            subs.seq[rows] = np.where(ret[idx], 2, 1)
            subs.plan[rows] = plan
            subs.currency[rows] = cur
            subs.mrr_cents[rows] = mrr_cents(rng, plan, cur)
            subs.started_at[rows] = start_at
            current[idx] = rows
            active[idx] = True
            returned |= ret
            n_subs += len(idx)

        # Active time inside this month; churners leave at a random instant in it.
        act = np.flatnonzero(active)
        start_of = subs.started_at[current[act]]
        lo = np.maximum(ms, start_of)
        ended = _uniform_between(rng, lo, np.full(len(act), me))
        ended = np.minimum(np.maximum(ended, start_of + HOUR), me - 1)
        is_churn = churn[act]
        subs.ended_at[current[act[is_churn]]] = ended[is_churn]
        hi = np.where(is_churn, ended, me)
        ok = hi > lo
        act, lo, hi = act[ok], lo[ok], hi[ok]

        tk = _tickets(rng, act, lo, hi, m, window, sat, segment, agent_quality, ini_times[1][0])
        if m >= pre:
            iv_parts.append((act, np.full(len(act), m), lo, hi, pain[act], current[act]))
            tk_parts.append(tk)
        contrib = 1.0 * tk["slow"] + 1.5 * tk["reopened"] + 0.7 * (tk["satisfaction"] == 2)
        pain = 0.6 * pain + np.bincount(tk["customer"], weights=contrib, minlength=n)

        active[churn] = False
        churn_month[churn] = m

    subs = Subscriptions(**{k: v[:n_subs] for k, v in vars(subs).items()})
    intervals = Intervals(*(np.concatenate(parts) for parts in zip(*iv_parts, strict=True)))
    tickets = Tickets(**{k: np.concatenate([p[k] for p in tk_parts]) for k in tk_parts[0]})
    tickets = _with_prospects(rng, tickets, window, agent_quality)
    return Population(
        n=n,
        sat=sat,
        segment=segment,
        country=country,
        currency=currency,
        signed_up_at=signed_up_at,
        age_band=age,
        acquisition=acquisition,
        first_name=first_name,
        last_name=last_name,
        subscriptions=subs,
        intervals=intervals,
        tickets=tickets,
    )


def ticket_times(
    rng: np.random.Generator,
    created: np.ndarray,
    channel: np.ndarray,
    category: np.ndarray,
    priority: np.ndarray,
    agent_quality: np.ndarray,
    effective_tp: np.ndarray,
    peak: np.ndarray,
    callback_start: int,
) -> dict[str, np.ndarray]:
    """First response, (first) solve and final solve, reopen and slowness of tickets.

    The call-back initiative (INI-02, on journey J03) halves first-response
    times of its journey's tickets from its start.
    """
    k = len(created)
    in_j03 = (effective_tp >= 0) & (fw.TP_JOURNEY[np.maximum(effective_tp, 0)] == _J03)
    callback = in_j03 & (created >= callback_start)
    load = np.where(peak, 1.35, 1.0)
    fr_min = (
        fw.FIRST_RESPONSE_MEDIAN_MIN[channel]
        * np.exp(0.9 * rng.standard_normal(k) - agent_quality)
        * _PRIORITY_SPEED[priority]
        * np.where(callback, 0.35, 1.0)
        * load
    )
    res_h = (
        16
        * _CAT_RESOLUTION[category]
        * np.exp(1.0 * rng.standard_normal(k) - 0.8 * agent_quality)
        * np.where(callback, 0.8, 1.0)
        * np.where(rng.random(k) < 0.05, 8.0, 1.0)  # stuck: waiting on a third party
        * load
    )
    fr_s = np.maximum(np.round(fr_min * 60), 20).astype(np.int64)
    res_s = np.maximum(np.round(res_h * HOUR).astype(np.int64), fr_s + 60)
    p_reopen = 0.04 * np.exp(-1.5 * agent_quality) * np.where(category == _TECHNICAL, 1.6, 1.0)
    reopened = rng.random(k) < p_reopen
    first_solved = created + res_s
    solved = first_solved + np.where(reopened, (DAY + rng.random(k) * 4 * DAY).astype(np.int64), 0)
    slow = (res_h > 72) | (fr_min > np.where(np.isin(channel, (1, 2)), 60, 24 * 60))
    return {
        "first_response_at": created + fr_s,
        "first_solved_at": first_solved,
        "solved_at": solved,
        "reopened": reopened,
        "slow": slow,
    }


def _tickets(
    rng: np.random.Generator,
    act: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    m: int,
    window: Window,
    sat: np.ndarray,
    segment: np.ndarray,
    agent_quality: np.ndarray,
    callback_start: int,
) -> dict[str, np.ndarray]:
    month_len = window.bounds[m + 1] - window.bounds[m]
    rate = TICKET_RATE[segment[act]] * np.exp(-0.25 * sat[act]) * window.season(m)
    counts = rng.poisson(rate * (hi - lo) / month_len)
    cust = np.repeat(act, counts)
    created = _uniform_between(rng, np.repeat(lo, counts), np.repeat(hi, counts))
    peak = np.full(len(cust), window.calendar[m] in (11, 12))
    return ticket_rows(rng, cust, created, peak, sat, segment, agent_quality, callback_start)


def ticket_rows(
    rng: np.random.Generator,
    cust: np.ndarray,
    created: np.ndarray,
    peak: np.ndarray,
    sat: np.ndarray | None,
    segment: np.ndarray | None,
    agent_quality: np.ndarray,
    callback_start: int,
) -> dict[str, np.ndarray]:
    """Tickets of customers `cust` (-1 = prospect) created at `created`.

    `peak` marks the November-December rush (more delivery tickets, slower desk).
    """
    k = len(cust)
    channel = rng.choice(len(fw.TICKET_CHANNELS), k, p=fw.TICKET_CHANNEL_SHARE)
    category = np.where(
        peak,
        rng.choice(len(_CAT_SHARE), k, p=_CAT_SHARE_PEAK),
        rng.choice(len(_CAT_SHARE), k, p=_CAT_SHARE),
    )
    known = cust >= 0
    s = np.where(known, sat[np.maximum(cust, 0)], 0.0) if sat is not None else np.zeros(k)
    category = np.where((s < -1) & (rng.random(k) < 0.15), _CANCELLATION, category)
    priority = rng.choice(4, k, p=fw.PRIORITY_SHARE)
    if segment is not None:
        enterprise = known & (segment[np.maximum(cust, 0)] == 2)
        priority = np.where(enterprise & (rng.random(k) < 0.3), 2, priority)
    agent = rng.integers(0, fw.N_AGENTS, k)
    explicit = np.where(rng.random(k) < 0.3, fw.SUPPORT_TP_OF_CHANNEL[channel], -1)
    effective = np.where(explicit >= 0, explicit, _CAT_TP[category])
    times = ticket_times(
        rng, created, channel, category, priority, agent_quality[agent], effective, peak,
        callback_start,
    )  # fmt: skip
    rated = rng.random(k) < 0.5
    p_good = 1 / (1 + np.exp(-(1.6 - 1.4 * times["slow"] - 1.6 * times["reopened"] + 0.4 * s)))
    satisfaction = np.where(rated, np.where(rng.random(k) < p_good, 1, 2), 0)
    return {
        "customer": cust,
        "created_at": created,
        "channel": channel,
        "category": category,
        "priority": priority,
        "agent": agent,
        "explicit_tp": explicit,
        "effective_tp": effective,
        "satisfaction": satisfaction,
        **times,
    }


def _with_prospects(
    rng: np.random.Generator, tickets: Tickets, window: Window, agent_quality: np.ndarray
) -> Tickets:
    """About 3 % of tickets come from prospects who are not customers (customer_id null)."""
    k = rng.poisson(0.03 * len(tickets.customer))
    created = _uniform_between(rng, np.full(k, window.start), np.full(k, window.end))
    callback_start = window.initiative_times()[1][0]
    peak = np.isin(window.calendar[window.month_at(created)], (11, 12))
    extra = ticket_rows(rng, np.full(k, -1), created, peak, None, None, agent_quality,
                        callback_start)  # fmt: skip
    return Tickets(**{f: np.concatenate([getattr(tickets, f), extra[f]]) for f in extra})
