"""The KPI oracle (tests/kpi_oracle.py) on tiny hand-written landing directories.

Each test works its expected numbers out by hand, from kpis.md and
landing-contract.md, in the comments.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from kpi_oracle import KPI_COLUMNS, compare, kpi_monthly

SUBS = "subscription_id,customer_id,plan,mrr,currency,started_at,ended_at\n"
INVOICES = "invoice_id,customer_id,issued_at,amount,currency,status\n"
TICKETS = (
    "ticket_id,customer_id,created_at,channel,category,priority,status,"
    "first_response_at,solved_at,touchpoint_id,agent_id,satisfaction\n"
)
EVENTS = "event_id,anonymous_id,customer_id,session_id,occurred_at,event_name,page_path\n"
CUSTOMERS = "customer_id,email,full_name,signed_up_at,country_code,segment\n"
CUSTOMERS_PATH = "crm/customers/a.csv"


def row(kpis: pd.DataFrame, month: str, metric: str, level_id: str = "all") -> dict:
    level = "company" if level_id == "all" else "segment"
    found = kpis[
        (kpis["month"] == date.fromisoformat(month))
        & (kpis["level"] == level)
        & (kpis["level_id"] == level_id)
        & (kpis["metric"] == metric)
    ]
    assert len(found) == 1, f"{len(found)} rows for {month} {level_id} {metric}"
    return found.iloc[0].to_dict()


def value(kpis: pd.DataFrame, month: str, metric: str, level_id: str = "all") -> float:
    return row(kpis, month, metric, level_id)["value"]


def test_churn_example_of_kpis_md(landing):
    # 750 customers subscribed on 2025-01-15 (10 EUR each); 260 of them end on
    # 2025-02-10, 110 new ones start on 2025-02-05 and stay. February:
    # start 750, new 110, end 750 - 260 + 110 = 600, lost 750 + 110 - 600 = 260,
    # churn 100 x 260 / 750 = 34.666...%; mrr_start 7500, churned mrr 2600:
    # revenue churn 34.666...%, mrr_end 6000. January: nobody at the start, 750
    # new, 750 at the end, no churn rate (0 at start: null, not 0).
    lines = [
        f"S{i},C{i},basic,10,EUR,2025-01-15T00:00:00Z,{'2025-02-10T00:00:00Z' if i < 260 else ''}"
        for i in range(750)
    ]
    lines += [f"N{i},D{i},basic,10,EUR,2025-02-05T00:00:00Z," for i in range(110)]
    landing.write("crm/subscriptions/a.csv", SUBS + "\n".join(lines) + "\n")
    kpis = kpi_monthly(landing.root)
    assert sorted(set(kpis["month"])) == [date(2025, 1, 1), date(2025, 2, 1)]
    assert value(kpis, "2025-02-01", "active_customers_start") == 750
    assert value(kpis, "2025-02-01", "new_customers") == 110
    assert value(kpis, "2025-02-01", "active_customers_end") == 600
    lost = row(kpis, "2025-02-01", "lost_customers")
    assert (lost["value"], lost["n"]) == (260, 860)
    churn = row(kpis, "2025-02-01", "churn_rate")
    assert round(churn["value"], 2) == 34.67
    assert (churn["numerator"], churn["denominator"], churn["n"]) == (260, 750, 750)
    assert value(kpis, "2025-02-01", "mrr_start") == 7500
    assert value(kpis, "2025-02-01", "mrr_end") == 6000
    revenue_churn = row(kpis, "2025-02-01", "revenue_churn_rate")
    assert (revenue_churn["numerator"], revenue_churn["denominator"]) == (2600, 7500)
    assert math.isclose(revenue_churn["value"], 100 * 260 / 750)
    # No customers file: every customer is 'unknown' at segment level.
    assert value(kpis, "2025-02-01", "churn_rate", "unknown") == churn["value"]
    assert value(kpis, "2025-01-01", "new_customers") == 750
    assert math.isnan(value(kpis, "2025-01-01", "churn_rate"))
    assert value(kpis, "2025-01-01", "revenue") == 0  # a sum over nothing is 0


def test_median_with_even_count_and_ticket_means(landing):
    # Five tickets created in March 2025; four have a first response after 10, 20,
    # 40 and 100 minutes: median (20 + 40) / 2 = 30 over n = 4 (T5 has none).
    # Solved in March: T1 after 2 h, T2 after 5 h, and T5, solved at
    # 2025-04-01T01:00+02:00 = 2025-03-31T23:00Z (a UTC month: March), 72 h after
    # its creation: mean (2 + 5 + 72) / 3 = 26.333... h over n = 3.
    landing.write(
        "tickets/tickets/a.csv",
        TICKETS
        + "T1,,2025-03-01T10:00:00Z,,,,solved,2025-03-01T10:10:00Z,2025-03-01T12:00:00Z,,,\n"
        + "T2,,2025-03-02T10:00:00Z,,,,solved,2025-03-02T10:20:00Z,2025-03-02T15:00:00Z,,,\n"
        + "T3,,2025-03-03T10:00:00Z,email,x,low,open,2025-03-03T10:40:00Z,,,,\n"
        + "T4,,2025-03-04T10:00:00Z,email,x,low,open,2025-03-04T11:40:00Z,,,,\n"
        + "T5,,2025-03-28T23:00:00Z,email,x,low,open,,2025-04-01T01:00:00+02:00,,,\n",
    )
    kpis = kpi_monthly(landing.root)
    median = row(kpis, "2025-03-01", "median_first_response_minutes")
    assert (median["value"], median["n"]) == (30.0, 4)
    assert value(kpis, "2025-03-01", "tickets_created") == 5
    resolution = row(kpis, "2025-03-01", "avg_resolution_hours")
    assert resolution["n"] == 3
    assert math.isclose(resolution["value"], 79 / 3, rel_tol=1e-12)
    assert resolution["is_low_sample"]
    # No April row: nothing happened then (and the month spine ends in March).
    assert set(kpis["month"]) == {date(2025, 3, 1)}


def test_sessionisation_across_a_30_minute_gap(landing):
    # Anonymous A1 without session ids: 10:00 page_view, 10:30:00 add_to_cart
    # (exactly 30 min: same session, carries customer C1), 11:00:01 page_view
    # (30 min 1 s later: a new session). Sessions: 2; session 1 has a cart and no
    # purchase (abandoned), session 2 is a bounce (one page_view). Bounce 50 %,
    # conversion 0 %, cart abandonment 1 / 1 = 100 %. An explicit session S9 of
    # the same anonymous id in between stays a session of its own (3 in all then:
    # bounce 2 / 3, conversion: S9 has a purchase, 1 / 3).
    landing.write(CUSTOMERS_PATH, CUSTOMERS + "C1,a@b.c,A,2024-01-01T00:00:00Z,DE,smb\n")
    landing.write(
        "web/events/a.csv",
        EVENTS
        + "E1,A1,,,2025-05-10T10:00:00Z,page_view,/\n"
        + "E2,A1,C1,,2025-05-10T10:30:00Z,add_to_cart,/p\n"
        + "E3,A1,,,2025-05-10T11:00:01Z,page_view,/\n"
        + "E4,A1,,S9,2025-05-10T10:40:00Z,page_view,/\n"
        + "E5,A1,,S9,2025-05-10T10:41:00Z,purchase,/c\n",
    )
    kpis = kpi_monthly(landing.root)
    assert value(kpis, "2025-05-01", "sessions") == 3
    bounce = row(kpis, "2025-05-01", "bounce_rate")
    assert (bounce["numerator"], bounce["denominator"]) == (1, 3)
    assert value(kpis, "2025-05-01", "conversion_rate") == pytest.approx(100 / 3)
    cart = row(kpis, "2025-05-01", "cart_abandonment_rate")
    assert (cart["value"], cart["n"]) == (100.0, 1)
    # Segment: session 1 is C1's (smb); sessions 2 and S9 have no customer.
    assert value(kpis, "2025-05-01", "sessions", "smb") == 1
    assert value(kpis, "2025-05-01", "sessions", "unknown") == 2
    assert value(kpis, "2025-05-01", "bounce_rate", "unknown") == 50.0


def test_a_given_session_id_never_merges_with_a_generated_session(landing):
    # E1 carries the tracker's session id 'anon:A6:E2'; E2 has none and is
    # sessionised for anonymous A6 (the warehouse would name that session
    # 'anon:A6:E2' too). Two different sessions, both bounces: sessions 2,
    # bounce 100 %.
    landing.write(
        "web/events/a.csv",
        EVENTS
        + "E1,A5,,anon:A6:E2,2025-05-07T09:00:00Z,page_view,/\n"
        + "E2,A6,,,2025-05-07T09:00:00Z,page_view,/\n",
    )
    kpis = kpi_monthly(landing.root)
    assert value(kpis, "2025-05-01", "sessions") == 2
    assert value(kpis, "2025-05-01", "bounce_rate") == 100.0


def test_fx_table_starting_after_a_subscription_began(landing):
    # 100 USD MRR from 2025-01-10; USD rates from 2025-03-01 (0.9) and 2025-04-01
    # (0.8). A paid EUR invoice on 2025-04-15 extends the months to April.
    # Instants: 02-01 no rate -> 0 (still active), 03-01 -> 90, 04-01 -> 80,
    # 05-01 -> 80 (latest on or before). The subscription is never held back.
    landing.write(
        "framework/fx_rates/a.csv",
        "rate_date,currency,rate_to_reporting\n2025-03-01,USD,0.9\n2025-04-01,USD,0.8\n",
    )
    landing.write("crm/subscriptions/a.csv", SUBS + "S1,C1,basic,100,USD,2025-01-10T00:00:00Z,\n")
    landing.write("crm/invoices/a.csv", INVOICES + "I1,C1,2025-04-15T00:00:00Z,25.5,EUR,paid\n")
    kpis = kpi_monthly(landing.root)
    expected = {
        "2025-01-01": (0, 0),
        "2025-02-01": (0, 90),
        "2025-03-01": (90, 80),
        "2025-04-01": (80, 80),
    }
    for month, (start, end) in expected.items():
        assert value(kpis, month, "mrr_start") == pytest.approx(start, abs=0), month
        assert value(kpis, month, "mrr_end") == pytest.approx(end, abs=0), month
    assert value(kpis, "2025-01-01", "active_customers_end") == 1
    assert value(kpis, "2025-02-01", "active_customers_start") == 1
    assert value(kpis, "2025-04-01", "revenue") == 25.5
    assert row(kpis, "2025-04-01", "revenue")["n"] == 1


def test_reporting_currency_subscription_without_any_fx_table(landing):
    # No fx_rates at all: an EUR (reporting currency, landed as ' eur ') MRR of
    # 49.99 needs no rate. Started 2025-01-10, a paid invoice in February:
    # January mrr_end 49.99, February mrr_start and mrr_end 49.99. An invoice in
    # USD waits (no rate) and counts nowhere: February revenue is 10 (EUR only).
    landing.write(
        "crm/subscriptions/a.csv", SUBS + "S1,C1,basic,49.99, eur ,2025-01-10T00:00:00Z,\n"
    )
    landing.write(
        "crm/invoices/a.csv",
        INVOICES
        + "I1,C1,2025-02-03T00:00:00Z,10,EUR,paid\nI2,C1,2025-02-04T00:00:00Z,7,USD,paid\n",
    )
    kpis = kpi_monthly(landing.root)
    assert value(kpis, "2025-01-01", "mrr_start") == 0
    assert value(kpis, "2025-01-01", "mrr_end") == 49.99
    assert value(kpis, "2025-02-01", "mrr_start") == 49.99
    assert value(kpis, "2025-02-01", "mrr_end") == 49.99
    assert row(kpis, "2025-02-01", "revenue")["value"] == 10
    assert row(kpis, "2025-02-01", "revenue")["n"] == 1


def test_a_later_file_replaces_a_row(landing):
    # b.csv (written first) has T1 open; a.csv, written later, has T1 solved
    # 24 h after creation: modification time wins over the name. Within a.csv
    # the last line wins: T2 solved after 6 h, not 1 h. Mean resolution in
    # January: (24 + 6) / 2 = 15 h.
    landing.write("tickets/tickets/b.csv", TICKETS + "T1,,2025-01-05T00:00:00Z,,,,open,,,,,\n")
    landing.write(
        "tickets/tickets/a.csv",
        TICKETS
        + "T1,,2025-01-05T00:00:00Z,,,,solved,,2025-01-06T00:00:00Z,,,\n"
        + "T2,,2025-01-07T00:00:00Z,,,,solved,,2025-01-07T01:00:00Z,,,\n"
        + "T2,,2025-01-07T00:00:00Z,,,,solved,,2025-01-07T06:00:00Z,,,\n",
    )
    kpis = kpi_monthly(landing.root)
    resolution = row(kpis, "2025-01-01", "avg_resolution_hours")
    assert (resolution["value"], resolution["n"]) == (15.0, 2)
    assert value(kpis, "2025-01-01", "tickets_created") == 2


def test_a_rejected_update_does_not_replace_an_accepted_row(landing):
    # S1 (10 EUR, active from 2025-01-10) is updated by a later file to a negative
    # MRR (rejected: mrr >= 0) and by a still later one to an end before its start
    # (rejected): both wait in quarantine, S1 stays 10 EUR and active. C1's
    # segment update to 'enterprise' has an unparsable signed_up_at: C1 stays smb.
    # A ticket update whose solved_at is before created_at is rejected too: the
    # open ticket stays (no resolution row at all).
    landing.write(CUSTOMERS_PATH, CUSTOMERS + "C1,a@b.c,A,2024-01-01T00:00:00Z,DE,smb\n")
    landing.write("crm/customers/b.csv", CUSTOMERS + "C1,a@b.c,A,yesterday,DE,enterprise\n")
    landing.write("crm/subscriptions/a.csv", SUBS + "S1,C1,basic,10,EUR,2025-01-10T00:00:00Z,\n")
    landing.write("crm/subscriptions/b.csv", SUBS + "S1,C1,basic,-5,EUR,2025-01-10T00:00:00Z,\n")
    landing.write(
        "crm/subscriptions/c.csv",
        SUBS + "S1,C1,basic,10,EUR,2025-01-10T00:00:00Z,2025-01-01T00:00:00Z\n",
    )
    landing.write("tickets/tickets/a.csv", TICKETS + "T1,C1,2025-02-05T00:00:00Z,,,,open,,,,,\n")
    landing.write(
        "tickets/tickets/b.csv",
        TICKETS + "T1,C1,2025-02-05T00:00:00Z,,,,solved,,2025-02-04T00:00:00Z,,,\n",
    )
    kpis = kpi_monthly(landing.root)
    assert value(kpis, "2025-02-01", "mrr_start") == 10
    assert value(kpis, "2025-02-01", "mrr_end", "smb") == 10
    assert value(kpis, "2025-02-01", "active_customers_end", "smb") == 1
    assert "enterprise" not in set(kpis["level_id"])
    assert value(kpis, "2025-02-01", "tickets_created", "smb") == 1
    assert not (kpis["metric"] == "avg_resolution_hours").any()


def test_nps_interval_and_survey_rows(landing):
    # Answers 10, 9, 3 to an NPS question in June: 2 promoters, 1 detractor of 3:
    # nps 100 x (2 - 1) / 3 = 33.33, numerator 1, denominator 3; p = 2/3, d = 1/3,
    # se = 100 x sqrt((1 - (1/3)^2) / 3) = 54.43; low sample (n < 30). An answer
    # of 11 is outside the scale (rejected); one whose response never arrived
    # waits. CSAT on 1..5: 4 and 3 -> top-2-box 1 / 2 = 50 %; CES on 1..5: 5 ->
    # 1 + 6 x 4 / 4 = 7.
    landing.write(
        "feedback/questions/a.csv",
        "question_id,survey_id,metric,driver,scale_min,scale_max,question_text\n"
        "QN,S,nps,,0,10,n\nQC,S,csat,,1,5,c\nQE,S,ces,,1,5,e\n",
    )
    landing.write(
        "feedback/responses/a.csv",
        "response_id,survey_id,customer_id,touchpoint_id,channel,submitted_at\n"
        "R1,S,,,web,2025-06-01T10:00:00Z\nR2,S,,,web,2025-06-02T10:00:00Z\n"
        "R3,S,,,web,2025-06-03T10:00:00Z\nR4,S,,,web,2025-06-04T10:00:00Z\n",
    )
    landing.write(
        "feedback/answers/a.csv",
        "response_id,question_id,value_number,value_text\n"
        "R1,QN,10,\nR2,QN,9,\nR3,QN,3,\nR4,QN,11,\nR9,QN,0,\n"
        "R1,QC,4,\nR2,QC,3,\nR1,QE,5,\n",
    )
    kpis = kpi_monthly(landing.root)
    nps = row(kpis, "2025-06-01", "nps")
    se = 100 * math.sqrt((1 - (1 / 3) ** 2) / 3)
    assert nps["value"] == pytest.approx(100 / 3)
    assert (nps["numerator"], nps["denominator"], nps["n"]) == (1, 3, 3)
    assert nps["ci_low"] == pytest.approx(100 / 3 - 1.96 * se)
    assert nps["ci_high"] == pytest.approx(100 / 3 + 1.96 * se)
    assert nps["is_low_sample"]
    csat = row(kpis, "2025-06-01", "csat")
    assert (csat["value"], csat["numerator"], csat["denominator"]) == (50.0, 1, 2)
    assert value(kpis, "2025-06-01", "ces") == 7.0
    assert value(kpis, "2025-06-01", "nps", "unknown") == nps["value"]


def test_compare_reports_differences():
    base = pd.DataFrame(
        [[date(2025, 1, 1), "company", "all", "sessions", 3.0, None, None, 3, None, None, True]],
        columns=KPI_COLUMNS,
    )
    assert compare(base, base.copy()) == []
    other = base.copy()
    other.loc[0, "value"] = 4.0
    other.loc[0, "n"] = 4
    diffs = compare(base, other)
    assert len(diffs) == 2 and "2025-01-01 company:all sessions: value" in diffs[0]
    extra = pd.concat([base, base.assign(metric="bounce_rate")], ignore_index=True)
    assert compare(base, extra) == [
        "2025-01-01 company:all bounce_rate: only in the warehouse (value 3.0, n 3)"
    ]
