"""A churn reason in words and as a code, from the facts of a snapshot
(cx_insights.insights.risk.SNAPSHOT_COLUMNS): what customers_at_risk shows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd


def _plural(n: float, word: str) -> str:
    count = int(round(n))
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _out_of_ten(position: float) -> str:
    """A rating position 0..1 as 'x.y' out of 10, halves rounded up. The position is
    an average the database computed in floating point (5.55 can arrive as
    5.549999999999999 on one engine and 5.550000000000001 on another): rounded to
    nine places first, the same rating reads the same on every target."""
    tenths = Decimal(repr(round(10 * float(position), 9)))
    return str(tenths.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _month_name(value: object) -> str:
    return pd.Timestamp(value).strftime("%B %Y")


def _sessions_text(last_month: float, last_3m: float, prev_3m: float) -> str:
    if last_3m == 0 and prev_3m == 0:
        return "no web sessions in the last 6 months"
    if prev_3m > 0 and last_3m < prev_3m:
        return f"sessions down {round(100 * (prev_3m - last_3m) / prev_3m)} %"
    monthly = prev_3m / 3
    if monthly > 0 and last_month < monthly:
        return f"sessions down {round(100 * (monthly - last_month) / monthly)} % last month"
    if last_3m == 0:
        return "no web sessions in the last 3 months"
    return "only " + _plural(last_3m, "web session") + " in the last 3 months"


def describe(reason: str, facts: pd.Series | dict, coefficient: float = 1.0) -> tuple[str, str]:
    """One reason of a snapshot (SNAPSHOT_COLUMNS) as (code, words): the code is
    stable, for readers to group by without parsing the words (nps_detractor,
    nps_passive, nps_promoter, no_nps_answer, no_survey_answers, low_survey_ratings,
    detractor_answers, unresolved_tickets, slow_tickets, bad_rated_tickets,
    falling_sessions, new_customer, mrr, scheduled_end). Each branch says both, so
    the two cannot drift apart."""
    f = facts
    if reason == "surveys":
        rating = f["survey_rating"]
        average = "" if pd.isna(rating) else f"average rating {_out_of_ten(rating)} / 10"
        if f["latest_nps_category"] == "detractor":
            code, text = describe("nps", f)
            return code, f"{text}, {average}" if average else text
        if f["latest_nps_category"] == "no_answer":
            if average:
                return "no_nps_answer", f"no NPS answer yet, {average}"
            return "no_survey_answers", "no survey answers yet"
        if average:
            return "low_survey_ratings", f"low survey ratings ({average})"
        return describe("nps", f)
    if reason == "nps":
        category = f["latest_nps_category"]
        if category == "no_answer":
            return "no_nps_answer", "no NPS answer yet"
        score, month = f["latest_nps_score"], _month_name(f["latest_nps_month_start_date"])
        return f"nps_{category}", f"{category} (NPS {score:.0f}) in {month}"
    if reason == "detractor_answers_6m":
        return "detractor_answers", _plural(f[reason], "detractor answer") + " in the last 6 months"
    if reason == "survey_rating":
        if pd.isna(f["survey_rating"]):
            return "no_survey_answers", "no survey answers yet"
        return (
            "low_survey_ratings",
            f"low survey ratings (average {_out_of_ten(f['survey_rating'])} / 10)",
        )
    if reason == "unresolved_tickets":
        return "unresolved_tickets", _plural(f[reason], "unresolved ticket")
    if reason == "slow_tickets_3m":
        return "slow_tickets", _plural(f[reason], "slow ticket") + " in the last 3 months"
    if reason == "bad_rated_tickets_6m":
        return "bad_rated_tickets", _plural(f[reason], "ticket") + " rated bad in the last 6 months"
    if reason == "sessions":
        text = _sessions_text(
            f["sessions_last_month"], f["sessions_last_3m"], f["sessions_prev_3m"]
        )
        return "falling_sessions", text
    if reason == "is_new_customer":
        return "new_customer", f"new customer ({int(f['tenure_days'])} days)"
    if reason == "log_mrr":
        size = "low" if coefficient < 0 else "high"
        return "mrr", f"{size} MRR ({f['mrr']:,.2f})"
    if reason == "scheduled_end":
        end = pd.Timestamp(f["scheduled_end_at"])
        return "scheduled_end", f"cancellation scheduled for {end.day} {end:%B %Y}"
    raise ValueError(f"no reason for {reason!r}")


def reason_text(reason: str, facts: pd.Series | dict, coefficient: float = 1.0) -> str:
    """One reason in words (see describe)."""
    return describe(reason, facts, coefficient)[1]


def reason_code(reason: str, facts: pd.Series | dict) -> str:
    """One reason as its stable code (see describe)."""
    return describe(reason, facts)[0]
