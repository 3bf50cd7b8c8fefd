"""One chunk of customers -> the rows of every customer-related entity, per drop.

A chunk is self-contained (its customers, their subscriptions, invoices,
tickets, surveys and web events, plus some anonymous visitors and prospects),
seeded by (seed, chunk number), so chunks can be built in any order or in
parallel and the output stays byte-identical.

Rows are spread over three drops, as a real extract would arrive:

* `main`: everything as first extracted (some tickets still open, some ended
  subscriptions still shown active, reopened tickets shown solved);
* `updates`: later rows for the same keys (tickets solved or reopened,
  subscriptions ended) and answers that arrived after their response;
* `corrections`: reopened tickets solved again, plus one invalid correction.

A few rows break the contract on purpose (see seeds/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cx_insights.contract import entity
from cx_insights.generate import framework as fw
from cx_insights.generate.chunk_ids import customer_ids, nullable_ids
from cx_insights.generate.crm import (
    customer_rows,
    invoice_rows,
    subscription_rows,
)
from cx_insights.generate.files import (
    NO_TIME,
    entity_table,
    ids,
    nulls,
    pick,
    ts_strings,
)
from cx_insights.generate.population import Population, Tickets, simulate
from cx_insights.generate.surveys import (
    RESPONSE_CHANNELS,
    VERBATIM_TEXTS,
    Answers,
    Responses,
    answer,
    build_responses,
)
from cx_insights.generate.timeline import DAY, HOUR, Window
from cx_insights.generate.web import (
    KIND_ANONYMOUS,
    KIND_CUSTOMER,
    KIND_SIGNUP,
    Sessions,
    session_events,
)

DROPS: tuple[str, ...] = ("main", "updates", "corrections")
#: Bad rows are planted only in chunks at least this big, so tiny landing dirs
#: stay far below the quality gate's reject-rate threshold.
PLANT_MIN_CUSTOMERS = 100
#: Web sessions per active customer-month, by segment.
SESSION_RATE = np.array([1.35, 1.6, 2.0])
#: Anonymous visitors per customer, and their sessions each over the window.
VISITORS_PER_CUSTOMER = 0.8
VISITOR_SESSIONS = 2.2

#: file extension of each entity's files in the generated drops
FORMAT: dict[str, str] = {
    "crm__customers": "csv",
    "crm__subscriptions": "csv",
    "crm__invoices": "csv",
    "feedback__responses": "csv",
    "feedback__answers": "parquet",
    "web__events": "parquet",
    "tickets__tickets": "csv",
}
#: Updates of tickets arrive from the help desk's webhook as JSON Lines.
UPDATE_FORMAT: dict[str, str] = {**FORMAT, "tickets__tickets": "jsonl"}

Drop = dict[str, pa.Table]


_QUESTION_IDS = tuple(q.question_id for q in fw.QUESTIONS)
_Q_MIN = np.array([q.scale_min if q.scale_min is not None else 0 for q in fw.QUESTIONS])
_Q_MAX = np.array([q.scale_max if q.scale_max is not None else 0 for q in fw.QUESTIONS])
_Q_VERBATIM = np.array([q.metric == "verbatim" for q in fw.QUESTIONS])
_TP_IDS = tuple(tp.touchpoint_id for tp in fw.TOUCHPOINTS)
_CATEGORIES = tuple(c[0] for c in fw.TICKET_CATEGORIES)
#: The contract's enums (the generator indexes them by position).
STATUSES = entity("tickets__tickets").column("status").enum or ()
SATISFACTION = entity("tickets__tickets").column("satisfaction").enum or ()
NEW, OPEN, PENDING, SOLVED, CLOSED = range(5)


@dataclass(frozen=True)
class ChunkSpec:
    seed: int
    number: int  # 1-based
    first_customer: int  # customer number of the chunk's first customer
    customers: int


def device_ids(numbers: np.ndarray, second: np.ndarray) -> pa.Array:
    suffix = pa.array(np.where(second, "-2", "-1"), pa.string())
    return pc.binary_join_element_wise(ids("D", numbers, 7), suffix, "")


def build_chunk(spec: ChunkSpec, window: Window, agent_quality: np.ndarray) -> dict[str, Drop]:
    rng = np.random.default_rng([spec.seed, spec.number])
    pop = simulate(rng, spec.customers, window, agent_quality)
    numbers = spec.first_customer + np.arange(spec.customers)
    cids = customer_ids(numbers)
    drops: dict[str, Drop] = {d: {} for d in DROPS}

    drops["main"]["crm__customers"] = customer_rows(rng, pop, numbers)
    plant = spec.customers >= PLANT_MIN_CUSTOMERS
    subs_main, subs_updates = subscription_rows(rng, pop, numbers, cids, window, plant)
    drops["main"]["crm__subscriptions"] = subs_main
    drops["updates"]["crm__subscriptions"] = subs_updates
    drops["main"]["crm__invoices"] = invoice_rows(
        rng, pop.subscriptions, cids, window, spec.number, plant
    )

    t_main, t_updates, t_corrections = _tickets(rng, pop.tickets, cids, window, spec.number, plant)
    drops["main"]["tickets__tickets"] = t_main
    drops["updates"]["tickets__tickets"] = t_updates
    drops["corrections"]["tickets__tickets"] = t_corrections

    responses, experience = build_responses(rng, pop, window)
    ini = window.initiative_times()
    answers = answer(rng, responses, experience, ini[0][0], ini[1][0])
    r_table, a_main, a_late = _survey_tables(rng, responses, answers, cids, spec.number, plant)
    drops["main"]["feedback__responses"] = r_table
    drops["main"]["feedback__answers"] = a_main
    drops["updates"]["feedback__answers"] = a_late

    drops["main"]["web__events"] = _events(rng, pop, numbers, cids, window, spec.number, plant)
    return drops


# --- tickets --------------------------------------------------------------------


def ticket_table(
    rng: np.random.Generator,
    ticket_ids: pa.Array,
    customer: pa.Array,
    t: Tickets,
    rows: np.ndarray,
    status: np.ndarray,
    first_response_at: np.ndarray,
    solved_at: np.ndarray,
    satisfaction: np.ndarray,
) -> pa.Table:
    take = pa.array(rows)
    explicit = t.explicit_tp[rows]
    return entity_table(
        "tickets__tickets",
        {
            "ticket_id": ticket_ids.take(take),
            "customer_id": customer.take(take),
            "created_at": ts_strings(rng, t.created_at[rows], p_offset=0.15),
            "channel": pick(fw.TICKET_CHANNELS, t.channel[rows]),
            "category": pick(_CATEGORIES, t.category[rows]),
            "priority": pick(fw.PRIORITIES, t.priority[rows]),
            "status": pick(STATUSES, status),
            "first_response_at": ts_strings(rng, first_response_at, p_offset=0.15),
            "solved_at": ts_strings(rng, solved_at, p_offset=0.15),
            "touchpoint_id": pick(_TP_IDS, np.maximum(explicit, 0), valid=explicit >= 0),
            "agent_id": ids("AG-", t.agent[rows] + 1, 3),
            "satisfaction": pick(("", *SATISFACTION), satisfaction, valid=satisfaction > 0),
        },
    )


def ticket_states(
    rng: np.random.Generator, t: Tickets, as_of: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Status, first_response_at, solved_at and satisfaction as seen at `as_of`."""
    k = len(t.created_at)
    solved = t.solved_at < as_of
    responded = t.first_response_at < as_of
    status = np.where(
        solved,
        np.where((t.solved_at < as_of - 7 * DAY) & (rng.random(k) < 0.6), CLOSED, SOLVED),
        np.where(responded, np.where(rng.random(k) < 0.5, OPEN, PENDING), NEW),
    )
    first_response = np.where(responded, t.first_response_at, NO_TIME)
    solved_at = np.where(solved, t.solved_at, NO_TIME)
    satisfaction = np.where(solved, t.satisfaction, 0)
    return status, first_response, solved_at, satisfaction


def _tickets(
    rng: np.random.Generator,
    t: Tickets,
    cids: pa.Array,
    window: Window,
    chunk: int,
    plant: bool,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    order = np.argsort(t.created_at, kind="stable")
    t = Tickets(**{f: v[order] for f, v in vars(t).items()})
    k = len(t.created_at)
    end = window.end
    tid = ids(f"T{chunk:04d}-", np.arange(k), 6)
    customer = nullable_ids(cids.take(pa.array(np.maximum(t.customer, 0))), t.customer >= 0)
    status, first_resp, solved_at, satisfaction = ticket_states(rng, t, end)
    resolved = solved_at != NO_TIME

    # Reopened tickets were extracted as solved, then reopened, then solved again.
    reopen_seen = t.reopened & (t.first_solved_at < end)
    # Other recently solved tickets were extracted while still open.
    late = (
        resolved
        & ~reopen_seen
        & (((t.solved_at > end - 30 * DAY) & (rng.random(k) < 0.5)) | (rng.random(k) < 0.03))
    )
    m_status = np.where(reopen_seen, SOLVED, np.where(late, OPEN, status))
    m_solved = np.where(reopen_seen, t.first_solved_at, np.where(late, NO_TIME, solved_at))
    m_sat = np.where(reopen_seen | late, 0, satisfaction)
    # Planted: tickets solved before they were created (rule solved_after_created).
    plain = np.flatnonzero(resolved & ~reopen_seen & ~late)
    n_bad = max(1, round(0.0008 * k)) if plant else 0
    bad = rng.choice(plain, min(n_bad, len(plain)), replace=False) if len(plain) else plain
    m_solved[bad] = t.created_at[bad] - rng.integers(HOUR, 2 * DAY, len(bad))
    m_first = first_resp.copy()
    m_first[bad] = NO_TIME
    rows = np.arange(k)
    main = ticket_table(rng, tid, customer, t, rows, m_status, m_first, m_solved, m_sat)

    up = np.flatnonzero(reopen_seen | late)
    u_status = np.where(reopen_seen[up], OPEN, status[up])
    u_solved = np.where(reopen_seen[up], NO_TIME, solved_at[up])
    u_sat = np.where(reopen_seen[up], 0, satisfaction[up])
    updates = ticket_table(rng, tid, customer, t, up, u_status, first_resp[up], u_solved, u_sat)

    again = np.flatnonzero(reopen_seen & resolved)
    corrections = ticket_table(
        rng, tid, customer, t, again, status[again], first_resp[again], solved_at[again],
        satisfaction[again],
    )  # fmt: skip
    # Planted: a correction that would move a valid ticket's solve before its creation;
    # it must be quarantined and the ticket keep its valid state.
    rest = np.setdiff1d(plain, bad)
    if plant and len(rest):
        b = np.array([rest[int(rng.integers(0, len(rest)))]])
        wrong = ticket_table(
            rng, tid, customer, t, b, np.array([SOLVED]), first_resp[b],
            t.created_at[b] - 3 * HOUR, satisfaction[b],
        )  # fmt: skip
        corrections = pa.concat_tables([corrections, wrong])
    return main, updates, corrections


# --- feedback -------------------------------------------------------------------


def survey_tables(
    rng: np.random.Generator,
    responses: Responses,
    answers: Answers,
    cids: pa.Array,
    response_prefix: str,
) -> tuple[pa.Table, pa.Table]:
    k = len(responses.submitted_at)
    rid = ids(response_prefix, np.arange(k), 7)
    tp = responses.touchpoint
    resp = entity_table(
        "feedback__responses",
        {
            "response_id": rid,
            "survey_id": pick(fw.SURVEYS, responses.survey),
            "customer_id": nullable_ids(
                cids.take(pa.array(np.maximum(responses.customer, 0))), responses.customer >= 0
            ),
            "touchpoint_id": pick(_TP_IDS, np.maximum(tp, 0), valid=tp >= 0),
            "channel": pick(RESPONSE_CHANNELS, responses.channel),
            "submitted_at": ts_strings(rng, responses.submitted_at),
        },
    )
    ans = entity_table(
        "feedback__answers",
        {
            "response_id": rid.take(pa.array(answers.response)),
            "question_id": pick(_QUESTION_IDS, answers.question),
            "value_number": pa.array(answers.value, pa.float64(), from_pandas=True),
            "value_text": pick(
                VERBATIM_TEXTS, np.maximum(answers.text, 0), valid=answers.text >= 0
            ),
        },
    )
    return resp, ans


def _survey_tables(
    rng: np.random.Generator,
    responses: Responses,
    answers: Answers,
    cids: pa.Array,
    chunk: int,
    plant: bool,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    a = len(answers.response)
    value = answers.value.copy()
    # Planted: answers outside their question's scale (rule answer_within_scale).
    numeric = np.flatnonzero(~_Q_VERBATIM[answers.question])
    n_bad = min(len(numeric), max(2, round(0.0003 * a))) if plant else 0
    bad = rng.choice(numeric, n_bad, replace=False)
    q = answers.question[bad]
    value[bad] = np.where(np.arange(len(bad)) % 2 == 0, _Q_MAX[q] + 1, _Q_MIN[q] - 1)
    answers = Answers(answers.response, answers.question, value, answers.text)

    resp, ans = survey_tables(rng, responses, answers, cids, f"R{chunk:04d}-")
    # Planted: a response without its required submitted_at (its answers then have
    # no valid response and wait in quarantine) and an answer to an unknown question.
    k = len(responses.submitted_at)
    if plant and k and a:
        r = int(rng.integers(0, k))
        col = resp.schema.get_field_index("submitted_at")
        missing = pc.if_else(
            pa.array(np.arange(k) == r), pa.scalar(None, pa.string()), resp.column(col)
        )
        resp = resp.set_column(col, "submitted_at", missing)
        unknown = entity_table(
            "feedback__answers",
            {
                "response_id": ans.column("response_id").slice(0, 1),
                "question_id": pa.array(["Q-LEGACY-NPS"]),
                "value_number": pa.array([8.0]),
                "value_text": nulls(1),
            },
        )
        ans = pa.concat_tables([ans, unknown])

    # Some answers reach the warehouse in a later drop than their response.
    late_resp = rng.random(k) < 0.02
    is_late = np.zeros(len(ans), bool)
    is_late[:a] = late_resp[answers.response]
    late_mask = pa.array(is_late)
    return resp, ans.filter(pc.invert(late_mask)), ans.filter(late_mask)


# --- web ------------------------------------------------------------------------


def _events(
    rng: np.random.Generator,
    pop: Population,
    numbers: np.ndarray,
    cids: pa.Array,
    window: Window,
    chunk: int,
    plant: bool,
) -> pa.Table:
    iv, subs = pop.intervals, pop.subscriptions
    b = window.bounds
    share = (iv.hi - iv.lo) / (b[iv.month + 1] - b[iv.month])
    sub_end = subs.ended_at[iv.subscription]
    # Usage falls in the two months before a customer leaves.
    fading = (sub_end != NO_TIME) & (sub_end - iv.hi < 60 * DAY)
    rate = (
        SESSION_RATE[pop.segment[iv.customer]]
        * share
        * window.season(iv.month)
        * np.where(fading, 0.35, 1.0)
    )
    rows = np.repeat(np.arange(len(rate)), rng.poisson(rate))
    c = iv.customer[rows]
    start = iv.lo[rows] + (rng.random(len(rows)) * (iv.hi[rows] - iv.lo[rows])).astype(np.int64)
    two_devices = rng.random(pop.n) < 0.25
    second = two_devices[c] & (rng.random(len(c)) < 0.3)
    logged_in = rng.random(len(c)) < 0.75
    cust_sessions = Sessions(
        start=start,
        device=device_ids(numbers[c], second),
        customer=nullable_ids(cids.take(pa.array(c)), logged_in),
        currency=subs.currency[iv.subscription[rows]],
        kind=np.full(len(c), KIND_CUSTOMER),
        has_session_id=rng.random(len(c)) < 0.12,
    )

    # Visits before signing up (anonymous), and the sign-up visit itself.
    joined = np.flatnonzero(pop.signed_up_at >= window.start)
    before = np.repeat(joined, 1 + rng.poisson(0.8, len(joined)))
    pre_start = pop.signed_up_at[before] - rng.integers(HOUR, 30 * DAY, len(before))
    ok = pre_start >= window.start
    before, pre_start = before[ok], pre_start[ok]
    su_start = pop.signed_up_at[joined] - rng.integers(120, 900, len(joined))
    who = np.concatenate([before, joined])
    visit_sessions = Sessions(
        start=np.concatenate([pre_start, su_start]),
        device=device_ids(numbers[who], np.zeros(len(who), bool)),
        customer=pa.concat_arrays([nulls(len(before)), cids.take(pa.array(joined))]),
        currency=pop.currency[who],
        kind=np.concatenate(
            [np.full(len(before), KIND_ANONYMOUS), np.full(len(joined), KIND_SIGNUP)]
        ),
        has_session_id=np.zeros(len(who), bool),
    )

    # Visitors who never become customers.
    nv = int(VISITORS_PER_CUSTOMER * pop.n)
    visitor = np.repeat(np.arange(nv), rng.poisson(VISITOR_SESSIONS, nv))
    months = np.arange(window.pre, window.n_sim)
    weight = window.season(months)
    m = rng.choice(months, len(visitor), p=weight / weight.sum())
    v_start = b[m] + (rng.random(len(m)) * (b[m + 1] - b[m])).astype(np.int64)
    visitor_sessions = Sessions(
        start=v_start,
        device=ids(f"V{chunk:04d}-", visitor, 6),
        customer=nulls(len(visitor)),
        currency=rng.choice(3, len(visitor), p=[0.6, 0.2, 0.2]),
        kind=np.full(len(visitor), KIND_ANONYMOUS),
        has_session_id=np.zeros(len(visitor), bool),
    )

    parts = (cust_sessions, visit_sessions, visitor_sessions)
    sessions = Sessions(
        start=np.concatenate([p.start for p in parts]),
        device=pa.concat_arrays([p.device for p in parts]),
        customer=pa.concat_arrays([p.customer for p in parts]),
        currency=np.concatenate([p.currency for p in parts]),
        kind=np.concatenate([p.kind for p in parts]),
        has_session_id=np.concatenate([p.has_session_id for p in parts]),
    )
    checkout_redesign = window.initiative_times()[0][0]
    events = session_events(rng, sessions, checkout_redesign, f"E{chunk:04d}-", f"WS{chunk:04d}-")
    # Planted: events without their required anonymous_id.
    n = len(events)
    n_bad = min(n, max(1, round(0.00005 * n))) if plant else 0
    bad = rng.choice(n, n_bad, replace=False)
    mask = np.zeros(n, bool)
    mask[bad] = True
    col = events.schema.get_field_index("anonymous_id")
    anon = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), events.column(col))
    return events.set_column(col, "anonymous_id", anon)
