"""Support lead: ticket volume, channels and the touchpoints tickets come from."""

from __future__ import annotations

import math

import pandas as pd

from cx_insights.report.dashboard.charts import Figures, horizontal_bars_figure
from cx_insights.report.dashboard.components import (
    Page,
    all_segments_tag,
    guarded,
    html_table,
    missing_note,
    month_note,
    not_available,
    page_section,
    takeaways_section,
)
from cx_insights.report.dashboard.data import (
    LOW_SAMPLE,
    DashboardData,
    framework_labels,
    kpi_rows,
    label_of,
)
from cx_insights.report.dashboard.figure_spec import figure, right_axis, title
from cx_insights.report.dashboard.formatting import PALETTE, fmt_number, month_label, shorten
from cx_insights.report.dashboard.takeaways import support_takeaways


def support_page(data: DashboardData, figs: Figures) -> Page:
    page = Page(
        "support", "Support lead", "How fast and how well do we help, by channel and touchpoint?"
    )
    page.body.append(guarded("Takeaways", lambda: takeaways_section(data, support_takeaways)))
    page.body.append(guarded("Ticket volume", lambda: _ticket_volume_section(data, figs)))
    page.body.append(guarded("By channel", lambda: _ticket_channel_section(data, figs)))
    page.body.append(guarded("By touchpoint", lambda: _ticket_touchpoint_section(data, figs)))
    return page


def _ticket_volume_section(data: DashboardData, figs: Figures) -> str:
    by_channel = data.frame("tickets_by_channel")
    if by_channel is None or data.reporting_month is None:
        return page_section(
            "Ticket volume", not_available("Tickets", missing_note(data, "kpi_tickets_by_channel"))
        )
    frame = by_channel[pd.to_datetime(by_channel["month"]) <= pd.Timestamp(data.reporting_month)]
    traces = [
        {
            "type": "bar",
            "x": pd.to_datetime(part["month"]).tolist(),
            "y": part["tickets_created"].tolist(),
            "name": str(channel),
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (channel, part) in enumerate(frame.groupby("channel"))
    ]
    kpi = data.frame("kpi_monthly")
    if kpi is not None:
        sat = frame.groupby("month")[["rated_good", "rated"]].sum()
        sat = sat[sat["rated"] > 0]
        traces.append(
            {
                "type": "scatter",
                "x": pd.to_datetime(sat.index).tolist(),
                "y": (100 * sat["rated_good"] / sat["rated"]).tolist(),
                "name": "CSAT after tickets (% good, right axis)",
                "mode": "lines+markers",
                "line": {"color": "#0f172a", "width": 2},
                "yaxis": "y2",
            }
        )
    fig = figure(
        traces,
        barmode="stack",
        title=title("Tickets created per month by channel, and satisfaction after tickets"),
        xaxis={"title": title("Month")},
        yaxis={"title": title("Tickets created")},
        yaxis2=right_axis("Rated good (%)", range=[0, 105]),
    )
    return page_section(
        "Ticket volume",
        figs.html(fig, 420),
        note="Tickets counted in the month they were created (marts.kpi_tickets_by_channel). "
        "CSAT after tickets: the share of rated tickets rated “good”, in the month they "
        "were solved." + all_segments_tag(data, "tickets_by_channel"),
    )


def _ticket_channel_section(data: DashboardData, figs: Figures) -> str:
    by_channel = data.frame("tickets_by_channel")
    month = data.reporting_month
    if by_channel is None or month is None:
        return page_section(
            "By channel",
            not_available("Tickets by channel", missing_note(data, "kpi_tickets_by_channel")),
        )
    frame = by_channel[pd.to_datetime(by_channel["month"]) == pd.Timestamp(month)].copy()
    if frame.empty:
        return page_section(
            "By channel",
            not_available("Tickets by channel", f"No tickets in {month_label(month)}."),
        )
    frame = frame.sort_values("tickets_created", ascending=False)
    frame["low"] = frame["tickets_created"] < LOW_SAMPLE
    fig = horizontal_bars_figure(
        frame,
        "channel",
        [
            ("tickets_created", "Tickets created", 0),
            ("median_first_response_minutes", "Median first response (min)", 0),
            ("avg_resolution_hours", "Avg resolution (h)", 1),
            ("satisfaction_good_share", "Rated good (%)", 0),
        ],
        f"Support by channel, {month_label(month)} (faded: fewer than {LOW_SAMPLE} tickets)",
        "Ticket channel",
        low_sample_col="low",
    )
    rows = [
        [
            r.channel,
            fmt_number(r.tickets_created),
            fmt_number(r.median_first_response_minutes, 0),
            fmt_number(r.avg_resolution_hours, 1),
            f"{fmt_number(r.satisfaction_good_share, 0)} % of {int(r.rated)}" if r.rated else "–",
        ]
        for r in frame.itertuples(index=False)
    ]
    table = html_table(
        [
            "channel",
            "tickets created",
            "median first response (min)",
            "avg resolution (h)",
            "rated good",
        ],
        rows,
    )
    return page_section(
        "By channel",
        figs.html(fig, max(300, 140 + 38 * len(frame))),
        table,
        note=month_note(data)
        + " Same definitions as kpis.md, broken down by ticket channel."
        + all_segments_tag(data, "tickets_by_channel"),
    )


def _ticket_touchpoint_section(data: DashboardData, figs: Figures) -> str:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    if kpi is None or month is None:
        return page_section(
            "By touchpoint",
            not_available("Tickets by touchpoint", missing_note(data, "kpi_monthly")),
        )
    labels = framework_labels(data)
    rows = kpi_rows(
        kpi,
        "touchpoint",
        ["tickets_created", "median_first_response_minutes", "avg_resolution_hours"],
        month,
    )
    if rows.empty:
        return page_section(
            "By touchpoint",
            not_available("Tickets by touchpoint", f"No tickets in {month_label(month)}."),
        )
    wide = rows.pivot_table(index="level_id", columns="metric", values="value", aggfunc="first")
    n = rows[rows["metric"] == "tickets_created"].set_index("level_id")["n"]
    wide = wide.reindex(
        columns=["tickets_created", "median_first_response_minutes", "avg_resolution_hours"]
    )
    sat = data.frame("ticket_satisfaction_by_touchpoint")
    if sat is not None:
        wide = wide.join(sat.set_index("touchpoint_id")[["satisfaction_good_share"]], how="left")
    else:
        wide["satisfaction_good_share"] = math.nan
    wide["n"] = n.reindex(wide.index)
    wide = wide.fillna({"tickets_created": 0}).sort_values("tickets_created", ascending=False)
    wide["label"] = [shorten(label_of(labels, "touchpoint", i), 40) for i in wide.index]
    wide["low"] = wide["tickets_created"] < LOW_SAMPLE
    frame = wide.reset_index()
    fig = horizontal_bars_figure(
        frame,
        "label",
        [
            ("tickets_created", "Tickets created", 0),
            ("median_first_response_minutes", "Median first response (min)", 0),
            ("avg_resolution_hours", "Avg resolution (h)", 1),
            ("satisfaction_good_share", "Rated good (%)", 0),
        ],
        f"Support by touchpoint, {month_label(month)} (faded: fewer than 30 tickets)",
        "Touchpoint",
        low_sample_col="low",
    )
    return page_section(
        "By touchpoint",
        figs.html(fig, max(320, 140 + 30 * len(frame))),
        note="Tickets, first response and resolution time from marts.kpi_monthly at touchpoint "
        "level; rated good from marts.kpi_ticket_satisfaction"
        + (" (over every customer)" if data.segment else "")
        + ".",
    )
