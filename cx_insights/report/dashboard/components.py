"""HTML building blocks shared by the pages: sections, cards, tables, notes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from cx_insights.report.dashboard.data import LOW_SAMPLE, DashboardData
from cx_insights.report.dashboard.formatting import esc, month_label

log = logging.getLogger(__name__)


def not_available(what: str, why: str = "") -> str:
    reason = f" {esc(why)}" if why else ""
    return f"<div class='na'><strong>{esc(what)}: not available yet.</strong>{reason}</div>"


def missing_note(data: DashboardData, *marts: str) -> str:
    missing = [m for m in marts if m in data.missing_marts or not data.has(m)]
    return (
        f"Needs {', '.join(f'marts.{m}' for m in missing)}, which "
        f"{'is' if len(missing) == 1 else 'are'} not built in this warehouse yet."
        if missing
        else "The table is empty for this period."
    )


def html_table(headers: list[str], rows: list[list[object]], raw: set[int] | None = None) -> str:
    raw = raw or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if i in raw else esc(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --------------------------------------------------------------------------------------
# Pages.


@dataclass
class Page:
    key: str
    title: str
    question: str
    body: list[str] = field(default_factory=list)


#: How a section of a segment's view says its numbers are over every customer.
ALL_SEGMENTS_TAG = "<span class='tag'>all segments</span>"


def all_segments_tag(data: DashboardData, *frames: str) -> str:
    """The tag, with a space, when this view has a segment and any of `frames` is over
    every customer (not broken down by segment in its mart); else nothing."""
    return " " + ALL_SEGMENTS_TAG if any(data.is_all_segments(f) for f in frames) else ""


def page_section(title: str, *parts: str, note: str = "") -> str:
    note_html = f"<p class='note'>{note}</p>" if note else ""
    return f"<section class='block'><h2>{esc(title)}</h2>{note_html}{''.join(parts)}</section>"


def metric_card(label: str, value: str, note: str = "", klass: str = "", wide: bool = False) -> str:
    return (
        f"<div class='card{' wide' if wide else ''}'><div class='label'>{esc(label)}</div>"
        f"<div class='value {klass}'>{esc(value)}</div>"
        + (f"<div class='n'>{esc(note)}</div>" if note else "")
        + "</div>"
    )


def card_row(*cards: str) -> str:
    return f"<div class='cards'>{''.join(cards)}</div>"


def guarded(title: str, build: Callable[[], str]) -> str:
    """A section that fails to draw says so; the rest of the dashboard still renders."""
    try:
        return build()
    except Exception as exc:
        log.exception("dashboard: section %r failed", title)
        return page_section(
            title,
            f"<div class='na section-error'><strong>{esc(title)} could not be drawn:</strong> "
            f"{esc(type(exc).__name__)}: {esc(exc)}</div>",
        )


def month_note(data: DashboardData) -> str:
    if data.reporting_month is None:
        return ""
    month = data.reporting_month
    text = f"Reporting month: <strong>{month_label(month)}</strong>"
    if month in data.partial_months:
        text += " <span class='low'>partial month</span>"
    text += "."
    if data.month_chosen and month in data.partial_months:
        text += " Its data is not complete yet: its numbers will still change."
    latest = data.latest_month
    if latest and latest != month and not data.month_chosen:
        if latest in data.partial_months:
            text += (
                f" {month_label(latest)} is a partial month (a source's data does not reach "
                "past its end yet, or some of its rows wait in quarantine), so the last "
                "complete month is shown."
            )
        elif data.data_until:
            text += (
                f" {month_label(latest)} is not complete yet (data up to "
                f"{pd.Timestamp(data.data_until):%d %b %Y}), so the last complete month is shown."
            )
    return text


def takeaways_section(data: DashboardData, write: Callable[[DashboardData], list[str]]) -> str:
    """The page's takeaways in words, for its reporting month."""
    sentences = write(data)
    if not sentences:
        return page_section(
            "Takeaways", not_available("Takeaways", "The marts hold no data for this page yet.")
        )
    items = "".join(f"<li>{esc(s)}</li>" for s in sentences)
    return page_section(
        "Takeaways",
        f"<ul class='actions'>{items}</ul>",
        note=month_note(data) + " A channel or touchpoint is called better or worse only when "
        f"the difference is significant at 95 % on at least {LOW_SAMPLE} observations.",
    )
