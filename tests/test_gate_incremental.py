"""The incremental gate: new files are gated as a delta, with the same result as
re-gating every row.

The property test drops random files (updates by key, late and early file
modification times, bad rows, answers before their responses, amounts before
their fx rates, a file replaced in place) and after every drop compares the
tables the delta gate left with a full re-gate of the same raw rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_insights.contract import entity
from cx_insights.ingest.loader import load_entity
from cx_insights.quality.gate import run_gate
from cx_insights.warehouse import connect
from tests.conftest import FX_CSV, gate_order

QUESTIONS = (
    "question_id,survey_id,metric,driver,scale_min,scale_max,question_text\n"
    "Q_NPS,S1,nps,,0,10,How likely\nQ_TXT,S1,verbatim,,,,Tell us more\n"
)
ENTITIES = (
    "tickets__tickets",
    "feedback__responses",
    "feedback__answers",
    "crm__invoices",
    "framework__fx_rates",
)


def _snapshot(con, q: str) -> tuple[list, list]:
    accepted = con.execute(
        f"select * exclude (_gated_at) from raw.{q}__accepted order by all"
    ).fetchall()
    quarantined = con.execute(
        f"select * exclude (_quarantined_at) from quarantine.{q} order by all"
    ).fetchall()
    return accepted, quarantined


def _gate_all(con, landing: Path, *, force: bool = False) -> dict:
    for q in gate_order():
        load_entity(con, landing, entity(q))
    return {q: run_gate(con, entity(q), "EUR", force=force) for q in gate_order()}


def _assert_delta_equals_full(wh: Path, landing: Path) -> dict:
    with connect(wh) as con:
        results = _gate_all(con, landing)
        delta = {q: _snapshot(con, q) for q in ENTITIES}
    copy = wh.with_name("full.duckdb")
    shutil.copyfile(wh, copy)
    with connect(copy) as con:
        for q in gate_order():
            run_gate(con, entity(q), "EUR", force=True)
        full = {q: _snapshot(con, q) for q in ENTITIES}
    copy.unlink()
    for q in ENTITIES:
        assert delta[q][0] == full[q][0], f"accepted rows of {q} differ from a full re-gate"
        assert delta[q][1] == full[q][1], f"quarantined rows of {q} differ from a full re-gate"
    return results


def _write(landing: Path, rel: str, content: str, mtime: int) -> None:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_new_files_are_gated_as_a_delta_and_anything_else_in_full(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    _write(landing, "framework/fx_rates/fx.csv", FX_CSV, 1_700_000_000)
    _write(
        landing,
        "tickets/tickets/day1.csv",
        "ticket_id,created_at,status\nT1,2024-01-05T10:00Z,open\nT2,2024-01-05T11:00Z,open\n",
        1_700_000_100,
    )
    with connect(wh) as con:
        first = _gate_all(con, landing)
    assert first["tickets__tickets"].mode == "full"
    _write(
        landing,
        "tickets/tickets/day2.csv",
        "ticket_id,created_at,status,solved_at\nT1,2024-01-05T10:00Z,solved,"
        "2024-01-05T12:00Z\nT3,bad-date,open,\n",
        1_700_000_200,
    )
    second = _assert_delta_equals_full(wh, landing)
    tickets = second["tickets__tickets"]
    assert (tickets.mode, tickets.rows_checked) == ("delta", 2)
    assert tickets.rows_current == 2 and tickets.rows_quarantined == 1 and tickets.reconciles
    assert second["crm__invoices"].skipped  # nothing new for it
    # A file replaced in place changes rows already gated: every row is checked again.
    _write(
        landing,
        "tickets/tickets/day1.csv",
        "ticket_id,created_at,status\nT2,2024-01-05T11:00Z,solved\n",
        1_700_000_300,
    )
    third = _assert_delta_equals_full(wh, landing)
    assert third["tickets__tickets"].mode == "full"
    assert "changed" in third["tickets__tickets"].plan_reason


ticket_row = st.tuples(
    st.sampled_from(["T1", "T2", "T3"]),
    st.sampled_from(["2024-01-05T10:00Z", "2024-01-06T10:00Z", "not-a-date"]),
    st.sampled_from(["", "2024-01-04T10:00Z", "2024-01-07T10:00Z"]),
)
drop = st.one_of(
    st.tuples(st.just("tickets"), st.lists(ticket_row, min_size=1, max_size=4)),
    st.tuples(st.just("answers"), st.lists(st.sampled_from(["R1", "R2"]), min_size=1, max_size=2)),
    st.tuples(st.just("responses"), st.lists(st.sampled_from(["R1", "R2"]), min_size=1)),
    st.tuples(st.just("invoices"), st.lists(st.sampled_from(["EUR", "GBP", "USD"]), min_size=1)),
    st.tuples(st.just("fx"), st.sampled_from(["GBP", "USD"])),
    st.tuples(st.just("replace"), st.just("")),
)


def _content(kind: str, rows, step: int) -> tuple[str, str]:
    if kind == "tickets":
        body = "".join(f"{t},{c},solved,{s}\n" for t, c, s in rows)
        return "tickets/tickets", "ticket_id,created_at,status,solved_at\n" + body
    if kind == "answers":
        body = "".join(f"{r},Q_NPS,{step % 11}\n" for r in rows)
        return "feedback/answers", "response_id,question_id,value_number\n" + body
    if kind == "responses":
        body = "".join(f"{r},S1,C1,,web,2024-01-0{1 + step % 9}\n" for r in rows)
        return (
            "feedback/responses",
            "response_id,survey_id,customer_id,touchpoint_id,channel,submitted_at\n" + body,
        )
    if kind == "invoices":
        body = "".join(f"I{i},C1,2024-02-01,{step},{c},paid\n" for i, c in enumerate(rows))
        return "crm/invoices", "invoice_id,customer_id,issued_at,amount,currency,status\n" + body
    return (
        "framework/fx_rates",
        f"rate_date,currency,rate_to_reporting\n2024-01-0{step % 9 + 1}," + (f"{rows},1.1\n"),
    )


@pytest.mark.slow  # about a minute: the full tier runs it, `make unit` does not
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drops=st.lists(st.tuples(drop, st.integers(-300, 300)), min_size=1, max_size=6),
)
def test_delta_gate_equals_full_regate(drops):
    with tempfile.TemporaryDirectory() as tmp:
        landing, wh = Path(tmp) / "landing", Path(tmp) / "w.duckdb"
        _write(landing, "feedback/questions/q.csv", QUESTIONS, 1_700_000_000)
        written: list[tuple[str, str]] = []
        for step, ((kind, rows), shift) in enumerate(drops):
            # File modification times mostly increase, but a late file may be older.
            mtime = 1_700_000_000 + 1_000 * step + shift
            if kind == "replace":
                if not written:
                    continue
                rel, content = written[0]
                _write(landing, rel, content.rstrip("\n").rsplit("\n", 1)[0] + "\n", mtime)
            else:
                folder, content = _content(kind, rows, step)
                rel = f"{folder}/drop{step}.csv"
                _write(landing, rel, content, mtime)
                written.append((rel, content))
            _assert_delta_equals_full(wh, landing)
