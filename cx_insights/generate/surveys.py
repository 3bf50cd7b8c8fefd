"""Survey responses and their answers.

A response's *experience* is the customer's latent satisfaction, lowered by
recent ticket pain, plus the quality of the touchpoint it is about, plus the
initiatives in force. Each driver rating mixes that experience with its own
independent part, and the NPS answer weighs those independent parts by the
journey's `DRIVER_WEIGHTS`: this is what driver importance must recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cx_insights.generate import framework as fw
from cx_insights.generate.population import Population
from cx_insights.generate.timeline import DAY, HOUR, Window

RESPONSE_CHANNELS: tuple[str, ...] = ("email", "web", "in_app", "sms")
VERBATIM_TEXTS: tuple[str, ...] = (
    fw.VERBATIMS["detractor"]
    + fw.VERBATIMS["passive"]
    + fw.VERBATIMS["promoter"]
    + fw.VERBATIMS_WITH_PII
)
_V_START = np.cumsum([0, len(fw.VERBATIMS["detractor"]), len(fw.VERBATIMS["passive"])])
_V_LEN = np.array([len(fw.VERBATIMS[k]) for k in ("detractor", "passive", "promoter")])
_V_PII_START = len(VERBATIM_TEXTS) - len(fw.VERBATIMS_WITH_PII)

_TP_SURVEY = np.array(
    [
        fw.SURVEY_ASSISTED
        if tp.channel in ("phone", "chat", "store") or tp.job_id == "JOB-06"
        else fw.SURVEY_DIGITAL
        for tp in fw.TOUCHPOINTS
    ]
)
_TP_RESPONSE_CHANNEL = np.array(
    [{"web": 1, "app": 2, "email": 0}.get(tp.channel, 3) for tp in fw.TOUCHPOINTS]
)
_TXN_WEIGHT = np.array([tp.survey_weight for tp in fw.TOUCHPOINTS])
_TXN_WEIGHT = _TXN_WEIGHT / _TXN_WEIGHT.sum()
_SUPPORT = np.array([tp.job_id == "JOB-06" for tp in fw.TOUCHPOINTS])
_CHECKOUT = fw.TP_INDEX["TP-04"]
_SPEED = fw.DRIVERS.index("speed")
_EASE = fw.DRIVERS.index("ease")
_Q_SURVEY = np.array([q.survey for q in fw.QUESTIONS])

#: Relational and transactional invitations answered per active customer-month.
RELATIONAL_RATE = 0.08
TRANSACTIONAL_RATE = 0.22
#: Share of solved tickets followed by an answered support survey.
TICKET_SURVEY_SHARE = 0.25


@dataclass
class Responses:
    customer: np.ndarray  # index in the chunk, -1 = anonymous
    submitted_at: np.ndarray
    survey: np.ndarray
    touchpoint: np.ndarray  # -1 = relational
    channel: np.ndarray  # index in RESPONSE_CHANNELS


@dataclass
class Answers:
    response: np.ndarray  # row in Responses
    question: np.ndarray  # index in fw.QUESTIONS
    value: np.ndarray  # float, nan for verbatims
    text: np.ndarray  # index in VERBATIM_TEXTS, -1 for numeric answers


def transactional_touchpoints(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.choice(len(fw.TOUCHPOINTS), k, p=_TXN_WEIGHT)


def build_responses(
    rng: np.random.Generator, pop: Population, window: Window
) -> tuple[Responses, np.ndarray]:
    """Responses of a chunk and the experience behind each (for `answer`)."""
    iv, tk = pop.intervals, pop.tickets
    month_len = window.bounds[iv.month + 1] - window.bounds[iv.month]
    share = (iv.hi - iv.lo) / month_len

    parts = []
    for survey_rate, relational in ((RELATIONAL_RATE, True), (TRANSACTIONAL_RATE, False)):
        counts = rng.poisson(survey_rate * share)
        rows = np.repeat(np.arange(len(share)), counts)
        k = len(rows)
        ts = iv.lo[rows] + (rng.random(k) * (iv.hi[rows] - iv.lo[rows])).astype(np.int64)
        tp = np.full(k, -1) if relational else transactional_touchpoints(rng, k)
        adj = -0.3 * iv.pain[rows]
        parts.append((iv.customer[rows], ts, tp, adj))

    # Support surveys after solved tickets: slow and reopened tickets score lower.
    solved = (tk.customer >= 0) & (tk.solved_at < window.end)
    pick = np.flatnonzero(solved & (rng.random(len(solved)) < TICKET_SURVEY_SHARE))
    ts = tk.solved_at[pick] + rng.integers(HOUR, 3 * DAY, len(pick))
    keep = ts < window.end
    pick, ts = pick[keep], ts[keep]
    tp = fw.SUPPORT_TP_OF_CHANNEL[tk.channel[pick]]
    adj = -0.9 * tk.slow[pick] - 1.1 * tk.reopened[pick]
    parts.append((tk.customer[pick], ts, tp, adj))

    customer, ts, tp, adj = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.argsort(ts, kind="stable")
    customer, ts, tp, adj = customer[order], ts[order], tp[order], adj[order]
    experience = 0.85 * pop.sat[customer] + adj
    # Some respondents stay anonymous (their answers still reflect who they are).
    anonymous = rng.random(len(ts)) < np.where(tp >= 0, 0.06, 0.02)
    customer = np.where(anonymous, -1, customer)
    return make_responses(rng, customer, ts, tp), experience


def make_responses(
    rng: np.random.Generator, customer: np.ndarray, submitted_at: np.ndarray, tp: np.ndarray
) -> Responses:
    """Responses to the survey each touchpoint sends (relational where tp = -1)."""
    known = np.maximum(tp, 0)
    survey = np.where(tp >= 0, _TP_SURVEY[known], fw.SURVEY_REL)
    channel = np.where(tp >= 0, _TP_RESPONSE_CHANNEL[known], 0)
    # Assisted surveys go out by SMS, some by e-mail.
    channel = np.where((channel == 3) & (rng.random(len(tp)) < 0.4), 0, channel)
    return Responses(customer, submitted_at, survey, tp, channel)


def answer(
    rng: np.random.Generator,
    responses: Responses,
    experience: np.ndarray,
    checkout_redesign_at: int,
    callback_at: int,
) -> Answers:
    """Answers to every question of each response's survey (with item non-response).

    From `checkout_redesign_at` (INI-01) the checkout's experience is much
    better; from `callback_at` (INI-02) support is rated faster.
    """
    k = len(responses.submitted_at)
    tp = responses.touchpoint
    ts = responses.submitted_at
    e = experience + np.where(tp >= 0, fw.TP_QUALITY[np.maximum(tp, 0)], 0.0)
    e = e + np.where((tp == _CHECKOUT) & (ts >= checkout_redesign_at), 1.0, 0.0)
    callback = (tp >= 0) & _SUPPORT[np.maximum(tp, 0)] & (ts >= callback_at)
    e = e + 0.6 * rng.standard_normal(k)

    u = rng.standard_normal((k, len(fw.DRIVERS)))
    u[:, _SPEED] += np.where(callback, 0.6, 0.0)  # INI-02: faster call-backs
    drivers = np.clip(np.round(3.35 + 0.95 * (0.55 * e[:, None] + 0.85 * u)), 1, 5)
    row = np.where(tp >= 0, fw.TP_JOURNEY[np.maximum(tp, 0)], len(fw.JOURNEYS))
    nps_latent = 0.7 * e + (fw.DRIVER_WEIGHTS[row] * u).sum(axis=1)
    nps_latent += 0.45 * rng.standard_normal(k)
    nps = np.clip(np.round(7.9 + 1.6 * nps_latent), 0, 10)
    ease = u[:, _EASE]
    csat = np.clip(
        np.round(3.75 + 1.0 * (0.75 * e + 0.25 * ease + 0.45 * rng.standard_normal(k))), 1, 5
    )
    effort = 0.5 * e + 0.5 * ease + 0.5 * rng.standard_normal(k)
    ces7 = np.clip(np.round(5.0 + 1.3 * effort), 1, 7)
    ces5 = np.clip(np.round(3.6 + 0.95 * effort), 1, 5)

    category = np.where(nps >= 9, 2, np.where(nps >= 7, 1, 0))
    text = _V_START[category] + (rng.random(k) * _V_LEN[category]).astype(np.int64)
    text = np.where(rng.random(k) < 0.03, _V_PII_START + rng.integers(0, 6, k), text)

    driver_block = rng.random(k) < 0.55
    resp_parts, q_parts, v_parts, t_parts = [], [], [], []
    for qi, q in enumerate(fw.QUESTIONS):
        in_survey = responses.survey == q.survey
        if q.metric == "nps":
            answered, value = rng.random(k) < 0.97, nps
        elif q.metric == "csat":
            answered, value = rng.random(k) < 0.95, csat
        elif q.metric == "ces":
            answered, value = rng.random(k) < 0.9, (ces7 if q.scale_max == 7 else ces5)
        elif q.metric == "driver":
            d = fw.DRIVERS.index(q.driver)
            answered, value = driver_block & (rng.random(k) < 0.93), drivers[:, d]
        else:
            answered = rng.random(k) < np.where(category == 0, 0.5, 0.3)
            value = np.full(k, np.nan)
        rows = np.flatnonzero(in_survey & answered)
        resp_parts.append(rows)
        q_parts.append(np.full(len(rows), qi))
        v_parts.append(value[rows])
        t_parts.append(text[rows] if q.metric == "verbatim" else np.full(len(rows), -1))
    response = np.concatenate(resp_parts)
    question = np.concatenate(q_parts)
    order = np.lexsort((question, response))
    return Answers(
        response=response[order],
        question=question[order],
        value=np.concatenate(v_parts)[order],
        text=np.concatenate(t_parts)[order],
    )
