"""CX lead: the framework roll-up, key drivers, verbatims of the worst touchpoints."""

from __future__ import annotations

import pandas as pd

from cx_insights.privacy import mask_pii
from cx_insights.report.dashboard.charts import Figures
from cx_insights.report.dashboard.components import (
    Page,
    all_segments_tag,
    guarded,
    html_table,
    missing_note,
    month_note,
    not_available,
    page_section,
)
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    driver_window,
    framework_labels,
    kpi_value,
    label_of,
    worst_touchpoints,
)
from cx_insights.report.dashboard.formatting import esc, fmt_number, is_missing, nps_category
from cx_insights.report.dashboard.framework_charts import (
    driver_quadrant_figure,
    rollup_heatmap_figure,
    rollup_height,
)


def cx_lead_page(data: DashboardData, figs: Figures) -> Page:
    page = Page("cx-lead", "CX lead", "Where in the journey do we win or lose customers, and why?")
    page.body.append(guarded("Roll-up", lambda: _rollup_section(data, figs)))
    # The same in every month and, but for its tag, every segment: drawn once.
    page.body.append(
        figs.once(
            ("drivers", data.is_all_segments("driver_importance")),
            lambda: guarded("Key drivers", lambda: _drivers_section(data, figs)),
        )
    )
    page.body.append(guarded("Verbatims", lambda: _verbatims_section(data)))
    page.body.append(guarded("Topics", lambda: _topics_section(data)))
    return page


def _rollup_section(data: DashboardData, figs: Figures) -> str:
    fig = rollup_heatmap_figure(data)
    if fig is None:
        return page_section(
            "Journey → job → touchpoint",
            not_available("The roll-up", missing_note(data, "kpi_monthly", "dim_touchpoint")),
        )
    return page_section(
        "Journey → job → touchpoint",
        figs.html(fig, rollup_height(data)),
        note=month_note(data)
        + " Each cell: the metric of marts.kpi_monthly at that level and its sample size n. "
        "Colour shows the distance from the company value (red worse, green better); cells with "
        "fewer than 30 answers are faded and marked †: read them with care.",
    )


def _drivers_section(data: DashboardData, figs: Figures) -> str:
    drivers = data.frame("driver_importance")
    if drivers is None:
        return page_section(
            "Key drivers",
            not_available("Key drivers", missing_note(data, "driver_importance")),
        )
    fig = driver_quadrant_figure(drivers)
    if fig is None:
        return page_section(
            "Key drivers",
            not_available("Key drivers", "marts.driver_importance has no importance/performance."),
        )
    return page_section(
        "Key drivers: importance × performance",
        figs.html(fig, 520),
        note=all_segments_tag(data, "driver_importance")
        + " From marts.driver_importance. Importance: Johnson's relative weight of each element "
        "in explaining the NPS answer (shares sum to 100 % within a scope and family). "
        "Performance: the share rating it in the top two boxes. Bottom-right elements matter "
        "and do badly: fix those first. The menu at the top right switches between the company "
        "and each journey, and between experience drivers and touchpoint satisfaction. The "
        "grey bar is the importance's 95 % interval (a bootstrap of the correlations); an "
        "open circle is not significant (its correlation with NPS cannot be told from 0), "
        "whatever its share. The menu also offers the last 12 and the last 3 complete months "
        "beside every answer so far." + _r_squared_note(drivers),
    )


def _r_squared_note(drivers: pd.DataFrame) -> str:
    drivers, _ = driver_window(drivers, ("all",))
    company = drivers[(drivers["level"] == "company") & (drivers["element_type"] == "driver")]
    r2 = company["model_r_squared"].dropna()
    if r2.empty:
        return ""
    return (
        f" The company's drivers together explain {fmt_number(100 * float(r2.iloc[0]), 0)} % "
        "of the variance of the NPS answer (R²)."
    )


def _verbatims_section(data: DashboardData) -> str:
    verbatims = data.frame("verbatims")
    worst = worst_touchpoints(data)
    if not worst:
        return page_section(
            "What customers say at the worst touchpoints",
            not_available("Verbatims", missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    kpi = data.frame("kpi_monthly")
    blocks = []
    for tp in worst:
        nps = kpi_value(kpi, "nps", data.reporting_month, "touchpoint", tp)  # type: ignore[arg-type]
        head = (
            f"{esc(label_of(labels, 'touchpoint', tp))}: NPS {fmt_number(nps['value'], 0)} "
            f"(n = {int(nps['n'])}{', low sample' if nps['n'] < LOW_SAMPLE else ''})"
            if nps is not None
            else esc(label_of(labels, "touchpoint", tp))
        )
        quotes = (
            verbatims[verbatims["touchpoint_id"] == tp] if verbatims is not None else pd.DataFrame()
        )
        if quotes.empty:
            items = "<li class='muted'>No written comments in the last three months.</li>"
        else:
            items = "".join(
                f"<li><span class='score {nps_category(q.nps_score)}'>"
                f"{fmt_number(q.nps_score, 0) if not is_missing(q.nps_score) else '–'}"
                f"</span> “{esc(mask_pii(str(q.value_text)))}” "
                f"<span class='muted'>{pd.Timestamp(q.submitted_at):%d %b %Y}</span></li>"
                for q in quotes.itertuples(index=False)
            )
        blocks.append(f"<div class='verbatims'><h3>{head}</h3><ul>{items}</ul></div>")
    return page_section(
        "What customers say at the worst touchpoints",
        "".join(blocks),
        note="The three touchpoints with the lowest NPS this month, ranked by the upper end of "
        "their 95 % interval so that a handful of answers does not outrank a large sample. "
        "Comments from the last three months, lowest scores first; the number is the customer's "
        "NPS answer (0-10). E-mail addresses and phone numbers are masked.",
    )


def _topics_section(data: DashboardData) -> str:
    title = "What detractors talk about"
    topics = data.frame("verbatim_topic_impact")
    if topics is None:
        why = missing_note(data, "verbatim_topic_impact")
        if "verbatim_topic_impact" not in data.missing_marts:
            why = (
                "Too few written comments in English for topics yet (the model needs at "
                "least 50): none is shown rather than topics the data cannot support."
            )
        return page_section(title, not_available("Verbatim topics", why))
    topics = topics.sort_values(
        ["share_of_detractor_verbatims", "topic_id"], ascending=[False, True]
    )
    weights, model = topic_weights(data)
    rows = []
    for t in topics.itertuples(index=False):
        weight = weights.get(str(t.topic_id))
        if t.is_low_sample:
            verdict = "too few answers to tell"
        elif t.is_significant:
            verdict = "lower NPS" if t.nps_difference < 0 else "higher NPS"
        else:
            verdict = "no significant difference"
        rows.append(
            [
                t.topic_label,
                f"{fmt_number(t.share_of_detractor_verbatims, 0)} %",
                f"{fmt_number(t.share_of_promoter_verbatims, 0)} %",
                f"{fmt_number(t.nps_with, 0)} vs {fmt_number(t.nps_without, 0)}",
                f"{fmt_number(t.nps_difference, 0)} ({fmt_number(t.nps_difference_ci_low, 0)} "
                f"to {fmt_number(t.nps_difference_ci_high, 0)})",
                fmt_number(t.n_with),
                verdict,
                weight if weight is not None else "–",
            ]
        )
    headers = [
        "topic (its heaviest words)",
        "of detractors' comments",
        "of promoters' comments",
        "NPS with vs without",
        "difference (95 % interval)",
        "n",
        "verdict",
        "as a driver: share of explained NPS (95 % interval)",
    ]
    sentiment = data.frame("verbatim_sentiment")
    mood = ""
    if sentiment is not None:
        parts = [
            f"{fmt_number(r.share, 0)} % {r.sentiment_label}"
            for r in sentiment.itertuples(index=False)
            if r.sentiment_label is not None and not is_missing(r.share)
        ]
        scored = sentiment["verbatims"].sum()
        mood = (
            f" Sentiment of the comments that could be scored: {', '.join(parts)}." if parts else ""
        )
        mood += f" {fmt_number(scored)} comments in all."
    return page_section(
        title,
        html_table(headers, rows),
        note=all_segments_tag(data, "verbatim_topic_impact").lstrip()
        + " Topics found in every written comment so far (marts.verbatim_topic_impact: TF-IDF "
        "and NMF over the English comments, named by their heaviest words). A topic matters "
        "when detractors mention it more than promoters and the NPS of those who mention it "
        "is significantly lower (the interval excludes 0)." + mood + model,
    )


def topic_weights(data: DashboardData) -> tuple[dict[str, str], str]:
    """Each topic's weight as a driver of NPS (the company's, every answer so far, from
    marts.driver_importance) as table text, and a sentence on the model; a topic whose
    link with NPS cannot be told from none says so."""
    drivers = data.frame("driver_importance")
    if drivers is None or "element_type" not in drivers.columns:
        return {}, ""
    rows = drivers[
        (drivers["element_type"] == "topic")
        & (drivers["level"] == "company")
        & (drivers["window_name"] == "all")
    ]
    if rows.empty:
        return {}, ""
    weights = {}
    for r in rows.itertuples(index=False):
        if is_missing(r.relative_weight_share):
            continue
        low, high = r.relative_weight_share_ci_low, r.relative_weight_share_ci_high
        text = (
            f"{fmt_number(r.relative_weight_share, 1)} % "
            f"({fmt_number(low, 1)} to {fmt_number(high, 1)})"
        )
        if not bool(r.is_significant):
            text += ", not significant"
        weights[str(r.element_id)] = text
    first = rows.iloc[0]
    model = (
        f" As drivers, the topics together explain {fmt_number(100 * first['model_r_squared'], 0)}"
        f" % of the variance of the NPS answer of the {fmt_number(first['model_n'])} responses "
        "with an NPS answer and a comment (marts.driver_importance, element_type 'topic': "
        "Johnson's relative weights of each topic's presence)."
        if not is_missing(first["model_r_squared"])
        else ""
    )
    return weights, model
