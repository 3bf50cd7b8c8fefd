"""The bad-input catalogue: for each contract rule, good rows and planted bad ones.

Each bad row must land in quarantine with the right `_rule`, every good row
must be accepted, and landed = accepted + quarantined.
"""

from __future__ import annotations

from datetime import date

import pytest

from cx_insights.contract import ENTITIES
from tests.conftest import FX_CSV

QUESTIONS = (
    "question_id,survey_id,metric,driver,scale_min,scale_max,question_text\n"
    "Q_NPS,S1,nps,,0,10,How likely...\n"
    "Q_CSAT,S1,csat,,1,5,How satisfied...\n"
    "Q_TXT,S1,verbatim,,,,Tell us more\n"
)
RESPONSES = (
    "response_id,survey_id,customer_id,touchpoint_id,channel,submitted_at\n"
    "R1,S1,C1,,web,2024-01-05\n"
)

# (entity path, file content, {line: expected rule}); lines not listed are good rows.
CATALOGUE = {
    "fx_rate_positive": (
        "framework/fx_rates/a.csv",
        "rate_date,currency,rate_to_reporting\n2020-01-01,EUR,1\n2020-01-01,USD,0\n2020-01-01,GBP,-1\n",
        {3: "fx_rate_positive", 4: "fx_rate_positive"},
    ),
    "types": (
        "framework/fx_rates/a.csv",
        "rate_date,currency,rate_to_reporting\n2020-01-01,EUR,1\n2020-13-01,USD,1\n2020-01-01,GBP,abc\n",
        {3: "type:rate_date", 4: "type:rate_to_reporting"},
    ),
    "questions": (
        "feedback/questions/a.csv",
        "question_id,survey_id,metric,driver,scale_min,scale_max\n"
        "Q1,S1,nps,,0,10\nQ2,S1,nps,,1,10\nQ3,S1,csat,,5,1\nQ4,S1,ces,,,\nQ5,S1,verbatim,,,\n"
        "Q6,S1,stars,,1,5\nQ7,,csat,,1,5\nQ8,S1,driver,ease,1,5\n",
        {
            3: "nps_scale_0_10",
            4: "scale_ordered",
            5: "scale_required",
            7: "enum:metric",
            8: "required:survey_id",
        },
    ),
    "answers": (
        "feedback/answers/a.csv",
        "response_id,question_id,value_number,value_text\n"
        "R1,Q_NPS,9,\nR1,Q_CSAT,6,\nR1,Q_TXT,,great\nR1,Q_NONE,3,\nR9,Q_NPS,7,\n"
        "R1,Q_TXT,,\nR1,Q_NPS,,\nR1,Q_NPS,-1,\n",
        {
            3: "answer_within_scale",
            5: "answer_question_exists",
            6: "answer_response_exists",
            7: "answer_has_value",
            8: "answer_has_value",
            9: "answer_within_scale",
        },
    ),
    "subscriptions": (
        "crm/subscriptions/a.csv",
        "subscription_id,customer_id,plan,mrr,currency,started_at,ended_at\n"
        "S1,C1,pro,10.50,EUR,2024-01-01,\nS2,C1,pro,-1,EUR,2024-01-01,\n"
        "S3,C1,pro,10,EUR,2024-02-01,2024-01-01\nS4,C1,pro,10,JPY,2024-01-01,\n"
        "S5,C1,pro,10,USD,2019-06-01,\nS6,C1,pro,10,usd,2024-01-01,2024-03-01\n",
        # S5 and S6 have no rate on or before started_at: never quarantined for FX
        # (their MRR converts at each month instant, landing-contract.md).
        {3: "mrr_non_negative", 4: "ended_after_started"},
    ),
    "invoices": (
        "crm/invoices/a.csv",
        "invoice_id,customer_id,issued_at,amount,currency,status\n"
        "I1,C1,2024-01-01,10,EUR,paid\nI2,C1,2024-01-01,-5,USD,PAID\nI3,C1,2024-01-01,10,EUR,refunded\n"
        "I4,C1,2024-01-01,10,,paid\n",
        {4: "enum:status", 5: "required:currency"},
    ),
    "tickets": (
        "tickets/tickets/a.csv",
        "ticket_id,created_at,status,first_response_at,solved_at,channel,priority,satisfaction\n"
        "T1,2024-01-05T10:00Z,solved,2024-01-05T10:05Z,2024-01-05T12:00Z,email,high,good\n"
        "T2,2024-01-05T10:00Z,solved,,2024-01-05T09:00Z,email,high,good\n"
        "T3,2024-01-05T10:00Z,open,2024-01-05T09:59Z,,email,high,\n"
        "T4,2024-01-05T10:00Z,open,,,fax,high,\n"
        "T5,2024-01-05T10:00Z,open,,,chat,meh,\n"
        "T6,2024-01-05T10:00Z,done,,,chat,low,\n"
        "T7,2024-01-05T10:00Z,open,,,chat,low,ok\n"
        ",2024-01-05T10:00Z,open,,,chat,low,\n"
        "T9,yesterday,open,,,chat,low,\n",
        {
            3: "solved_after_created",
            4: "first_response_after_created",
            5: "enum:channel",
            6: "enum:priority",
            7: "enum:status",
            8: "enum:satisfaction",
            9: "required:ticket_id",
            10: "type:created_at",
        },
    ),
    "initiatives": (
        "framework/initiatives/a.csv",
        "initiative_id,name,owner,touchpoint_id,journey_id,started_at,cost,currency,target_metric\n"
        "N1,Faster help,Ann,TP1,,2024-01-01,1000,EUR,nps\n"
        "N2,Both,Ann,TP1,J1,2024-01-01,1000,EUR,nps\n"
        "N3,None,Ann,,,2024-01-01,1000,EUR,nps\n"
        "N4,Bad metric,Ann,TP1,,2024-01-01,1000,EUR,happiness\n",
        {3: "initiative_one_target", 4: "initiative_one_target", 5: "enum:target_metric"},
    ),
    "events": (
        "web/events/a.csv",
        "event_id,anonymous_id,occurred_at,event_name,revenue,currency\n"
        "E1,A1,2024-01-05T10:00Z,page_view,,\nE2,A1,2024-01-05T10:01Z,purchase,20,USD\n"
        "E3,A1,2024-01-05T10:02Z,purchase,20,\nE4,,2024-01-05T10:03Z,page_view,,\n",
        {4: "amount_has_currency", 5: "required:anonymous_id"},
    ),
    "timestamps_out_of_window": (
        "tickets/tickets/a.csv",
        "ticket_id,created_at,status,solved_at\n"
        "T1,2024-01-05T10:00:00+14:00,open,\n"
        "T2,2226-01-05T10:00:00Z,open,\n"
        "T3,1900-01-01,open,\n"
        "T4,2024-01-05T10:00:00+99:00,open,\n"
        "T5,2024-01-05T10:00:00-1430,open,\n"
        "T6,2024-01-05T10:00:00Z,solved,9999-12-31\n"
        "T7,2024-01-05T10:00:00-12:00,open,\n",
        {
            3: "timestamp_in_window:created_at",
            4: "timestamp_in_window:created_at",
            5: "type:created_at",
            6: "type:created_at",
            7: "timestamp_in_window:solved_at",
        },
    ),
    "scheduled_end_may_lie_ahead": (
        "crm/subscriptions/a.csv",
        "subscription_id,customer_id,mrr,currency,started_at,ended_at\n"
        "S1,C1,10,EUR,2024-01-01,9999-12-31\nS2,C1,10,EUR,2999-01-01,\n"
        "S3,C1,10,EUR,1999-12-31T23:59:59Z,\n",
        {3: "timestamp_in_window:started_at", 4: "timestamp_in_window:started_at"},
    ),
    "whole_numbers_only": (
        "framework/journeys/a.csv",
        "journey_id,journey_name,stage_order\n"
        "J1,Buy,1\nJ2,Use,2.0\nJ3,Pay,2.5\nJ4,Help,0x10\nJ5,Leave,1_000\nJ6,Stay,1e3\nJ7,Go, +7 \n",
        # DuckDB's cast would round 2.5 to 3 and read hex, digit groups and 1e3.
        dict.fromkeys((4, 5, 6, 7), "type:stage_order"),
    ),
    "money_without_digit_groups": (
        "crm/invoices/a.csv",
        "invoice_id,customer_id,issued_at,amount,currency,status\n"
        "I1,C1,2024-01-01,1_000,EUR,paid\nI2,C1,2024-01-01,1e3,EUR,paid\n",
        {2: "type:amount"},
    ),
    "blank_required_ids": (
        "crm/customers/a.csv",
        "customer_id,signed_up_at\n C1 ,2024-01-01\n   ,2024-01-01\n",
        {3: "required:customer_id"},
    ),
}


@pytest.mark.parametrize("case", sorted(CATALOGUE))
def test_each_bad_row_is_quarantined_with_its_rule(case, landing, load_and_gate, query):
    rel, content, expected = CATALOGUE[case]
    if not rel.startswith("framework/fx_rates"):
        landing.write("framework/fx_rates/fx.csv", FX_CSV)
    if "answers" in rel:
        landing.write("feedback/questions/q.csv", QUESTIONS)
        landing.write("feedback/responses/r.csv", RESPONSES)
    landing.write(rel, content)
    source, name = rel.split("/")[:2]
    q = f"{source}__{name}"
    results = load_and_gate()
    got = dict(query(f"select _source_line, _rule from quarantine.{q}"))
    assert got == expected
    reasons = query(f"select _reason, _source_file from quarantine.{q}")
    assert all(reason and file == rel for reason, file in reasons)
    landed = content.count("\n") - 1
    accepted = query(
        f"select count(*) from raw.{q} where _source_line not in "
        f"(select _source_line from quarantine.{q})"
    )[0][0]
    assert accepted == landed - len(expected)
    r = results[q]
    assert r.reconciles and r.rows_landed == landed and r.rows_quarantined == len(expected)


def test_rejected_later_update_never_replaces_the_accepted_row(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/day1.csv",
        "ticket_id,created_at,status,solved_at\nT1,2024-01-05T10:00Z,solved,2024-01-05T12:00Z\n",
    )
    load_and_gate()
    landing.write(
        "tickets/tickets/day2.csv",
        "ticket_id,created_at,status,solved_at\nT1,2024-01-05T10:00Z,solved,2024-01-04T12:00Z\n",
    )
    load_and_gate()
    assert query("select solved_at::varchar, _source_file from raw.tickets__tickets__accepted") == [
        ("2024-01-05 12:00:00", "tickets/tickets/day1.csv")
    ]
    assert query("select _rule from quarantine.tickets__tickets") == [("solved_after_created",)]


def test_late_answer_waits_and_is_released_when_its_response_arrives(landing, load_and_gate, query):
    landing.write("feedback/questions/q.csv", QUESTIONS)
    landing.write(
        "feedback/answers/day1.csv", "response_id,question_id,value_number\nR1,Q_NPS,10\n"
    )
    load_and_gate()
    assert query("select _rule from quarantine.feedback__answers") == [("answer_response_exists",)]
    assert query("select count(*) from raw.feedback__answers__accepted") == [(0,)]
    landing.write("feedback/responses/day2.csv", RESPONSES)
    load_and_gate()
    assert query("select count(*) from quarantine.feedback__answers") == [(0,)]
    assert query("select response_id, value_number::int from raw.feedback__answers__accepted") == [
        ("R1", 10)
    ]


def test_amount_in_reporting_currency_needs_no_rate_but_others_do(landing, load_and_gate, query):
    landing.write(
        "crm/invoices/a.csv",
        "invoice_id,customer_id,issued_at,amount,currency,status\n"
        "I1,C1,2024-01-01,10,EUR,paid\nI2,C1,2024-01-01,10,USD,paid\n",
    )
    load_and_gate()
    assert query("select _source_line, _rule from quarantine.crm__invoices") == [
        (3, "fx_rate_exists")
    ]


def test_ids_are_trimmed(landing, load_and_gate, query):
    landing.write("crm/customers/a.csv", "customer_id,signed_up_at,segment\n C1 ,2024-01-01,smb\n")
    landing.write("crm/customers/b.csv", "customer_id,signed_up_at,segment\nC1,2024-01-01,ent\n")
    load_and_gate()
    assert query("select customer_id, segment from raw.crm__customers__accepted") == [("C1", "ent")]


def test_waiting_rows_do_not_count_as_rejected(landing, load_and_gate, query):
    landing.write("framework/fx_rates/fx.csv", FX_CSV)
    landing.write(
        "crm/invoices/a.csv",
        "invoice_id,customer_id,issued_at,amount,currency,status\n"
        "I1,C1,2024-01-01,10,EUR,paid\nI2,C1,2019-03-01,10,USD,paid\n"
        "I3,C1,2024-02-01,10,GBP,paid\nI4,C1,2024-02-01,10,EUR,lost\n",
    )
    results = load_and_gate()
    r = results["crm__invoices"]
    assert (r.rows_landed, r.rows_waiting, r.rows_rejected) == (4, 2, 1)
    assert r.reject_rate == 0.25
    assert sorted(query("select * from raw._gate_waiting where entity = 'crm__invoices'")) == [
        ("crm__invoices", date(2019, 3, 1), "fx_rate_exists", 1),
        ("crm__invoices", date(2024, 2, 1), "fx_rate_exists", 1),
    ]


def test_gate_rerun_on_unchanged_input_is_skipped_and_identical(landing, load_and_gate, query):
    landing.write("framework/fx_rates/fx.csv", FX_CSV)
    landing.write("crm/invoices/a.csv", CATALOGUE["invoices"][1])
    load_and_gate()
    before = query("select * from raw.crm__invoices__accepted order by all")
    q_before = query("select * from quarantine.crm__invoices order by all")
    results = load_and_gate()
    assert results["crm__invoices"].skipped
    assert query("select * from raw.crm__invoices__accepted order by all") == before
    assert query("select * from quarantine.crm__invoices order by all") == q_before


def test_every_entity_gets_its_tables_even_when_empty(landing, load_and_gate, query):
    load_and_gate()
    for e in ENTITIES:
        assert query(f"select count(*) from raw.{e.qualified}__accepted") == [(0,)]
        assert query(f"select count(*) from quarantine.{e.qualified}") == [(0,)]
