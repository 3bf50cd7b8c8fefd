"""Written takeaways of the Support and Product pages: sentences from the marts.

A channel or touchpoint is called better or worse than the company only when
its share's 95 % interval (Wilson) excludes the company's share and it has at
least LOW_SAMPLE observations; otherwise the sentence says no difference can be
told yet.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from cx_insights.insights.stats import wilson_interval
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    framework_labels,
    kpi_rows,
    kpi_value,
    label_of,
)
from cx_insights.report.dashboard.formatting import add_months, fmt_number, is_missing, month_label


def differs(successes: float, n: float, company_pct: float) -> int:
    """-1 / +1 when the share is significantly below / above the company's (n >= LOW_SAMPLE),
    0 when no difference can be told."""
    if n < LOW_SAMPLE:
        return 0
    low, high = wilson_interval(successes, n)
    if high < company_pct:
        return -1
    if low > company_pct:
        return 1
    return 0


def _change(now: float, before: float | None, unit: str, decimals: int = 0) -> str:
    if before is None or is_missing(before):
        return ""
    diff = now - before
    sign = "+" if diff >= 0 else "−"
    return f" ({sign}{fmt_number(abs(diff), decimals)}{unit} on the month before)"


def _first_response(kpi: pd.DataFrame, month: date) -> tuple[str, pd.Series] | None:
    """'The median first response was X minutes (change)' of the view's kpi frame, and
    its row; None without a value."""
    median = kpi_value(kpi, "median_first_response_minutes", month)
    if median is None or is_missing(median["value"]):
        return None
    prev = kpi_value(kpi, "median_first_response_minutes", add_months(month, -1))
    earlier = prev["value"] if prev is not None else None
    return (
        f"The median first response was {fmt_number(median['value'], 0)} minutes"
        f"{_change(float(median['value']), earlier, ' min')}",
        median,
    )


def _segment_support_takeaways(data: DashboardData) -> list[str]:
    """A segment's support takeaways: its tickets and first response (kpi_monthly_by_segment
    through the view's kpi frame); kpi_tickets_by_channel has no segment, so no channel
    or rating sentence mixes every customer's tickets into the segment's."""
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return []
    out = []
    created = kpi_value(kpi, "tickets_created", month)
    before = kpi_value(kpi, "tickets_created", add_months(month, -1))
    if created is None or is_missing(created["value"]):
        out.append(f"No ticket of this segment's customers was created in {month_label(month)}.")
    else:
        total = float(created["value"])
        out.append(
            f"{fmt_number(total)} tickets were created in {month_label(month)}"
            f"{_change(total, before['value'] if before is not None else None, '')}."
        )
    first_response = _first_response(kpi, month)
    if first_response is not None:
        sentence, median = first_response
        out.append(f"{sentence} (n = {fmt_number(median['n'])}).")
    out.append(
        "Channels and ratings are compared over every customer: marts.kpi_tickets_by_channel "
        "has no segment breakdown."
    )
    return out


def support_takeaways(data: DashboardData) -> list[str]:
    if data.is_all_segments("tickets_by_channel"):
        return _segment_support_takeaways(data)
    by_channel = data.frame("tickets_by_channel")
    month = data.reporting_month
    if by_channel is None or month is None:
        return []
    months = pd.to_datetime(by_channel["month"])
    now = by_channel[months == pd.Timestamp(month)]
    before = by_channel[months == pd.Timestamp(add_months(month, -1))]
    if now.empty:
        return [f"No tickets were created in {month_label(month)}."]
    out = []
    total = int(now["tickets_created"].sum())
    top = now.sort_values(["tickets_created", "channel"], ascending=[False, True]).iloc[0]
    out.append(
        f"{fmt_number(total)} tickets were created in {month_label(month)}"
        f"{_change(total, before['tickets_created'].sum() if not before.empty else None, '')}"
        f"; {fmt_number(100 * top['tickets_created'] / total, 0)} % came by {top['channel']}."
    )
    kpi = data.frame("kpi_monthly")
    first_response = _first_response(kpi, month) if kpi is not None else None
    if first_response is not None:
        sentence, _ = first_response
        enough = now[now["responded_tickets"] >= LOW_SAMPLE]
        slow = ""
        if len(enough) >= 2:
            slowest = enough.sort_values("median_first_response_minutes").iloc[-1]
            fastest = enough.sort_values("median_first_response_minutes").iloc[0]
            slow = (
                f" Of the channels with at least {LOW_SAMPLE} tickets, {slowest['channel']} "
                f"answers slowest ({fmt_number(slowest['median_first_response_minutes'], 0)} "
                f"min) and {fastest['channel']} fastest "
                f"({fmt_number(fastest['median_first_response_minutes'], 0)} min)."
            )
        out.append(f"{sentence}." + slow)
    rated, good = float(now["rated"].sum()), float(now["rated_good"].sum())
    if rated:
        company = 100 * good / rated
        worse = [
            r.channel
            for r in now.itertuples(index=False)
            if differs(r.rated_good, r.rated, company) < 0
        ]
        verdict = (
            f" {', '.join(map(str, worse))} rated significantly worse than that."
            if worse
            else " No channel differs significantly from that yet"
            + (
                f" (a channel needs at least {LOW_SAMPLE} rated tickets and a clear gap)."
                if len(now) > 1
                else "."
            )
        )
        out.append(
            f"{fmt_number(company, 0)} % of the {fmt_number(rated)} rated tickets solved in "
            f"{month_label(month)} were rated good." + verdict
        )
    return out


def product_takeaways(data: DashboardData) -> list[str]:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return []
    sessions = kpi_value(kpi, "sessions", month)
    if sessions is None or is_missing(sessions["value"]) or not sessions["value"]:
        return [f"No web sessions in {month_label(month)}."]
    out = []
    before = kpi_value(kpi, "sessions", add_months(month, -1))
    conversion = kpi_value(kpi, "conversion_rate", month)
    conv_before = kpi_value(kpi, "conversion_rate", add_months(month, -1))
    text = (
        f"{fmt_number(sessions['value'])} web sessions in {month_label(month)}"
        f"{_change(float(sessions['value']), before['value'] if before is not None else None, '')}"
    )
    if conversion is not None and not is_missing(conversion["value"]):
        text += f"; {fmt_number(conversion['value'], 2)} % of them bought" + _change(
            float(conversion["value"]),
            conv_before["value"] if conv_before is not None else None,
            " pts",
            2,
        )
    out.append(text + ".")
    labels = framework_labels(data)
    for metric, good_when, label, worse_text, better_text in (
        ("conversion_rate", 1, "conversion", "convert less often", "convert more often"),
        (
            "cart_abandonment_rate",
            -1,
            "cart abandonment",
            "leave their carts behind more often",
            "leave their carts behind less often",
        ),
    ):
        company = kpi_value(kpi, metric, month)
        if company is None or is_missing(company["value"]):
            continue
        overall = fmt_number(company["value"], 1)
        rows = kpi_rows(kpi, "touchpoint", metric, month)
        rows = rows[rows["level_id"] != "unknown"]
        better, worse = [], []
        for r in rows.itertuples(index=False):
            sign = differs(r.numerator, r.denominator, float(company["value"]))
            name = (
                f"“{label_of(labels, 'touchpoint', r.level_id)}” "
                f"({fmt_number(r.value, 1)} %, n = {int(r.n)})"
            )
            if sign == good_when:
                better.append(name)
            elif sign == -good_when:
                worse.append(name)
        if worse:
            out.append(
                f"Sessions landing on {', '.join(worse)} {worse_text}, significantly "
                f"(against {overall} % overall)."
            )
        if better:
            out.append(
                f"Sessions landing on {', '.join(better)} {better_text}, significantly "
                f"(against {overall} % overall)."
            )
        if not worse and not better:
            out.append(
                f"No landing touchpoint's {label} differs significantly from the {overall} % "
                f"overall yet (a touchpoint needs at least {LOW_SAMPLE} sessions and a clear gap)."
            )
    return out
