"""The data-quality report: one static HTML page per run.

Every entity with its files (read or not, and why), the reconciliation
landed = accepted + quarantined (accepted counted on its own: the landed rows
whose file and line are not in quarantine), the quarantined rows split into
rejected (wrong in themselves: they alone make the reject rate) and waiting
(valid, waiting for a response or an FX rate: released automatically, shown
per month), the quarantined rows by rule with examples, the MRR left out for
lack of an FX rate, and schema drift. Built from the warehouse tables the
loader and the gate write, so it can be regenerated at any time
(`cx-insights report`).

Text that comes from raw or quarantine (reasons, which quote the rejected
value, file errors, run messages) is masked with `cx_insights.privacy.mask_pii`
before it is written, in the page and in its embedded JSON alike.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cx_insights.config import Settings
from cx_insights.contract import ENTITIES, WAITING_RULES, Entity, accepted_table
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.privacy import mask_pii
from cx_insights.quality.results import gate_counts
from cx_insights.report.html import asset, page
from cx_insights.warehouse import connect, table_exists


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(
    headers: list[str], rows: list[list[object]], raw_html_cols: set[int] | None = None
) -> str:
    raw_html_cols = raw_html_cols or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if i in raw_html_cols else _e(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _masked(value: object) -> object:
    """Text from raw or quarantine, with e-mail addresses, IBANs and phone numbers masked."""
    return mask_pii(value) if isinstance(value, str) else value


def _kind(rule: str) -> str:
    return "waiting" if rule in WAITING_RULES else "rejected"


def _latest_gate_results(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """entity -> (checked_at, rows_landed, rows_accepted, rows_quarantined, by_rule json)
    of the gate's last check, from `raw._gate_results`."""
    if not table_exists(con, "raw", "_gate_results"):
        return {}
    rows = con.execute(
        """
        select entity, checked_at, rows_landed, rows_accepted, rows_quarantined, by_rule
        from raw._gate_results
        qualify row_number() over (partition by entity order by checked_at desc) = 1
        """
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _counts(con: duckdb.DuckDBPyConnection, e: Entity, landed: int, recorded: tuple | None) -> dict:
    """Landed, accepted, quarantined (rejected + waiting) and whether they reconcile.

    Accepted is counted on its own (rows of raw whose file and line are not in
    quarantine), never derived as landed - quarantined: the gate records that
    count in `raw._gate_results` at every check; when raw no longer holds the
    rows that check counted, the same count is taken again here.
    """
    if recorded is not None and int(recorded[1]) == landed:
        checked_at, _, accepted, quarantined, by_rule_json = recorded
        by_rule = {str(k): int(v) for k, v in json.loads(by_rule_json or "{}").items()}
        source = f"gate check of {checked_at:%Y-%m-%d %H:%M} UTC"
    else:
        result = gate_counts(con, e, skipped=True)
        accepted, quarantined, by_rule = (
            result.rows_accepted,
            result.rows_quarantined,
            result.by_rule,
        )
        source = "counted when this page was written"
    waiting = sum(n for rule, n in by_rule.items() if rule in WAITING_RULES)
    rejected = int(quarantined) - waiting
    return {
        "accepted": int(accepted),
        "quarantined": int(quarantined),
        "rejected": rejected,
        "waiting": waiting,
        "reconciles": landed == int(accepted) + int(quarantined),
        "reject_rate": rejected / landed if landed else None,
        "counted_by": source,
    }


def collect(settings: Settings) -> dict:
    """Everything the page shows, as plain data (also used by the tests)."""
    data: dict = {
        "entities": [],
        "drift": [],
        "waiting_by_month": [],
        "fx_gaps": None,
        "generated_at": datetime.now(UTC).isoformat(),
        "freshness_limit_hours": settings.freshness_hours,
        "max_reject_rate": settings.max_reject_rate,
        "currency": settings.reporting_currency,
    }
    if not settings.warehouse.exists():
        return data
    with connect(settings.warehouse, read_only=True) as con:
        have_files = table_exists(con, "raw", "_files")
        recorded = _latest_gate_results(con)
        for e in ENTITIES:
            item: dict = {"entity": e.qualified, "files": [], "by_rule": {}, "sample": []}
            if have_files:
                item["files"] = [
                    {"path": r[0], "status": r[1], "rows": r[2], "error": _masked(r[3])}
                    for r in con.execute(
                        "select path, status, rows_landed, error from raw._files "
                        "where entity = ? order by mtime, path",
                        [e.qualified],
                    ).fetchall()
                ]
            if have_files:
                item["newest_file_at"] = newest_loaded_file(con, e.qualified)[1]
            if table_exists(con, "raw", e.qualified):
                item["landed"] = con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[
                    0
                ]
                item["last_loaded_at"] = con.execute(
                    f"select max(_loaded_at) from raw.{e.qualified}"
                ).fetchone()[0]
            checked = table_exists(con, "quarantine", e.qualified) and table_exists(
                con, "raw", accepted_table(e)
            )
            if checked and "landed" in item:
                item.update(_counts(con, e, int(item["landed"]), recorded.get(e.qualified)))
                item["by_rule"] = dict(
                    con.execute(
                        f"select _rule, count(*) from quarantine.{e.qualified} "
                        "group by 1 order by 2 desc, 1"
                    ).fetchall()
                )
                item["sample"] = [
                    {
                        "file": r[0],
                        "line": r[1],
                        "rule": r[2],
                        "kind": _kind(r[2]),
                        "reason": _masked(r[3]),
                    }
                    for r in con.execute(
                        f"select _source_file, _source_line, _rule, _reason "
                        f"from quarantine.{e.qualified} order by _source_file, _source_line limit 5"
                    ).fetchall()
                ]
                item["current"] = con.execute(
                    f"select count(*) from raw.{accepted_table(e)}"
                ).fetchone()[0]
            data["entities"].append(item)
        if table_exists(con, "raw", "_gate_waiting"):
            data["waiting_by_month"] = [
                {"entity": r[0], "month": r[1], "rule": r[2], "rows": int(r[3])}
                for r in con.execute(
                    "select entity, month_start_date, rule, rows from raw._gate_waiting "
                    "where rows > 0 order by entity, month_start_date nulls first, rule"
                ).fetchall()
            ]
        if table_exists(con, "marts", "fct_subscription_fx_gaps"):
            data["fx_gaps"] = [
                {
                    "currency": r[0],
                    "first_instant_at": r[1],
                    "last_instant_at": r[2],
                    "subscriptions": r[3],
                    "native_mrr_left_out": r[4],
                }
                for r in con.execute(
                    "select currency, first_instant_at, last_instant_at, subscriptions, "
                    "native_mrr_left_out from marts.fct_subscription_fx_gaps "
                    "order by currency, first_instant_at"
                ).fetchall()
            ]
        if table_exists(con, "raw", "_schema_drift"):
            data["drift"] = [
                {"entity": r[0], "file": r[1], "column": _masked(r[2])}
                for r in con.execute(
                    "select entity, path, column_name from raw._schema_drift order by 1, 2, 3"
                ).fetchall()
            ]
    return data


def _freshness(newest: datetime | None, limit_hours: float) -> str:
    """The newest file's age, and how late it is past the freshness limit."""
    if newest is None:
        return "<span class='warn'>no file yet</span>"
    age = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600
    text = f"newest file {newest:%Y-%m-%d %H:%M}, {age:.0f} h old"
    if age > limit_hours:
        return f"<span class='warn'>{_e(text)}: {age - limit_hours:.0f} h late</span>"
    return f"<span class='ok'>{_e(text)}</span>"


def _fmt(n: object) -> str:
    return "-" if n is None else f"{n:,}" if isinstance(n, int) else str(n)


def _status(item: dict, limit: float) -> str:
    if any(f["status"] == "failed" for f in item["files"]):
        return "<span class='bad'>file unreadable</span>"
    if "accepted" not in item:
        return "<span class='warn'>not checked</span>"
    if not item["reconciles"]:
        return "<span class='bad'>does not reconcile</span>"
    if item["reject_rate"] is not None and item["reject_rate"] > limit:
        return "<span class='bad'>reject rate over the limit</span>"
    return "<span class='ok'>ok</span>"


def _reconciles(item: dict) -> str:
    if "accepted" not in item:
        return "-"
    if item["reconciles"]:
        return "<span class='ok'>yes</span>"
    return (
        f"<span class='bad'>no: {_fmt(item['landed'])} &ne; {_fmt(item['accepted'])} + "
        f"{_fmt(item['quarantined'])}</span>"
    )


def render(data: dict, run_messages: list[str] | None = None) -> str:
    limit = data.get("max_reject_rate", 1.0)
    parts = [
        "",
        "<h1>Data quality</h1>",
        f"<p class='muted'>Generated {_e(data['generated_at'])}. Every landed row is either "
        "accepted or in <code>quarantine</code> with the rule it broke: landed = accepted + "
        "quarantined, with accepted counted on its own (the landed rows whose file and line "
        "are not in quarantine). A quarantined row is <strong>rejected</strong> when it is "
        "wrong in itself, or <strong>waiting</strong> when it is valid but waits for what "
        "another entity must bring (its survey response, an FX rate). The reject rate counts "
        f"rejected rows only (limit {limit:.2%}, <code>CX_MAX_REJECT_RATE</code>). E-mail "
        "addresses, IBANs and phone numbers in quoted values are masked.</p>",
    ]
    if run_messages:
        parts.append("<h2>Blocking failures of the last run</h2><ul>")
        parts += [f"<li class='bad'>{_e(mask_pii(m))}</li>" for m in run_messages]
        parts.append("</ul>")
    rows = []
    for item in data["entities"]:
        rate = item.get("reject_rate")
        rows.append(
            [
                item["entity"],
                _status(item, limit),
                len(item["files"]),
                _fmt(item.get("landed", 0)),
                _fmt(item.get("accepted")),
                _fmt(item.get("quarantined")),
                _fmt(item.get("rejected")),
                _fmt(item.get("waiting")),
                _reconciles(item),
                f"{rate:.2%}" if rate is not None else "-",
                _fmt(item.get("current")),
                item.get("last_loaded_at") or "-",
                _freshness(item.get("newest_file_at"), data["freshness_limit_hours"]),
            ]
        )
    parts.append("<h2>Entities</h2>")
    parts.append(
        _table(
            [
                "entity",
                "status",
                "files",
                "landed",
                "accepted",
                "quarantined",
                "rejected",
                "waiting",
                "reconciles (landed = accepted + quarantined)",
                "reject rate (rejected / landed)",
                "current rows (latest per key)",
                "last loaded at (UTC)",
                "freshness",
            ],
            rows,
            raw_html_cols={1, 8, 12},
        )
    )
    counted = sorted({item["counted_by"] for item in data["entities"] if "counted_by" in item})
    if counted:
        parts.append(f"<p class='muted'>Accepted rows: {_e('; '.join(counted))}.</p>")
    parts.append("<h2>Waiting rows by month</h2>")
    parts.append(
        "<p>Waiting rows are released automatically by the run in which what they wait for "
        "arrives (the survey response, an FX rate on or before their date); until then they "
        "mark their months incomplete. They do not count toward the reject rate.</p>"
    )
    if data.get("waiting_by_month"):
        parts.append(
            _table(
                ["entity", "month", "rule", "rows"],
                [
                    [
                        w["entity"],
                        w["month"] or "(no date until it arrives)",
                        w["rule"],
                        _fmt(w["rows"]),
                    ]
                    for w in data["waiting_by_month"]
                ],
            )
        )
    else:
        parts.append("<p class='ok'>No row is waiting.</p>")
    if data.get("fx_gaps") is not None:
        parts.append("<h2>MRR left out for lack of an FX rate</h2>")
        parts.append(
            "<p>A subscription is measured at every month instant; where its currency has no "
            f"rate into {_e(data.get('currency', ''))} on or before the instant, it stays "
            "active but adds no MRR there. The subscriptions and the MRR (in their own "
            "currency) left out:</p>"
        )
        if data["fx_gaps"]:
            parts.append(
                _table(
                    [
                        "currency",
                        "first instant",
                        "last instant",
                        "subscriptions",
                        "MRR left out (own currency)",
                    ],
                    [
                        [
                            g["currency"],
                            g["first_instant_at"],
                            g["last_instant_at"],
                            _fmt(g["subscriptions"]),
                            g["native_mrr_left_out"],
                        ]
                        for g in data["fx_gaps"]
                    ],
                )
            )
        else:
            parts.append("<p class='ok'>None: every subscription's currency has a rate.</p>")
    bad_files = [
        [item["entity"], f["path"], f["status"], f["error"]]
        for item in data["entities"]
        for f in item["files"]
        if f["status"] not in ("loaded",)
    ]
    if bad_files:
        parts.append("<h2>Files not loaded</h2>")
        parts.append(_table(["entity", "file", "status", "reason"], bad_files))
    for item in data["entities"]:
        if not item["by_rule"]:
            continue
        parts.append(f"<h2>Quarantine: {_e(item['entity'])}</h2>")
        parts.append(
            _table(
                ["rule", "kind", "rows"],
                [[k, _kind(k), _fmt(v)] for k, v in item["by_rule"].items()],
            )
        )
        parts.append(
            _table(
                ["file", "line", "rule", "kind", "reason"],
                [[s["file"], s["line"], s["rule"], s["kind"], s["reason"]] for s in item["sample"]],
            )
        )
    if data["drift"]:
        parts.append("<h2>Schema drift (extra columns kept in raw)</h2>")
        parts.append(
            _table(
                ["entity", "file", "column"],
                [[d["entity"], d["file"], d["column"]] for d in data["drift"]],
            )
        )
    parts.append(
        f"<script type='application/json' id='cx-quality-data'>"
        f"{_e(json.dumps(data, default=str))}</script>"
    )
    parts.append("")
    return page(title="cx-insights: data quality", css=asset("quality.css"), body="\n".join(parts))


def write_quality_report(settings: Settings, run_messages: list[str] | None = None) -> Path:
    path = settings.quality_report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(collect(settings), run_messages), encoding="utf-8")
    return path
