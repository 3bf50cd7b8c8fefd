"""Data quality: the gate's checks, waiting rows and each source's freshness."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd

from cx_insights.contract import WAITING_RULES
from cx_insights.privacy import mask_pii
from cx_insights.report.dashboard.charts import Figures
from cx_insights.report.dashboard.components import (
    Page,
    card_row,
    guarded,
    html_table,
    metric_card,
    not_available,
    page_section,
)
from cx_insights.report.dashboard.data import DashboardData
from cx_insights.report.dashboard.figure_spec import figure, title
from cx_insights.report.dashboard.formatting import BAD, GOOD, esc, fmt_number, is_missing


def quality_page(data: DashboardData, figs: Figures, quality_href: str) -> Page:
    page = Page("quality", "Data quality", "Can we trust these numbers?")
    page.body.append(guarded("Checks", lambda: _checks_section(data, figs, quality_href)))
    page.body.append(guarded("Freshness", lambda: _freshness_section(data)))
    return page


#: The markers around the last run's cards: `cx-insights run` rewrites only what is
#: between them once the run has ended (`render.refresh_last_run`), not the whole page.
LAST_RUN_START, LAST_RUN_END = "<!--cx:last-run-->", "<!--/cx:last-run-->"


def last_run_html(runs: pd.DataFrame | None) -> str:
    """The newest run of the run log (`raw._runs`, newest first): its status and its
    failed checks and steps, between the LAST_RUN markers (empty without a run log)."""
    if runs is None or runs.empty:
        return LAST_RUN_START + LAST_RUN_END
    parts = []
    last = runs.iloc[0]
    failed = json.loads(last["failed_checks"]) if isinstance(last["failed_checks"], str) else []
    steps = json.loads(last["failed_steps"]) if isinstance(last["failed_steps"], str) else []
    status = str(last["status"])
    klass = "good" if status == "success" else ("bad" if status == "failed" else "flat")
    started = f"started {pd.Timestamp(last['started_at']):%Y-%m-%d %H:%M} UTC"
    if status == "running":
        status, started = "in progress", started + " (this page was written during it)"
    parts.append(
        card_row(
            metric_card("Last run", status, started, klass),
            metric_card(
                "Blocking checks failed",
                str(len(failed)),
                f"steps failed: {len(steps)}",
                "bad" if failed else "good",
            ),
        )
    )
    if failed:
        parts.append(
            html_table(
                ["entity", "check", "description"],
                [
                    [f.get("entity"), f.get("check"), mask_pii(str(f.get("description") or ""))]
                    for f in failed
                ],
            )
        )
    return LAST_RUN_START + "".join(parts) + LAST_RUN_END


def _checks_section(data: DashboardData, figs: Figures, quality_href: str) -> str:
    parts = [
        f"<p>The gate's full report, file by file and row by row: "
        f"<a href='{esc(quality_href)}'>data_quality.html</a>.</p>"
    ]
    parts.append(last_run_html(data.frame("runs")))
    gate = data.frame("gate_results")
    if gate is None:
        parts.append(
            not_available("Gate results", "The quality gate has not run on this warehouse.")
        )
        return page_section("Checks and quarantine", *parts)
    by_rule = []
    for r in gate.itertuples(index=False):
        try:
            rules = json.loads(r.by_rule) if r.by_rule else {}
        except (TypeError, ValueError):
            rules = {}
        for rule, count in rules.items():
            by_rule.append({"entity": r.entity, "rule": rule, "rows": int(count)})
    # Waiting rows (landing-contract.md) are valid and never count toward the reject rate.
    gate = gate.copy()
    waiting = pd.DataFrame(by_rule, columns=["entity", "rule", "rows"])
    waiting = waiting[waiting["rule"].isin(WAITING_RULES)].groupby("entity")["rows"].sum()
    gate["rows_waiting"] = gate["entity"].map(waiting).fillna(0).astype(int)
    gate["rows_rejected"] = gate["rows_quarantined"] - gate["rows_waiting"]
    totals = gate[["rows_landed", "rows_accepted", "rows_rejected", "rows_waiting"]].sum()
    landed = float(totals["rows_landed"])
    share = fmt_number(100 * totals["rows_rejected"] / landed, 2) if landed else "–"
    parts.append(
        card_row(
            metric_card("Rows landed", fmt_number(totals["rows_landed"])),
            metric_card("Rows accepted", fmt_number(totals["rows_accepted"])),
            metric_card(
                "Rows rejected", fmt_number(totals["rows_rejected"]), f"{share} % of landed"
            ),
            metric_card(
                "Rows waiting",
                fmt_number(totals["rows_waiting"]),
                "for a response or an FX rate: released automatically",
            ),
        )
    )
    if by_rule:
        frame = pd.DataFrame(by_rule).sort_values("rows", ascending=False)
        frame["label"] = frame["entity"] + ": " + frame["rule"]
        bar = {
            "type": "bar",
            "y": frame["label"].tolist(),
            "x": frame["rows"].tolist(),
            "orientation": "h",
            "marker": {"color": "#f59e0b"},
            "text": [fmt_number(v) for v in frame["rows"]],
            "textposition": "auto",
        }
        fig = figure(
            [bar],
            title=title("Quarantined rows by entity and rule"),
            xaxis={"title": title("Rows quarantined")},
            yaxis={"autorange": "reversed", "title": title("entity: rule")},
        )
        parts.append(figs.html(fig, max(300, 140 + 28 * len(frame))))
    else:
        parts.append("<p class='good'>No row was quarantined.</p>")
    gate["reject_rate"] = (
        100 * gate["rows_rejected"] / gate["rows_landed"].where(gate["rows_landed"] > 0)
    )
    limit = 100 * data.max_reject_rate if data.max_reject_rate is not None else None
    bar = {
        "type": "bar",
        "y": gate["entity"].tolist(),
        "x": gate["reject_rate"].tolist(),
        "orientation": "h",
        "marker": {
            "color": [
                BAD if limit is not None and v > limit else "#f59e0b" if v > 0 else GOOD
                for v in gate["reject_rate"].fillna(0)
            ]
        },
        "text": [
            f"{fmt_number(q)} of {fmt_number(n)}"
            for q, n in zip(gate["rows_rejected"], gate["rows_landed"], strict=True)
        ],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}: %{x:.3f} %% rejected (%{text})<extra></extra>",
    }
    top = max(float(gate["reject_rate"].max() or 0), limit or 0)
    fig = figure(
        [bar],
        title=title(
            "Share of landed rows rejected, per entity (label: rows rejected of rows "
            "landed; waiting rows do not count)"
        ),
        xaxis={"title": title("Rows rejected (% of landed)"), "range": [0, top * 1.25 or 1]},
        yaxis={"autorange": "reversed", "title": title("Entity")},
        showlegend=False,
    )
    if limit is not None:
        # The blocking limit as a dashed line across the chart, labelled on top.
        fig["layout"]["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": limit,
                "x1": limit,
                "y0": 0,
                "y1": 1,
                "line": {"color": BAD, "dash": "dash"},
            }
        ]
        fig["layout"]["annotations"] = [
            {
                "text": f"blocking limit {fmt_number(limit, 1)} %",
                "xref": "x",
                "yref": "y domain",
                "x": limit,
                "y": 1,
                "yanchor": "bottom",
                "showarrow": False,
            }
        ]
    parts.append(figs.html(fig, max(320, 140 + 26 * len(gate))))
    parts.append(
        html_table(
            [
                "entity",
                "landed",
                "accepted",
                "rejected",
                "waiting",
                "reject rate",
                "checked at (UTC)",
            ],
            [
                [
                    r.entity,
                    fmt_number(r.rows_landed),
                    fmt_number(r.rows_accepted),
                    fmt_number(r.rows_rejected),
                    fmt_number(r.rows_waiting),
                    f"{fmt_number(r.reject_rate, 2)} %",
                    f"{pd.Timestamp(r.checked_at):%Y-%m-%d %H:%M}",
                ]
                for r in gate.itertuples(index=False)
            ],
        )
    )
    return page_section("Checks and quarantine", *parts)


def _freshness_section(data: DashboardData) -> str:
    if not data.freshness:
        return page_section(
            "Freshness of each source", not_available("Freshness", "No files loaded yet.")
        )
    rows = []
    now = pd.Timestamp(data.generated_at).tz_localize(None)
    for entity, loaded, mtime in data.freshness:
        age = ""
        if mtime is not None:
            days = (now - pd.Timestamp(mtime)) / timedelta(days=1)
            age = f"{fmt_number(days, 1)} days"
        rows.append(
            [
                entity,
                f"{pd.Timestamp(mtime):%Y-%m-%d %H:%M}" if mtime is not None else "–",
                age or "–",
                f"{pd.Timestamp(loaded):%Y-%m-%d %H:%M}" if loaded is not None else "–",
            ]
        )
    parts = [
        html_table(["source entity", "newest file (UTC)", "file age", "last loaded (UTC)"], rows)
    ]
    newest = data.frame("newest_records")
    if newest is not None:
        parts.append("<h3>Newest record in the marts</h3>")
        parts.append(
            html_table(
                ["mart", "newest record (UTC)"],
                [
                    [
                        f"marts.{r.mart}",
                        f"{pd.Timestamp(r.newest_record_at):%Y-%m-%d %H:%M}"
                        if not is_missing(r.newest_record_at)
                        else "–",
                    ]
                    for r in newest.itertuples(index=False)
                ],
            )
        )
    return page_section("Freshness of each source", *parts)
