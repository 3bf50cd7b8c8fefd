"""Three things to act on, in words, and the money summaries the executive page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cx_insights.insights.stats import wilson_interval
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    as_float,
    driver_window,
    framework_labels,
    kpi_rows,
    kpi_value,
    label_of,
    worst_touchpoint_rows,
)
from cx_insights.report.dashboard.formatting import (
    add_months,
    fmt_money,
    fmt_number,
    is_missing,
    month_label,
)

# --------------------------------------------------------------------------------------
# "Three things to act on": sentences from the data.


@dataclass(frozen=True)
class Action:
    rank: int  # lower comes first
    headline: str
    detail: str


@dataclass(frozen=True)
class EvidenceGap:
    """A candidate the data cannot support yet, and how much more it needs."""

    subject: str
    text: str


def answers_needed(n: int, ci_low: float, ci_high: float, gap: float) -> int:
    """More answers until a gap of this size would be significant at 95 % (the interval's
    half-width shrinks with 1/sqrt(n)), and at least until n reaches LOW_SAMPLE."""
    import math

    half = (float(ci_high) - float(ci_low)) / 2
    if gap <= 0 or half <= 0:
        return max(LOW_SAMPLE - n, 0)
    needed = math.ceil(n * (half / gap) ** 2)
    return max(needed, LOW_SAMPLE) - n


def touchpoint_evidence(data: DashboardData) -> tuple[pd.Series | None, pd.Series | None, float]:
    """(the weakest touchpoint significantly below the company, the weakest one that is
    not (yet), the company's NPS). Significant: n >= LOW_SAMPLE and the touchpoint's 95 %
    interval lies wholly below the company's NPS."""
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    rows = worst_touchpoint_rows(data)
    company = kpi_value(kpi, "nps", month) if kpi is not None and month else None
    if rows.empty or company is None or is_missing(company["value"]):
        return None, None, float("nan")
    value = float(company["value"])
    below = rows[rows["value"].astype(float) < value]
    significant = below[
        (below["n"] >= LOW_SAMPLE)
        & below["ci_high"].notna()
        & (below["ci_high"].astype(float) < value)
    ]
    best = significant.iloc[0] if not significant.empty else None
    unsure = below[~below.index.isin(significant.index)]
    weak = unsure.iloc[0] if not unsure.empty else None
    if best is not None and weak is not None and float(weak["value"]) >= float(best["value"]):
        weak = None
    return best, weak, value


def action_worst_touchpoint(data: DashboardData, labels: dict) -> Action | None:
    worst, _, company = touchpoint_evidence(data)
    month = data.reporting_month
    if worst is None or month is None:
        return None
    gap = company - float(worst["value"])
    tp = data.frame("dim_touchpoint")
    journey = ""
    if tp is not None:
        match = tp[tp["touchpoint_id"] == worst["level_id"]]
        if not match.empty:
            journey = f" in the {match['journey_name'].iloc[0]} journey"
    name = label_of(labels, "touchpoint", worst["level_id"])
    return Action(
        1,
        f"Fix “{name}”{journey}.",
        f"Its NPS was {fmt_number(worst['value'], 0)} in {month_label(month)} "
        f"(n = {int(worst['n'])}, 95 % interval {fmt_number(worst['ci_low'], 0)} to "
        f"{fmt_number(worst['ci_high'], 0)}), {fmt_number(gap, 0)} points below the "
        f"company's {fmt_number(company, 0)}: the whole interval is below it. What its "
        "customers say is on the CX lead page.",
    )


def _top2_interval(share_pct: float, n: float) -> tuple[float, float]:
    """95 % Wilson interval of a top-2-box share, in % (as the takeaways use): the
    normal approximation this replaced left [0, 100] % at small n or extreme shares."""
    if is_missing(n) or not n:
        return float("nan"), float("nan")
    return wilson_interval(float(share_pct) / 100 * float(n), float(n))


def driver_evidence(data: DashboardData) -> tuple[pd.Series | None, pd.Series | None, float, int]:
    """(the most important company driver in the 'fix first' quadrant whose top-2-box is
    significantly below its family's median, the first such driver that is not, the
    median, the family's size)."""
    drivers = data.frame("driver_importance")
    if drivers is None:
        return None, None, float("nan"), 0
    drivers, _ = driver_window(drivers)
    fix = drivers[
        (drivers["level"] == "company")
        & (drivers["quadrant"] == "fix first")
        & drivers["relative_weight_share"].notna()
        & drivers["performance_top_2_box_pct"].notna()
    ]
    if "is_significant" in fix.columns:
        # An element whose link with NPS cannot be told from none is not a priority.
        fix = fix[fix["is_significant"].fillna(False).astype(bool)]
    if fix.empty:
        return None, None, float("nan"), 0
    fix = fix.assign(_family=(fix["element_type"] != "driver").astype(int))
    fix = fix.sort_values(["_family", "relative_weight_share"], ascending=[True, False])
    chosen = weak = None
    median, size = float("nan"), 0
    for _, row in fix.iterrows():
        family = drivers[
            (drivers["level"] == "company") & (drivers["element_type"] == row["element_type"])
        ]
        med = float(family["performance_top_2_box_pct"].median())
        n = row["performance_n"]
        high = _top2_interval(row["performance_top_2_box_pct"], n)[1] if n else float("inf")
        if not is_missing(n) and n >= LOW_SAMPLE and high < med:
            chosen, median, size = row, med, len(family)
            break
        if weak is None:
            weak, median, size = row, med, len(family)
    return chosen, (weak if chosen is None else None), median, size


def action_key_driver(data: DashboardData) -> Action | None:
    """The company's most important driver in the 'fix first' quadrant, rated significantly
    worse than its family's median."""
    best, _, median, size = driver_evidence(data)
    if best is None:
        return None
    what = "experience driver" if best["element_type"] == "driver" else "touchpoint"
    low, high = _top2_interval(best["performance_top_2_box_pct"], best["performance_n"])
    return Action(
        2,
        f"Improve “{str(best['element_name'])[:1].upper()}{str(best['element_name'])[1:]}”.",
        f"Among the {size} {what}s it carries "
        f"{fmt_number(best['relative_weight_share'], 0)} % of what explains customers' NPS "
        f"answers, yet only {fmt_number(best['performance_top_2_box_pct'], 0)} % rate it "
        f"well (95 % interval {fmt_number(low, 0)} to {fmt_number(high, 0)} %, n = "
        f"{fmt_number(best['performance_n'])}; the median is {fmt_number(median, 0)} %), over "
        f"{driver_window(data.frame('driver_importance'))[1]}: the “fix first” corner of the "
        "key-driver quadrant.",
    )


def evidence_gaps(data: DashboardData, labels: dict) -> list[EvidenceGap]:
    """What looked like an action but the data cannot support yet."""
    gaps = []
    _, weak, company = touchpoint_evidence(data)
    if weak is not None:
        name = label_of(labels, "touchpoint", weak["level_id"])
        gap = company - float(weak["value"])
        interval = (
            f", 95 % interval {fmt_number(weak['ci_low'], 0)} to {fmt_number(weak['ci_high'], 0)}"
            if not is_missing(weak["ci_high"])
            else ""
        )
        more = (
            answers_needed(int(weak["n"]), weak["ci_low"], weak["ci_high"], gap)
            if not is_missing(weak["ci_high"])
            else max(LOW_SAMPLE - int(weak["n"]), 0)
        )
        gaps.append(
            EvidenceGap(
                f"“{name}”",
                f"NPS {fmt_number(weak['value'], 0)} (n = {int(weak['n'])}{interval}) against "
                f"the company's {fmt_number(company, 0)}: not significantly lower yet. About "
                f"{fmt_number(more)} more answers would tell, if the gap stays "
                f"{fmt_number(gap, 0)} points.",
            )
        )
    _, weak_driver, median, _ = driver_evidence(data)
    if weak_driver is not None:
        low, high = _top2_interval(
            weak_driver["performance_top_2_box_pct"], weak_driver["performance_n"] or 0
        )
        gaps.append(
            EvidenceGap(
                f"“{weak_driver['element_name']}”",
                f"rated well by {fmt_number(weak_driver['performance_top_2_box_pct'], 1)} % "
                f"(95 % interval {fmt_number(low, 1)} to {fmt_number(high, 1)} %), against a "
                f"median of {fmt_number(median, 1)} %: no different from the other drivers, "
                "so not a priority on this evidence.",
            )
        )
    return gaps


def action_revenue_at_risk(data: DashboardData) -> Action | None:
    rar = revenue_at_risk_summary(data)
    if rar is None or not rar["amount"]:
        return None
    reason = top_risk_reason(data)
    because = (
        f" For {fmt_number(reason[1])} of them the strongest reason is {reason[0]}."
        if reason
        else ""
    )
    return Action(
        3,
        f"Call the {fmt_number(rar['customers'])} customers in the high churn-risk band.",
        f"They hold {fmt_money(rar['amount'], data.currency)} of monthly recurring revenue "
        f"({fmt_number(rar['share'], 1)} % of all MRR).{because} The list, largest expected "
        "loss first, is below.",
    )


def action_support(data: DashboardData) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    now = kpi_value(kpi, "median_first_response_minutes", month)
    prev = kpi_value(kpi, "median_first_response_minutes", add_months(month, -1))
    if now is None or prev is None or is_missing(now["value"]) or not prev["value"]:
        return None
    change = (float(now["value"]) - float(prev["value"])) / float(prev["value"])
    if change <= 0.1:
        return None
    return Action(
        4,
        "Bring first response times back down.",
        f"The median first response rose to {fmt_number(now['value'], 0)} minutes in "
        f"{month_label(month)}, {fmt_number(change * 100, 0)} % slower than the month before.",
    )


def action_cart(data: DashboardData, labels: dict) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    rows = kpi_rows(kpi, "touchpoint", "cart_abandonment_rate", month)
    rows = rows[rows["value"].notna() & (rows["n"] >= LOW_SAMPLE) & (rows["level_id"] != "unknown")]
    company = kpi_value(kpi, "cart_abandonment_rate", month)
    if rows.empty or company is None or is_missing(company["value"]):
        return None
    worst = rows.sort_values("value", ascending=False).iloc[0]
    if float(worst["value"]) <= float(company["value"]):
        return None
    return Action(
        5,
        f"Look at carts left behind after “{label_of(labels, 'touchpoint', worst['level_id'])}”.",
        f"{fmt_number(worst['value'], 0)} % of sessions landing there that add to the cart "
        f"do not buy (n = {int(worst['n'])}), against {fmt_number(company['value'], 0)} % overall.",
    )


def action_churn(data: DashboardData) -> Action | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return None
    now = kpi_value(kpi, "churn_rate", month)
    year = kpi_value(kpi, "churn_rate", add_months(month, -12))
    if now is None or year is None or is_missing(now["value"]) or is_missing(year["value"]):
        return None
    if float(now["value"]) <= float(year["value"]):
        return None
    return Action(
        6,
        "Customer churn is higher than a year ago.",
        f"{fmt_number(now['value'], 2)} % of customers active at the start of "
        f"{month_label(month)} left, against {fmt_number(year['value'], 2)} % a year earlier.",
    )


def three_things(data: DashboardData) -> list[Action]:
    labels = framework_labels(data)
    candidates = [
        action_worst_touchpoint(data, labels),
        action_key_driver(data),
        action_revenue_at_risk(data),
        action_support(data),
        action_cart(data, labels),
        action_churn(data),
    ]
    return sorted((a for a in candidates if a is not None), key=lambda a: a.rank)[:3]


# --------------------------------------------------------------------------------------
# Insight summaries (read as they are from the insight marts).


def company_risk_bands(data: DashboardData) -> pd.DataFrame | None:
    """The company's rows of marts.revenue_at_risk (segment 'all'), one per band.

    The mart also has a row per segment and band: reading "the high band" off
    it without the segment would take whichever segment came first.
    """
    bands = data.frame("revenue_at_risk")
    if bands is None:
        return None
    return bands[bands["segment"] == "all"]


def revenue_at_risk_summary(data: DashboardData) -> dict[str, Any] | None:
    """The company's high band in marts.revenue_at_risk (kpis.md: revenue at risk)."""
    bands = company_risk_bands(data)
    if bands is None:
        return None
    high = bands[bands["risk_band"] == "high"]
    if high.empty:
        as_of = bands["as_of_date"].max() if not bands.empty else None
        return {"amount": 0.0, "customers": 0, "share": 0.0, "as_of": as_of}
    row = high.iloc[0]
    return {
        "amount": as_float(row["band_mrr"]),
        "customers": int(row["customers"]),
        "share": as_float(row["share_of_mrr"]),
        "as_of": row["as_of_date"],
    }


#: What each reason code of marts.customers_at_risk is about, in words.
REASON_KINDS = {
    "nps_detractor": "a detractor NPS answer",
    "detractor_answers": "a detractor NPS answer",
    "nps_passive": "a passive NPS answer",
    "nps_promoter": "a promoter NPS answer",
    "no_nps_answer": "no NPS answer yet",
    "no_survey_answers": "no survey answers yet",
    "low_survey_ratings": "low survey ratings",
    "unresolved_tickets": "unresolved tickets",
    "bad_rated_tickets": "tickets rated bad",
    "slow_tickets": "slow tickets",
    "falling_sessions": "falling use of the website and app",
    "new_customer": "being a new customer",
    "mrr": "the size of the subscription",
    "scheduled_end": "a scheduled cancellation",
}


def top_risk_reason(data: DashboardData) -> tuple[str, int, int] | None:
    """(kind, customers, high-risk customers): the strongest reason named most often."""
    reasons = data.frame("high_risk_reasons")
    if reasons is None or "first_reason_code" not in reasons.columns:
        return None
    named = reasons[reasons["first_reason_code"] != ""]
    if named.empty:
        return None
    kinds = named["first_reason_code"].map(lambda code: REASON_KINDS.get(code, code))
    counts = named.groupby(kinds)["customers"].sum()
    # The most named kind; a tie goes to the kind first in the alphabet.
    kind = min(counts.index, key=lambda k: (-counts[k], k))
    return str(kind), int(counts[kind]), int(reasons["customers"].sum())


def promoter_value(data: DashboardData) -> float | None:
    """marts.nps_financial_link: 12-month revenue of moving one detractor to promoter."""
    link = data.frame("nps_financial_link")
    if link is None:
        return None
    row = link[link["nps_category"] == "promoter"]
    return None if row.empty else as_float(row["value_of_moving_one_detractor_here"].iloc[0])
