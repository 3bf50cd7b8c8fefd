"""Executive: the top line against last month and a year ago, money at stake, and
three things to act on."""

from __future__ import annotations

import pandas as pd

from cx_insights.report.dashboard.actions import (
    company_risk_bands,
    evidence_gaps,
    promoter_value,
    revenue_at_risk_summary,
    three_things,
)
from cx_insights.report.dashboard.charts import (
    Figures,
    financial_link_figure,
    mrr_bridge_figure,
    nps_trend_figure,
    risk_bands_figure,
)
from cx_insights.report.dashboard.components import (
    ALL_SEGMENTS_TAG,
    Page,
    card_row,
    guarded,
    html_table,
    metric_card,
    missing_note,
    month_note,
    not_available,
    page_section,
)
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    framework_labels,
    kpi_value,
    top_line,
)
from cx_insights.report.dashboard.formatting import (
    METRICS,
    add_months,
    delta_class,
    esc,
    fmt_delta,
    fmt_metric,
    fmt_money,
    fmt_number,
    is_missing,
    is_true,
    month_label,
)


def executive_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "executive", "Executive", "How are we doing, what is it worth, and what do we do next?"
    )
    kpi = data.frame("kpi_monthly")
    if kpi is None or data.reporting_month is None:
        page.body.append(
            page_section(
                "Top line", not_available("Top-line KPIs", missing_note(data, "kpi_monthly"))
            )
        )
    else:
        page.body.append(guarded("Top line", lambda: _top_line_section(data)))
    page.body.append(guarded("Three things to act on", lambda: _actions_section(data)))
    page.body.append(guarded("Money", lambda: _money_section(data, figs)))
    page.body.append(guarded("MRR bridge", lambda: _mrr_bridge_section(data, figs)))
    if kpi is not None and data.reporting_month is not None:
        page.body.append(guarded("NPS trend", lambda: _nps_trend_section(data, figs)))
    return page


def _top_line_section(data: DashboardData) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    assert kpi is not None and month is not None
    cards = []
    for card in top_line(kpi, month):
        info = METRICS[card.metric]
        extra = ""
        if card.metric == "nps" and card.ci_low is not None:
            extra = (
                f"<div class='ci'>95 % interval {fmt_number(card.ci_low, 1)} to "
                f"{fmt_number(card.ci_high, 1)}</div>"
            )
        if card.metric == "revenue":
            extra = _open_invoices_line(data, month)
        n = (
            f"n = {card.n:,}"
            if card.n is not None and info.kind in ("score", "percent", "mean7")
            else ""
        )
        if card.metric in ("tickets_created", "median_first_response_minutes", "conversion_rate"):
            n = f"n = {card.n:,}" if card.n is not None else ""
        low = "<span class='low'>low sample</span>" if card.is_low_sample else ""
        cards.append(
            "<div class='card'>"
            f"<div class='label'>{esc(info.label)}</div>"
            f"<div class='value'>{esc(fmt_metric(card.metric, card.value, data.currency))}</div>"
            f"{extra}"
            f"<div class='delta {delta_class(card.metric, card.vs_previous)}'>"
            f"{esc(fmt_delta(card.metric, card.vs_previous, data.currency))} vs last month</div>"
            f"<div class='delta {delta_class(card.metric, card.vs_year_ago)}'>"
            f"{esc(fmt_delta(card.metric, card.vs_year_ago, data.currency))} vs a year ago</div>"
            f"<div class='n'>{n} {low}</div>"
            "</div>"
        )
    note = (
        month_note(data) + f" Compared with {month_label(add_months(month, -1))} and "
        f"{month_label(add_months(month, -12))}. Green is better, red is worse."
    )
    return page_section("Top line", f"<div class='cards'>{''.join(cards)}</div>", note=note)


def open_invoices(data: DashboardData, month) -> tuple[int, float] | None:  # noqa: ANN001
    """(invoices, amount) issued in the month and still open (not in revenue until paid)."""
    frame = data.frame("invoices_by_status")
    if frame is None:
        return None
    rows = frame[
        (pd.to_datetime(frame["month"]) == pd.Timestamp(month))
        & (frame["invoice_status"] == "open")
    ]
    if rows.empty:
        return 0, 0.0
    return int(rows["invoices"].sum()), float(rows["amount_reporting"].astype(float).sum())


def _open_invoices_line(data: DashboardData, month) -> str:  # noqa: ANN001
    found = open_invoices(data, month)
    if found is None:
        return ""
    count, amount = found
    return (
        f"<div class='ci'>+ {esc(fmt_money(amount, data.currency))} still open "
        f"({fmt_number(count)} invoices)</div>"
    )


def _actions_section(data: DashboardData) -> str:
    actions = three_things(data)
    gaps = evidence_gaps(data, framework_labels(data))
    parts = []
    if actions:
        items = "".join(
            f"<li><strong>{esc(a.headline)}</strong> {esc(a.detail)}</li>" for a in actions
        )
        parts.append(f"<ol class='actions'>{items}</ol>")
    else:
        parts.append(
            not_available("Recommendations", "The marts hold too little data to rank actions.")
        )
    if gaps:
        items = "".join(f"<li><strong>{esc(g.subject)}</strong>: {esc(g.text)}</li>" for g in gaps)
        parts.append(f"<h3>Not enough evidence yet</h3><ul class='evidence-gaps'>{items}</ul>")
    return page_section(
        "Three things to act on",
        *parts,
        note="Written from the reporting month's marts: the weakest touchpoint and the weakest "
        "important driver only when the difference is significant at 95 % on at least "
        f"{LOW_SAMPLE} answers, the revenue at risk (and, where those are missing, support, "
        "web and churn)."
        + (
            " In a segment's view the touchpoints are the segment's; the drivers are every "
            "customer's."
            if data.segment
            else ""
        ),
    )


def expected_loss_summary(data: DashboardData) -> tuple[float, float] | None:
    """(expected monthly MRR loss over all customers, over the high band): the sum of
    churn probability x MRR in marts.revenue_at_risk's company rows."""
    bands = company_risk_bands(data)
    if bands is None or "expected_mrr_loss" not in bands.columns:
        return None
    loss = bands["expected_mrr_loss"].astype(float)
    return float(loss.sum()), float(loss[bands["risk_band"] == "high"].sum())


def _value_card(data: DashboardData) -> str | None:
    link = data.frame("nps_financial_link")
    value = promoter_value(data)
    if link is None or value is None:
        return None
    row = link[link["nps_category"] == "promoter"].iloc[0]
    low, high = row.get("value_ci_low"), row.get("value_ci_high")
    interval = (
        f"95 % interval {fmt_money(low, data.currency)} to {fmt_money(high, data.currency)}"
        if not is_missing(low) and not is_missing(high)
        else "no interval"
    )
    verdict = (
        "significant"
        if is_true(row.get("is_value_significant"))
        else "not significant: no initiative claims revenue from it"
    )
    return metric_card(
        "Value of a promoter",
        fmt_money(value, data.currency),
        f"12-month revenue won by turning one detractor into a promoter, within segment "
        f"({interval}; {verdict})",
        wide=True,
    )


def _backtest_card(data: DashboardData) -> str | None:
    backtest = data.frame("churn_model_backtest")
    if backtest is None:
        return None
    bt = backtest.iloc[-1]
    interval = ""
    if not is_missing(bt.get("auc_ci_low")) and not is_missing(bt.get("auc_ci_high")):
        interval = f" (95 % interval {fmt_number(bt['auc_ci_low'], 2)} to "
        interval += f"{fmt_number(bt['auc_ci_high'], 2)})"
    baseline = ""
    if not is_missing(bt.get("baseline_auc")):
        baseline = f"; the simple rule scores {fmt_number(bt['baseline_auc'], 2)}"
    reliable = (
        ""
        if is_true(bt.get("is_model_reliable"))
        else " Its interval includes 0.5 (chance): read the list with care."
    )
    return metric_card(
        "Risk score backtest (AUC)",
        fmt_number(bt["auc"], 2),
        f"{interval.strip()} scored {fmt_number(bt['n'])} customers on "
        f"{pd.Timestamp(bt['as_of_date']):%b %Y}; {fmt_number(bt['churners'])} churned within "
        f"{fmt_number(bt['test_horizon_months'])} months{baseline}. 0.5 = chance, 1 = "
        f"perfect.{reliable}",
        wide=True,
    )


def _money_section(data: DashboardData, figs: Figures) -> str:
    parts = []
    cards = []
    rar = revenue_at_risk_summary(data)
    if rar is not None:
        as_of = f" on {pd.Timestamp(rar['as_of']):%d %b %Y}" if not is_missing(rar["as_of"]) else ""
        cards.append(
            metric_card(
                "MRR of the high-risk band",
                fmt_money(rar["amount"], data.currency),
                f"{fmt_number(rar['customers'])} customers, {fmt_number(rar['share'], 1)} % of "
                f"MRR{as_of}",
                wide=True,
            )
        )
    loss = expected_loss_summary(data)
    if loss is not None:
        cards.append(
            metric_card(
                "Expected MRR loss (all customers)",
                fmt_money(loss[0], data.currency),
                f"churn probability x MRR, summed over every active customer, per month; "
                f"{fmt_money(loss[1], data.currency)} of it in the high-risk band",
                wide=True,
            )
        )
    value_card = _value_card(data)
    if value_card is not None:
        cards.append(value_card)
    backtest_card = _backtest_card(data)
    if backtest_card is not None:
        cards.append(backtest_card)
    if cards:
        parts.append(card_row(*cards))
    if rar is None:
        why = missing_note(data, "revenue_at_risk", "customers_at_risk")
        parts.append(not_available("Revenue at risk", why))
    if value_card is None:
        why = missing_note(data, "nps_financial_link")
        parts.append(not_available("Value of a promoter", why))
    bands = company_risk_bands(data)
    if bands is not None:
        fig = risk_bands_figure(bands, data.currency)
        if fig is not None:
            parts.append(figs.html(fig, 280))
    link = data.frame("nps_financial_link")
    if link is not None:
        fig = financial_link_figure(link, data.currency)
        if fig is not None:
            parts.append(figs.html(fig, 420))
            parts.append(
                "<p class='note'>Averages over every customer in a category mix segments: "
                "detractors can show a higher MRR than promoters when more of them are large "
                "(enterprise) customers. The value of a promoter above is therefore computed "
                "within each segment and weighted by where the detractors are.</p>"
            )
    risky = data.frame("customers_at_risk")
    if risky is not None:
        parts.append(_at_risk_table(risky, data.currency))
    return page_section(
        "Money: revenue at risk and the value of a promoter",
        *parts,
        note=(
            "Revenue at risk and the customers at risk are the segment's; the value of a "
            f"promoter and the churn model's backtest are every customer's {ALL_SEGMENTS_TAG}."
            if data.segment
            else ""
        ),
    )


def _mrr_bridge_section(data: DashboardData, figs: Figures) -> str:
    title = "Where MRR came from and went"
    bridge = data.frame("mrr_bridge")
    month = data.reporting_month
    if bridge is None or month is None or is_missing(bridge["mrr_start"].iloc[0]):
        why = missing_note(data, "fct_mrr_movements")
        return page_section(title, not_available("MRR bridge", why))
    row = bridge.iloc[0]
    fig = mrr_bridge_figure(row, data.currency, month_label(month))
    kpi = data.frame("kpi_monthly")
    check = ""
    if kpi is not None:
        start = kpi_value(kpi, "mrr_start", month)
        end = kpi_value(kpi, "mrr_end", month)
        if start is not None and end is not None:
            same = (
                abs(float(start["value"]) - float(row["mrr_start"])) < 0.005
                and abs(float(end["value"]) - float(row["mrr_end"])) < 0.005
            )
            check = (
                " Start and end equal the top line's MRR (kpi_monthly) to the cent."
                if same
                else " <strong>Start or end differs from kpi_monthly: see the data-quality "
                "tab.</strong>"
            )
    note = (
        "Customer by customer (marts.fct_mrr_movements): new, expansion and contraction at "
        "constant exchange rates, churned, reactivated, and the change of non-reporting "
        "currencies' rates between the two instants." + check
    )
    return page_section(title, figs.html(fig, 400) if fig is not None else "", note=note)


def _at_risk_table(risky: pd.DataFrame, currency: str) -> str:
    rows = [
        [
            r.customer_id,
            r.segment,
            r.risk_band,
            fmt_number(r.churn_risk_score, 2),
            fmt_money(r.mrr_at_risk, currency),
            fmt_money(r.expected_mrr_loss, currency),
            str(r.latest_nps_category or "").replace("_", " "),
            r.reasons,
        ]
        for r in risky.itertuples(index=False)
    ]
    headers = [
        "customer",
        "segment",
        "band",
        "churn risk",
        "MRR",
        "expected MRR loss",
        "latest NPS",
        "reasons (strongest first)",
    ]
    return (
        f"<h3>Who to call first: the {len(risky)} customers with the largest expected loss</h3>"
        + html_table(headers, rows)
    )


def _nps_trend_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    who = f"Segment {esc(data.segment)}:" if data.segment else "Company"
    fig = nps_trend_figure(kpi, data.reporting_month, who)  # type: ignore[arg-type]
    if fig is None:
        return page_section("NPS trend", not_available("NPS trend", "No NPS answers yet."))
    return page_section("NPS trend", figs.html(fig, 380))
