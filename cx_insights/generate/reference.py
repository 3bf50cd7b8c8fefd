"""The framework, question and FX-rate tables (small, written once per landing dir)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cx_insights.generate import framework as fw
from cx_insights.generate.files import date_strings, entity_table, ts_strings
from cx_insights.generate.timeline import Window


def _text(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.string())


def framework_tables(window: Window) -> dict[str, pa.Table]:
    rng = np.random.default_rng(0)  # only picks timestamp spellings, none here
    tps = fw.TOUCHPOINTS
    rules = fw.TOUCHPOINT_RULES
    inis = fw.INITIATIVES
    times = window.initiative_times()
    started = np.array([s for s, _ in times])
    ended = np.array([e for _, e in times])
    return {
        "framework__journeys": entity_table(
            "framework__journeys",
            {
                "journey_id": _text([j[0] for j in fw.JOURNEYS]),
                "journey_name": _text([j[1] for j in fw.JOURNEYS]),
                "stage_order": _text([str(j[2]) for j in fw.JOURNEYS]),
            },
        ),
        "framework__jobs": entity_table(
            "framework__jobs",
            {
                "job_id": _text([j[0] for j in fw.JOBS]),
                "journey_id": _text([j[1] for j in fw.JOBS]),
                "job_statement": _text([j[2] for j in fw.JOBS]),
            },
        ),
        "framework__touchpoints": entity_table(
            "framework__touchpoints",
            {
                "touchpoint_id": _text([t.touchpoint_id for t in tps]),
                "job_id": _text([t.job_id for t in tps]),
                "touchpoint_name": _text([t.name for t in tps]),
                "channel": _text([t.channel for t in tps]),
                "is_controllable": _text(["true" if t.is_controllable else "false" for t in tps]),
            },
        ),
        "framework__touchpoint_rules": entity_table(
            "framework__touchpoint_rules",
            {
                "rule_id": _text([r[0] for r in rules]),
                "source": _text([r[1] for r in rules]),
                "match_column": _text([r[2] for r in rules]),
                "pattern": _text([r[3] for r in rules]),
                "touchpoint_id": _text([r[4] for r in rules]),
                "priority": _text([str(r[5]) for r in rules]),
            },
        ),
        "framework__initiatives": entity_table(
            "framework__initiatives",
            {
                "initiative_id": _text([i.initiative_id for i in inis]),
                "name": _text([i.name for i in inis]),
                "owner": _text([i.owner for i in inis]),
                "touchpoint_id": _text([i.touchpoint_id for i in inis]),
                "journey_id": _text([i.journey_id for i in inis]),
                "started_at": ts_strings(rng, started, p_offset=0, p_naive=0),
                "ended_at": ts_strings(rng, ended, p_offset=0, p_naive=0),
                "cost": _text([i.cost for i in inis]),
                "currency": _text([i.currency for i in inis]),
                "target_metric": _text([i.target_metric for i in inis]),
                "target_value": _text([i.target_value for i in inis]),
            },
        ),
        "feedback__questions": question_table(),
    }


def question_table() -> pa.Table:
    qs = fw.QUESTIONS

    def num(v: int | None) -> str | None:
        return None if v is None else str(v)

    return entity_table(
        "feedback__questions",
        {
            "question_id": _text([q.question_id for q in qs]),
            "survey_id": _text([fw.SURVEYS[q.survey] for q in qs]),
            "metric": _text([q.metric for q in qs]),
            "driver": _text([q.driver for q in qs]),
            "scale_min": _text([num(q.scale_min) for q in qs]),
            "scale_max": _text([num(q.scale_max) for q in qs]),
            "question_text": _text([q.text for q in qs]),
        },
    )


def fx_table(seed: int, window: Window) -> pa.Table:
    """Monthly rates to EUR from the month before the first subscription could start.

    Subscriptions start as early as the first simulated month, so a rate on or
    before every amount's date exists.
    """
    rng = np.random.default_rng([seed, 0xF0])
    first = np.datetime64(int(window.bounds[0]), "s").astype("datetime64[M]") - 1
    last = np.datetime64(int(window.bounds[-2]), "s").astype("datetime64[M]")
    months = np.arange(first, last + 1)
    days = months.astype("datetime64[s]").astype(np.int64)
    rows_date, rows_cur, rows_rate = [], [], []
    for cur in fw.CURRENCIES:
        start = fw.FX_START[cur]
        if cur == "EUR":
            rates = np.ones(len(months))
        else:
            rates = start * np.exp(np.cumsum(rng.normal(0, 0.012, len(months))))
        rows_date.append(days)
        rows_cur += [cur] * len(months)
        rows_rate += [f"{r:.6f}" for r in rates]
    dates = np.concatenate(rows_date)
    order = np.lexsort((np.array(rows_cur), dates))
    return entity_table(
        "framework__fx_rates",
        {
            "rate_date": date_strings(dates).take(pa.array(order)),
            "currency": _text(rows_cur).take(pa.array(order)),
            "rate_to_reporting": _text(rows_rate).take(pa.array(order)),
        },
    )
