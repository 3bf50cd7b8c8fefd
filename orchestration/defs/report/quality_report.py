"""The data-quality report: one static HTML page per run.

Every entity with its files (read or not, and why), the reconciliation
landed = accepted + quarantined, the quarantined rows by rule with examples,
and schema drift. Built from the warehouse tables the loader and the gate
write, so it can be regenerated at any time (`cx-insights report`).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

from cx_insights.config import Settings
from cx_insights.contract import ENTITIES
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.warehouse import connect, table_exists

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933}
h1{margin-bottom:.2rem} .muted{color:#6b7280}
table{border-collapse:collapse;margin:.6rem 0 1.4rem 0;font-size:.9rem}
th,td{border:1px solid #d1d5db;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f4f6} .ok{color:#047857;font-weight:600} .bad{color:#b91c1c;font-weight:600}
.warn{color:#b45309;font-weight:600} code{background:#f3f4f6;padding:0 .2rem}
"""


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


def collect(settings: Settings) -> dict:
    """Everything the page shows, as plain data (also used by the tests)."""
    data: dict = {
        "entities": [],
        "drift": [],
        "generated_at": datetime.now(UTC).isoformat(),
        "freshness_limit_hours": settings.freshness_hours,
    }
    if not settings.warehouse.exists():
        return data
    with connect(settings.warehouse, read_only=True) as con:
        have_files = table_exists(con, "raw", "_files")
        for e in ENTITIES:
            item: dict = {"entity": e.qualified, "files": [], "by_rule": {}, "sample": []}
            if have_files:
                item["files"] = [
                    {"path": r[0], "status": r[1], "rows": r[2], "error": r[3]}
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
            if table_exists(con, "quarantine", e.qualified):
                item["quarantined"] = con.execute(
                    f"select count(*) from quarantine.{e.qualified}"
                ).fetchone()[0]
                item["by_rule"] = dict(
                    con.execute(
                        f"select _rule, count(*) from quarantine.{e.qualified} "
                        "group by 1 order by 2 desc"
                    ).fetchall()
                )
                item["sample"] = [
                    {"file": r[0], "line": r[1], "rule": r[2], "reason": r[3]}
                    for r in con.execute(
                        f"select _source_file, _source_line, _rule, _reason "
                        f"from quarantine.{e.qualified} order by _source_file, _source_line limit 5"
                    ).fetchall()
                ]
            if table_exists(con, "raw", f"{e.qualified}__accepted"):
                item["current"] = con.execute(
                    f"select count(*) from raw.{e.qualified}__accepted"
                ).fetchone()[0]
            data["entities"].append(item)
        if table_exists(con, "raw", "_schema_drift"):
            data["drift"] = [
                {"entity": r[0], "file": r[1], "column": r[2]}
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


def render(data: dict, run_messages: list[str] | None = None) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>cx-insights: data quality</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Data quality</h1>",
        f"<p class='muted'>Generated {_e(data['generated_at'])}. Every landed row is either "
        "accepted or in <code>quarantine</code> with the rule it broke.</p>",
    ]
    if run_messages:
        parts.append("<h2>Blocking failures of the last run</h2><ul>")
        parts += [f"<li class='bad'>{_e(m)}</li>" for m in run_messages]
        parts.append("</ul>")
    rows = []
    for item in data["entities"]:
        landed = item.get("landed", 0)
        quarantined = item.get("quarantined", 0)
        failed = [f for f in item["files"] if f["status"] == "failed"]
        accepted = landed - quarantined
        status = (
            "<span class='bad'>file unreadable</span>"
            if failed
            else "<span class='ok'>ok</span>"
            if "quarantined" in item
            else "<span class='warn'>not checked</span>"
        )
        rate = f"{quarantined / landed:.2%}" if landed else "-"
        rows_fresh = _freshness(item.get("newest_file_at"), data["freshness_limit_hours"])
        rows.append(
            [
                item["entity"],
                status,
                len(item["files"]),
                landed,
                accepted,
                quarantined,
                rate,
                item.get("current", "-"),
                item.get("last_loaded_at") or "-",
                rows_fresh,
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
                "reject rate",
                "current rows (latest per key)",
                "last loaded at (UTC)",
                "freshness",
            ],
            rows,
            raw_html_cols={1, 9},
        )
    )
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
        parts.append(_table(["rule", "rows"], [[k, v] for k, v in item["by_rule"].items()]))
        parts.append(
            _table(
                ["file", "line", "rule", "reason"],
                [[s["file"], s["line"], s["rule"], s["reason"]] for s in item["sample"]],
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
    parts.append("</body></html>")
    return "\n".join(parts)


def write_quality_report(settings: Settings, run_messages: list[str] | None = None) -> Path:
    path = settings.quality_report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(collect(settings), run_messages), encoding="utf-8")
    return path
