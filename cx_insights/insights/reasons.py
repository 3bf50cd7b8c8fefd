"""A churn reason in words and as a code, from the facts of a snapshot
(cx_insights.insights.risk.SNAPSHOT_COLUMNS): what customers_at_risk shows."""

from __future__ import annotations

import pandas as pd


def _plural(n: float, word: str) -> str:
    count = int(round(n))
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


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


def reason_text(reason: str, facts: pd.Series | dict, coefficient: float = 1.0) -> str:
    """One reason in words, from the facts of a snapshot (SNAPSHOT_COLUMNS)."""
    f = facts
    if reason == "surveys":
        rating = f["survey_rating"]
        average = "" if pd.isna(rating) else f"average rating {10 * rating:.1f} / 10"
        if f["latest_nps_category"] == "detractor":
            text = reason_text("nps", f)
            return f"{text}, {average}" if average else text
        if f["latest_nps_category"] == "no_answer":
            return f"no NPS answer yet, {average}" if average else "no survey answers yet"
        return f"low survey ratings ({average})" if average else reason_text("nps", f)
    if reason == "nps":
        category = f["latest_nps_category"]
        if category == "no_answer":
            return "no NPS answer yet"
        score, month = f["latest_nps_score"], _month_name(f["latest_nps_month_start_date"])
        return f"{category} (NPS {score:.0f}) in {month}"
    if reason == "detractor_answers_6m":
        return _plural(f[reason], "detractor answer") + " in the last 6 months"
    if reason == "survey_rating":
        if pd.isna(f["survey_rating"]):
            return "no survey answers yet"
        return f"low survey ratings (average {10 * f['survey_rating']:.1f} / 10)"
    if reason == "unresolved_tickets":
        return _plural(f[reason], "unresolved ticket")
    if reason == "slow_tickets_3m":
        return _plural(f[reason], "slow ticket") + " in the last 3 months"
    if reason == "bad_rated_tickets_6m":
        return _plural(f[reason], "ticket") + " rated bad in the last 6 months"
    if reason == "sessions":
        return _sessions_text(
            f["sessions_last_month"], f["sessions_last_3m"], f["sessions_prev_3m"]
        )
    if reason == "is_new_customer":
        return f"new customer ({int(f['tenure_days'])} days)"
    if reason == "log_mrr":
        size = "low" if coefficient < 0 else "high"
        return f"{size} MRR ({f['mrr']:,.2f})"
    if reason == "scheduled_end":
        end = pd.Timestamp(f["scheduled_end_at"])
        return f"cancellation scheduled for {end.day} {end:%B %Y}"
    raise ValueError(f"no reason text for {reason!r}")


def reason_code(reason: str, facts: pd.Series | dict) -> str:
    """The kind of one reason as a stable code (what reason_text says in words), so
    that readers group reasons without parsing text: nps_detractor, nps_passive,
    nps_promoter, no_nps_answer, no_survey_answers, low_survey_ratings,
    detractor_answers, unresolved_tickets, slow_tickets, bad_rated_tickets,
    falling_sessions, new_customer, mrr, scheduled_end."""
    f = facts
    if reason == "surveys":
        has_rating = not pd.isna(f["survey_rating"])
        if f["latest_nps_category"] == "detractor":
            return "nps_detractor"
        if f["latest_nps_category"] == "no_answer":
            return "no_nps_answer" if has_rating else "no_survey_answers"
        return "low_survey_ratings" if has_rating else reason_code("nps", f)
    if reason == "nps":
        category = f["latest_nps_category"]
        return "no_nps_answer" if category == "no_answer" else f"nps_{category}"
    if reason == "survey_rating":
        return "low_survey_ratings" if not pd.isna(f["survey_rating"]) else "no_survey_answers"
    codes = {
        "detractor_answers_6m": "detractor_answers",
        "unresolved_tickets": "unresolved_tickets",
        "slow_tickets_3m": "slow_tickets",
        "bad_rated_tickets_6m": "bad_rated_tickets",
        "sessions": "falling_sessions",
        "is_new_customer": "new_customer",
        "log_mrr": "mrr",
        "scheduled_end": "scheduled_end",
    }
    if reason not in codes:
        raise ValueError(f"no reason code for {reason!r}")
    return codes[reason]
