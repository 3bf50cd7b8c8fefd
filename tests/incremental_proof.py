"""Proof of the incremental models (web sessions, touchpoint assignments, scored
answers, converted invoices, the customer-months, the survey, web session,
invoice, customer-month and MRR movement marts): after every drop, the tables
an incremental run leaves equal a `--full-refresh` build of the same accepted
rows, and deliberate mutants of the incremental logic fail that comparison.

Run by tests/test_incremental_models.py in a subprocess of its own (dbt runs
in-process here, about 1 s per invocation instead of 4 s for a new dbt):

    python -m tests.incremental_proof [--project DIR] [--seeds N]
    python -m tests.incremental_proof --mutants     # every mutant must be caught
    python -m tests.incremental_proof --postgres    # the designed scenario on PostgreSQL
    python -m tests.incremental_proof --key-tests   # the key tests find planted duplicates
    python -m tests.incremental_proof --publish     # the published file equals the marts
    python -m tests.incremental_proof --spark [--steps N] [--mutant NAME]   # on Spark,
                                    # each step against DuckDB's full refresh

Exits 0 when every step of every scenario matched, 1 at the first step that
did not (printing the scenario, step and the rows that differ), 2 when a dbt
run failed (the incremental post-hooks refuse to serve stale rows: for a mutant
that is also a detection).

A scenario is a list of drops applied to the accepted tables the gate would
leave: events upserted by event_id with a later `_gated_at` (the gate's update
by key), fx rates added, customers, subscriptions, invoices, tickets,
responses, answers, questions and the framework upserted, and a complete
re-gate (every row gated again, some gone).
The designed scenario walks through each case the incremental logic has to
handle; seeded random scenarios mix upserts from small pools so that sessions
merge, split, change id and move between groups, and responses move and arrive
after their answers, by chance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

#: The incremental models under proof, and the columns that record which run
#: wrote a row (different between an incremental run and a full refresh by design).
MODELS = (
    "int_events_sessionised",
    "int_sessions_aggregated",
    "int_touchpoint_assignments_resolved",
    "int_answers_scored",
    "fct_survey_answers",
    "fct_survey_responses",
    "fct_web_sessions",
    "int_invoices_converted",
    "fct_invoices",
    "int_customer_months_evaluated",
    "fct_customer_months",
    "fct_mrr_movements",
)


def relation(model: str) -> str:
    """schema.model: the marts are in `marts`, the rest in `intermediate`."""
    return f"{'marts' if model.startswith('fct_') else 'intermediate'}.{model}"


#: Where the incremental marts keep the start of their last build.
WATERMARKS = "intermediate._incremental_watermarks"
RUN_MARKERS = ("_sessionised_at", "_subject_marker", "_written_at")
#: The column of each model that holds the start of the run that wrote the row
#: (its key test reads the keys written after CX_TESTS_WRITTEN_SINCE).
WRITTEN_AT = {
    "int_events_sessionised": "_sessionised_at",
    "int_sessions_aggregated": "_written_at",
    "int_touchpoint_assignments_resolved": "_written_at",
    "int_answers_scored": "_written_at",
    "int_invoices_converted": "_written_at",
}
#: The incremental marts have no marker column: their key tests read the keys of
#: the upstream rows written after CX_TESTS_WRITTEN_SINCE: (upstream, the mart's key
#: column(s) it gives, as which upstream expression(s), extra condition). The
#: customer-month chain's upstream is its stored digests (their `_written_at`).
MART_WRITTEN_UPSTREAM = {
    "fct_survey_answers": [
        ("int_answers_scored", {"response_id": "response_id", "question_id": "question_id"}, ""),
        (
            "int_touchpoint_assignments_resolved",
            {"response_id": "subject_id"},
            "subject_type = 'survey_response'",
        ),
    ],
    "fct_survey_responses": [
        ("int_answers_scored", {"response_id": "response_id"}, ""),
        (
            "int_touchpoint_assignments_resolved",
            {"response_id": "subject_id"},
            "subject_type = 'survey_response'",
        ),
    ],
    "fct_web_sessions": [
        ("int_sessions_aggregated", {"session_id": "session_id"}, ""),
        (
            "int_touchpoint_assignments_resolved",
            {"session_id": "subject_id"},
            "subject_type = 'web_session'",
        ),
    ],
    "fct_invoices": [("int_invoices_converted", {"invoice_id": "invoice_id"}, "")],
    **{
        model: [(f"_customer_digests_{model}", {"customer_id": "customer_id"}, "")]
        for model in ("int_customer_months_evaluated", "fct_customer_months", "fct_mrr_movements")
    },
}
SELECTION = (
    "+fct_survey_answers +fct_survey_responses +fct_web_sessions +fct_invoices +fct_mrr_movements"
)

EVENT_COLUMNS = (
    "event_id",
    "anonymous_id",
    "customer_id",
    "session_id",
    "occurred_at",
    "event_name",
    "page_path",
    "revenue",
    "currency",
)
TICKET_COLUMNS = ("ticket_id", "customer_id", "created_at", "category", "touchpoint_id")
RESPONSE_COLUMNS = ("response_id", "survey_id", "customer_id", "touchpoint_id", "submitted_at")
INVOICE_COLUMNS = ("invoice_id", "customer_id", "issued_at", "amount", "currency", "status")
CUSTOMER_COLUMNS = ("customer_id", "signed_up_at", "segment")
SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "customer_id",
    "plan",
    "mrr",
    "currency",
    "started_at",
    "ended_at",
)
DAY = datetime(2026, 1, 10, 10, 0)


def ticket(
    ticket_id: str, category: str | None, touchpoint: str | None = None, *, customer: str = "c1"
) -> tuple:
    return ("tickets__tickets", (ticket_id, customer, DAY, category, touchpoint))


def response(
    response_id: str, touchpoint: str | None = None, *, customer: str = "c1", days: int = 0
) -> tuple:
    at = DAY + timedelta(days=days)
    return ("feedback__responses", (response_id, "S1", customer, touchpoint, at))


def answer(response_id: str, question_id: str, value: str | None, text: str | None = None) -> tuple:
    return ("feedback__answers", (response_id, question_id, value, text))


def question(question_id: str, metric: str, scale: tuple[int, int] | None) -> tuple:
    low, high = scale or (None, None)
    return ("feedback__questions", (question_id, "S1", metric, None, low, high, question_id))


def invoice(
    invoice_id: str, amount: str, currency: str, status: str = "paid", *, customer: str = "c1"
) -> tuple:
    return ("crm__invoices", (invoice_id, customer, DAY, amount, currency, status))


def customer(customer_id: str, segment: str | None, *, days: int = -90) -> tuple:
    return ("crm__customers", (customer_id, DAY + timedelta(days=days), segment))


def subscription(
    subscription_id: str,
    customer_id: str,
    mrr: str,
    currency: str,
    started: int,
    ended: int | None = None,
) -> tuple:
    """A subscription started `started` days after DAY (negative: before), ended
    `ended` days after DAY (None: still active)."""
    end = None if ended is None else DAY + timedelta(days=ended)
    row = (subscription_id, customer_id, "basic", mrr, currency, DAY + timedelta(days=started), end)
    return ("crm__subscriptions", row)


def rule(rule_id: str, source: str, column: str, pattern: str, touchpoint: str, priority) -> tuple:
    return ("framework__touchpoint_rules", (rule_id, source, column, pattern, touchpoint, priority))


def touchpoint(touchpoint_id: str) -> tuple:
    return ("framework__touchpoints", (touchpoint_id, "job1", touchpoint_id))


FRAMEWORK = [
    ("framework__journeys", ("j1", "Buy", 1)),
    ("framework__jobs", ("job1", "j1", "Pay")),
    touchpoint("tp_home"),
    touchpoint("tp_checkout"),
    touchpoint("tp_billing"),
    rule("w1", "web", "page_path", "/checkout%", "tp_checkout", 1),
    rule("w2", "web", "page_path", "/%", "tp_home", None),
    rule("k1", "tickets", "category", "billing%", "tp_billing", None),
    question("q_nps", "nps", (0, 10)),
    question("q_csat", "csat", (1, 5)),
    question("q_ces", "ces", (1, 5)),
    question("q_text", "verbatim", None),
]


def event(
    event_id: str,
    anonymous_id: str,
    minute: int,
    name: str = "page_view",
    *,
    session: str | None = None,
    customer: str | None = None,
    revenue: str | None = None,
    currency: str | None = None,
) -> tuple:
    page = {"page_view": "/home", "add_to_cart": "/product/1", "purchase": "/checkout"}[name]
    at = DAY + timedelta(minutes=minute)
    return (event_id, anonymous_id, customer, session, at, name, page, revenue, currency)


@dataclass
class Drop:
    """One step: events upserted by id, fx rates added, other rows upserted by key
    ((table, row) pairs), or a complete re-gate."""

    label: str
    events: list[tuple] = field(default_factory=list)
    fx_rates: list[tuple] = field(default_factory=list)
    rows: list[tuple[str, tuple]] = field(default_factory=list)
    regate_dropping: tuple[str, ...] | None = None


DESIGNED = [
    Drop(
        "first build",
        events=[
            # a1: one sessionised session e1..e4 (gaps 20, 25, 25 minutes)
            event("e1", "a1", 0),
            event("e2", "a1", 20, "add_to_cart"),
            event("e3", "a1", 45),
            event("e4", "a1", 70, "purchase", customer="c1", revenue="10", currency="USD"),
            # a given session, and a tracker id that looks like a derived one
            event("e5", "a2", 0, session="s1"),
            event("e6", "a2", 5, session="s1", customer="c2"),
            event("e7", "a3", 0),
            event("e8", "a4", 0, session="anon:a4:e8"),
            # a6: three sessions, [f1], [f2, f3], [f4]; f2 moves after f4 later on
            event("f1", "a6", 0),
            event("f2", "a6", 100),
            event("f3", "a6", 110),
            event("f4", "a6", 200),
        ],
        fx_rates=[("2026-01-01", "USD", "0.800000000")],
        rows=[
            *FRAMEWORK,
            ticket("t1", "billing-refund"),
            ticket("t2", "other", touchpoint="tp_bogus"),
            response("r1", touchpoint="tp_home"),
            response("r2"),
            answer("r1", "q_nps", "9"),
            answer("r1", "q_csat", "4"),
            answer("r1", "q_text", None, "fine"),
            answer("r2", "q_nps", "3"),
            answer("r2", "q_ces", "2"),
            # an answer whose response has not arrived yet
            answer("r4", "q_nps", "10"),
            # a response at a touchpoint the framework does not know yet
            response("r5", touchpoint="tp_survey"),
            answer("r5", "q_nps", "8"),
            # a USD invoice, a credit note, an invoice in a currency without a rate yet
            invoice("i1", "100", "USD"),
            invoice("i2", "-20", "EUR"),
            invoice("i3", "50", "GBP", "open"),
            customer("c1", "smb"),
            customer("c2", "consumer"),
            customer("c3", "enterprise"),
            # c1 held since December; c2 churned in January; c3 since late December
            subscription("sub1", "c1", "10", "USD", -40),
            subscription("sub2", "c2", "20", "EUR", -70, -5),
            subscription("sub4", "c3", "30", "EUR", -20),
        ],
    ),
    Drop(
        "an earlier event renames a1's session; an answer is corrected",
        events=[event("e9", "a1", -10)],
        rows=[
            answer("r1", "q_nps", "6"),
            invoice("i2", "-25", "EUR"),
            # c2 comes back (a reactivation) with a second subscription
            subscription("sub3", "c2", "15", "EUR", -2),
        ],
    ),
    Drop(
        "a3's only event moves to a given session; a ticket's category changes",
        events=[event("e7", "a3", 1, session="s1")],
        rows=[ticket("t2", "billing")],
    ),
    Drop(
        "the response of an earlier answer arrives; a response moves to a later day",
        rows=[response("r4", customer="c2"), response("r1", touchpoint="tp_home", days=40)],
    ),
    Drop(
        "a question's scale changes, a new question is answered, an NPS score is corrected",
        rows=[
            question("q_csat", "csat", (0, 10)),
            question("q_ces2", "ces", (1, 7)),
            answer("r2", "q_ces2", "7"),
            # c1's latest NPS in January turns detractor: February's category at start
            answer("r5", "q_nps", "3"),
        ],
    ),
    Drop(
        "a1's bridging event moves to a given session: a1 splits",
        events=[event("e3", "a1", 45, session="s2")],
    ),
    Drop("nothing new"),
    Drop(
        "subscriptions, a ticket and an invoice move (c3 is left with none); a segment changes",
        rows=[
            subscription("sub1", "c2", "10", "USD", -40),
            subscription("sub4", "c1", "30", "EUR", -20),
            ticket("t1", "billing-refund", customer="c2"),
            invoice("i1", "100", "USD", customer="c2"),
            customer("c1", "enterprise"),
        ],
    ),
    Drop(
        "a new touchpoint and a rule for the home page that wins; r5's touchpoint arrives",
        rows=[
            touchpoint("tp_landing"),
            rule("w0", "web", "page_path", "/home", "tp_landing", 0),
            touchpoint("tp_survey"),
        ],
    ),
    Drop(
        "an fx rate from the day of the purchase", fx_rates=[("2026-01-10", "USD", "0.900000000")]
    ),
    Drop(
        "new events, one in a second currency, one updated in place; "
        "a session's first event moves after a later session",
        events=[
            event("e10", "a5", 300, "add_to_cart"),
            event("e11", "a5", 320, "purchase", revenue="5", currency="GBP"),
            event("e6", "a2", 5, "add_to_cart", session="s1", customer="c2"),
            # f3 now starts a session of its own: a6 is recomputed from where f2 was
            event("f2", "a6", 210),
        ],
        fx_rates=[("2026-01-01", "GBP", "1.150000000")],
        rows=[
            ticket("t3", "billing"),
            response("r3"),
            invoice("i3", "50", "GBP"),
            invoice("i4", "80", "USD", "open"),
        ],
    ),
    Drop(
        "a complete re-gate drops an event, a response, an invoice and a subscription",
        regate_dropping=("e5", "r2", "i2", "sub3"),
    ),
]


def random_scenario(seed: int, steps: int = 5) -> list[Drop]:
    rng = random.Random(seed)
    ids = [f"r{i}" for i in range(10)]
    anonymous = ["a1", "a2", "a3"]
    sessions = [None, None, None, "s1", "s2", "anon:a1:r0"]
    minutes = [0, 10, 29, 30, 31, 45, 61, 62, 100]

    def random_event() -> tuple:
        name = rng.choice(["page_view", "page_view", "add_to_cart", "purchase"])
        paid = name == "purchase"
        return event(
            rng.choice(ids),
            rng.choice(anonymous),
            rng.choice(minutes),
            name,
            session=rng.choice(sessions),
            customer=rng.choice([None, "c1"]),
            revenue=str(rng.randint(1, 50)) if paid else None,
            currency=rng.choice(["EUR", "USD"]) if paid else None,
        )

    def random_feedback() -> tuple:
        response_id = rng.choice(["r1", "r2", "r3"])
        if rng.random() < 0.3:
            return response(response_id, customer=rng.choice(["c1", "c2"]), days=rng.randint(0, 40))
        question_id = rng.choice(["q_nps", "q_csat", "q_ces"])
        return answer(response_id, question_id, str(rng.randint(1, 5)))

    def random_invoice() -> tuple:
        currency = rng.choice(["EUR", "USD", "GBP"])
        status = rng.choice(["paid", "paid", "open", "void"])
        amount = str(rng.randint(-20, 90))
        owner = rng.choice(["c1", "c2"])
        return invoice(rng.choice(["i1", "i2", "i3"]), amount, currency, status, customer=owner)

    def random_crm() -> tuple:
        if rng.random() < 0.3:
            return customer(rng.choice(["c1", "c2"]), rng.choice(["smb", "consumer", None]))
        started = rng.choice([-70, -40, -10, 5, 30])
        ended = rng.choice([None, None, started + 3, started + 25, started + 60])
        return subscription(
            rng.choice(["sub1", "sub2"]),
            rng.choice(["c1", "c2"]),
            str(rng.randint(1, 30)),
            rng.choice(["EUR", "USD"]),
            started,
            ended,
        )

    drops = [
        Drop(
            f"seed {seed}: first build",
            events=[random_event() for _ in range(6)],
            fx_rates=[("2026-01-01", "USD", "0.800000000")],
            rows=[
                *FRAMEWORK,
                response("r1"),
                answer("r1", "q_nps", "7"),
                *(random_feedback() for _ in range(4)),
                random_invoice(),
                # a subscription every step keeps: the MRR models are never empty
                subscription("sub0", "c1", "12", "EUR", -100),
                random_crm(),
            ],
        )
    ]
    for step in range(1, steps):
        drop = Drop(
            f"seed {seed}: drop {step}",
            events=[random_event() for _ in range(rng.randint(1, 4))],
            rows=[random_feedback() for _ in range(rng.randint(0, 3))],
        )
        if rng.random() < 0.4:
            drop.rows.append(random_invoice())
        if rng.random() < 0.5:
            drop.rows.append(random_crm())
        if rng.random() < 0.2:
            scale = rng.choice([(1, 5), (0, 10)])
            drop.rows.append(question(rng.choice(["q_csat", "q_ces"]), "csat", scale))
        if rng.random() < 0.2:
            drop.fx_rates = [("2026-01-10", "USD", f"0.{rng.randint(70, 99)}0000000")]
        drops.append(drop)
    return drops


#: The accepted tables a scenario writes: their columns (the contract's, without
#: the load columns) and how many leading columns make the key.
TABLES: dict[str, tuple[tuple[str, ...], int]] = {
    "web__events": (EVENT_COLUMNS, 1),
    "framework__fx_rates": (("rate_date", "currency", "rate_to_reporting"), 2),
    "tickets__tickets": (TICKET_COLUMNS, 1),
    "crm__invoices": (INVOICE_COLUMNS, 1),
    "crm__customers": (CUSTOMER_COLUMNS, 1),
    "crm__subscriptions": (SUBSCRIPTION_COLUMNS, 1),
    "feedback__responses": (RESPONSE_COLUMNS, 1),
    "feedback__answers": (("response_id", "question_id", "value_number", "value_text"), 2),
    "feedback__questions": (
        ("question_id", "survey_id", "metric", "driver", "scale_min", "scale_max", "question_text"),
        1,
    ),
    "framework__touchpoint_rules": (
        ("rule_id", "source", "match_column", "pattern", "touchpoint_id", "priority"),
        1,
    ),
    "framework__touchpoints": (("touchpoint_id", "job_id", "touchpoint_name"), 1),
    "framework__jobs": (("job_id", "journey_id", "job_statement"), 1),
    "framework__journeys": (("journey_id", "journey_name", "stage_order"), 1),
}


class Accepted:
    """The accepted rows the gate would hold after each drop (latest per key)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple, tuple]] = {name: {} for name in TABLES}
        self.clock = datetime(2026, 12, 1, 0, 0)

    def upsert(self, table: str, row: tuple) -> None:
        self.tables[table][row[: TABLES[table][1]]] = (*row, self.clock)

    def apply(self, drop: Drop) -> None:
        self.clock += timedelta(minutes=1)
        if drop.regate_dropping is not None:
            self.tables = {
                name: {
                    key: (*row[:-1], self.clock)
                    for key, row in rows.items()
                    if key[0] not in drop.regate_dropping
                }
                for name, rows in self.tables.items()
            }
        for row in drop.events:
            self.upsert("web__events", row)
        for row in drop.fx_rates:
            self.upsert("framework__fx_rates", row)
        for table, row in drop.rows:
            self.upsert(table, row)

    def write(self, warehouse: Path) -> None:
        import duckdb

        with duckdb.connect(str(warehouse)) as con:
            self._write(con, "?")

    def write_postgres(self, dsn: str) -> None:
        import psycopg2

        with psycopg2.connect(dsn) as pg, pg.cursor() as cur:
            self._write(cur, "%s")

    def _write(self, con, mark: str) -> None:
        """The accepted tables as the gate leaves them (a DuckDB connection or a
        PostgreSQL cursor: the contract's DDL is valid on both)."""
        from cx_insights.contract import ENTITIES, accepted_table_ddl

        con.execute("create schema if not exists raw")
        for e in ENTITIES:
            con.execute(accepted_table_ddl(e))
        for table, (columns, _) in TABLES.items():
            con.execute(f"delete from raw.{table}__accepted")
            names = ", ".join((*columns, "_source_file", "_source_line", "_loaded_at", "_gated_at"))
            marks = ", ".join([mark] * (len(columns) + 4))
            for line, row in enumerate(self.tables[table].values(), start=1):
                con.execute(
                    f"insert into raw.{table}__accepted ({names}) values ({marks})",
                    [*row[:-1], "proof.csv", line, row[-1], row[-1]],
                )


class Dbt:
    def __init__(self, project: Path, work: Path, selection: str = SELECTION) -> None:
        from dbt.cli.main import dbtRunner

        self.runner = dbtRunner()
        self.project = project
        self.work = work
        self.selection = selection

    def run(self, warehouse: Path, *extra: str, command: str = "run") -> bool:
        # One warehouse path for every run: a changed CX_WAREHOUSE changes the
        # profile, and dbt then parses the whole project again (4 s, not 1 s).
        current = self.work / "current.duckdb"
        os.environ["CX_WAREHOUSE"] = str(current)
        warehouse.rename(current)
        try:
            return self._invoke(*extra, command=command)
        finally:
            current.rename(warehouse)

    def test(self, warehouse: Path, since: str) -> bool:
        """`dbt test` of the models' key tests, with CX_TESTS_WRITTEN_SINCE = `since`."""
        os.environ["CX_TESTS_WRITTEN_SINCE"] = since
        try:
            return self.run(warehouse, command="test")
        finally:
            del os.environ["CX_TESTS_WRITTEN_SINCE"]

    def args(self, *extra: str, command: str = "run") -> list[str]:
        """`dbt run` of the models under proof and their parents, in this project
        (`test`: their key tests)."""
        selection = (
            "test_name:unique_keys_written_since_tested" if command == "test" else self.selection
        )
        return [
            command,
            "--select",
            selection,
            "--project-dir",
            str(self.project),
            "--profiles-dir",
            str(self.project),
            "--target-path",
            str(self.work / "target"),
            "--log-path",
            str(self.work / "logs"),
            "-q",
            *extra,
        ]

    def _invoke(self, *extra: str, command: str = "run") -> bool:
        result = self.runner.invoke(self.args(*extra, command=command))
        # dbt-duckdb keeps its database open in the process for the next
        # invocation: close it, so that this process can open the file itself.
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

        with manager._LOCK:
            if manager._ENV is not None:
                manager._ENV.close()
                manager._ENV = None
        return result.success


def rows(warehouse: Path, model: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return table_rows(con, relation(model).split(".")[0], model)


def table_rows(con, schema: str, table: str) -> list[tuple]:
    """Every row of a DuckDB table, sorted, without the run markers."""
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    ]
    exclude = [m for m in RUN_MARKERS if m in columns]
    projection = f"* exclude ({', '.join(exclude)})" if exclude else "*"
    return con.execute(f"select {projection} from {schema}.{table} order by all").fetchall()


class PostgresDbt(Dbt):
    """The same runs on PostgreSQL (the project's local cluster)."""

    def __init__(self, project: Path, work: Path, env: dict[str, str], dsn: str) -> None:
        super().__init__(project, work)
        os.environ.update({**env, "CX_TARGET": "postgres"})
        self.dsn = dsn

    def run(self, warehouse: Path | None = None, *extra: str) -> bool:
        return self.runner.invoke(self.args(*extra)).success

    def hand_over(self, accepted: Accepted) -> None:
        accepted.write_postgres(self.dsn)

    def execute(self, sql: str) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(self.dsn) as pg, pg.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []

    def rows(self, table: str) -> list[tuple]:
        schema = relation(table).split(".")[0]
        columns = [
            name
            for (name,) in self.execute(
                "select column_name from information_schema.columns "
                f"where table_schema = '{schema}' and table_name = '{table}' "
                "order by ordinal_position"
            )
            if name not in RUN_MARKERS
        ]
        found = self.execute(f"select {', '.join(columns)} from {schema}.{table}")
        return sorted(found, key=repr)


def marts_rows(warehouse: Path) -> dict[str, tuple[list, list]]:
    """{table: (columns with types, rows sorted)} of schema marts, build log excepted."""
    import duckdb

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_name <> '_build' order by 1"
        ).fetchall()
        for (table,) in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            rows = con.execute(f'select * from marts."{table}" order by all').fetchall()
            out[table] = (columns, rows)
    return out


def prove_publish(dbt: Dbt, work: Path) -> str:
    """After each drop of the designed scenario and its incremental run (every other
    drop after a run of the upstream alone), the published file (cx_insights.serve.
    publish, which replaces an incremental mart's rows by the keys written since the
    last publish) holds exactly the working file's marts.
    Raises AssertionError at the first difference; returns how each mart was updated."""
    from cx_insights import serve, written_keys
    from cx_insights.config import load_settings

    warehouse = work / "cx.duckdb"
    settings = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"})
    serve.MANIFEST = work / "target" / "manifest.json"
    # Never a whole copy because most rows changed (most do, in marts this small):
    # every update of a mart with a plan goes by its written keys.
    serve.REWRITE_SHARE = float("inf")
    outcomes: list[bool | None] = []
    replace_written = written_keys.replace_written

    def counted(*args, **kwargs):
        outcomes.append(replace_written(*args, **kwargs))
        return outcomes[-1]

    written_keys.replace_written = counted
    marts = [model for model in MODELS if relation(model).startswith("marts.")]
    accepted = Accepted()
    try:
        for step, drop in enumerate(DESIGNED):
            accepted.apply(drop)
            accepted.write(warehouse)
            when = f"step {step} ({drop.label})"
            if step % 2:
                # A run that builds the upstream but not the marts (`--select`, a run
                # stopped halfway): the publish must not take the upstream's new
                # markers for rows the marts already include.
                assert dbt.run(warehouse, "--exclude", *marts), f"{when}: the run failed"
                serve.publish(settings, run_id=f"step-{step}-upstream")
                _assert_published(marts_rows(warehouse), marts_rows(settings.published), when)
            assert dbt.run(warehouse), f"{when}: the incremental run failed"
            serve.publish(settings, run_id=f"step-{step}")
            _assert_published(marts_rows(warehouse), marts_rows(settings.published), when)
        by_keys = len(outcomes)
        assert by_keys and all(outcomes), (
            f"{outcomes.count(None)} of {by_keys} mart updates fell back to the hash "
            "difference: the written keys and deleted keys did not account for the rows"
        )
        # A full refresh: the marts that note it (`<model>:built_whole`) fall back to
        # comparing every row; the customer-month marts' digests all get the new
        # marker, so every customer's rows are replaced by key.
        outcomes.clear()
        assert dbt.run(warehouse, "--full-refresh"), "the full refresh failed"
        serve.publish(settings, run_id="full-refresh")
        _assert_published(marts_rows(warehouse), marts_rows(settings.published), "full refresh")
        assert outcomes.count(None) == 4 and outcomes.count(True) == 2, outcomes
    finally:
        written_keys.replace_written = replace_written
    return (
        f"{len(DESIGNED)} steps, published == marts; {by_keys} mart updates by written "
        "keys; after a full refresh 4 marts by the hash difference, 2 by written keys"
    )


def _assert_published(want: dict, got: dict, when: str) -> None:
    for table in sorted(set(want) | set(got)):
        assert got.get(table) == want.get(table), f"{when}: published {table} differs"


def run_postgres(project: Path, work: Path) -> int:
    """The designed scenario on the project's own PostgreSQL cluster."""
    from cx_insights.config import load_settings
    from cx_insights.postgres import LocalCluster

    root = work / "postgres"
    root.mkdir()
    for folder in (work, root):
        folder.chmod(0o755)  # the server account must reach its data folder
    try:  # before PostgresDbt sets CX_TARGET=postgres in this process's environment
        expected = duckdb_full_refreshes(DESIGNED, project, work)
    except FullRefreshFailed as exc:
        print(f"DuckDB: {exc}")
        return 2
    settings = load_settings({"CX_WAREHOUSE": str(root / "cx.duckdb"), "CX_PII_SALT": "x"})
    cluster = LocalCluster(settings)
    conn = cluster.start()
    try:
        dbt = PostgresDbt(project, root, conn.dbt_env(), conn.dsn)
        failure = prove_on_target(DESIGNED, dbt, expected, "PostgreSQL")
    finally:
        cluster.stop()
    if failure:
        print(f"designed scenario on postgres, {failure}")
        return 2 if "failed" in failure.split("\n", 1)[0] else 1
    print(
        f"designed scenario on postgres: {len(DESIGNED)} steps, "
        "incremental == full refresh (on DuckDB)"
    )
    return 0


class SparkDbt(Dbt):
    """The same runs on Spark (a local session in this process, as `dbt` by hand
    with CX_TARGET=spark): the accepted rows handed over as Parquet folders, as
    the gate hands them over."""

    def __init__(self, project: Path, work: Path) -> None:
        from cx_insights import spark
        from cx_insights.config import load_settings

        super().__init__(project, work)
        self.settings = load_settings(
            {"CX_WAREHOUSE": str(work / "cx.duckdb"), "CX_PII_SALT": "x", "CX_TARGET": "spark"}
        )
        os.environ.update({**spark.dbt_env(self.settings), "CX_TARGET": "spark"})

    def run(self, warehouse: Path | None = None, *extra: str) -> bool:
        return self.runner.invoke(self.args(*extra)).success

    def hand_over(self, accepted: Accepted) -> None:
        import duckdb

        from cx_insights import spark
        from cx_insights.contract import ENTITIES

        staged = self.work / "accepted.duckdb"
        staged.unlink(missing_ok=True)
        accepted.write(staged)
        with duckdb.connect(str(staged)) as con:
            spark.write_tables(
                con, self.settings, [("raw", f"{e.qualified}__accepted") for e in ENTITIES]
            )

    def rows(self, table: str) -> list[tuple]:
        import duckdb

        from cx_insights import spark

        schema = relation(table).split(".")[0]
        with duckdb.connect() as con:
            spark.fetch_into_duckdb(con, self.settings, [(schema, table)])
            return table_rows(con, schema, table)


SPARK_REWRITE = "macros/incremental/spark_rewrite.sql"

#: Mistakes in the Spark-only statements (Parquet's rewrite in place of DELETE).
SPARK_MUTANTS: dict[str, list[tuple[str, str, str]]] = {
    "spark keeps the replaced rows": [
        (
            SPARK_REWRITE,
            "spark_rewrite(target, kept_condition, also=computed)",
            "spark_rewrite(target, '1 = 1', also=computed)",
        )
    ],
    "spark deletes nothing": [
        (
            SPARK_REWRITE,
            "spark_rewrite(relation, 'not coalesce((' ~ condition ~ '), false)')",
            "spark_rewrite(relation, '1 = 1')",
        )
    ],
}


def same_rows(got: list[tuple], want: list[tuple]) -> bool:
    """The same rows in any order, numbers to 1e-9 relative: the engines may sum in
    another order, and PostgreSQL's numeric average is DuckDB's double."""

    def number(value) -> bool:
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)

    def same(a, b) -> bool:
        if number(a) and number(b):
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        return a == b

    def order(row: tuple) -> tuple:
        return tuple((0, round(float(v), 6), "") if number(v) else (1, 0.0, repr(v)) for v in row)

    return len(got) == len(want) and all(
        len(g) == len(w) and all(map(same, g, w))
        for g, w in zip(sorted(got, key=order), sorted(want, key=order), strict=True)
    )


def duckdb_full_refreshes(
    scenario: list[Drop], project: Path, work: Path
) -> list[dict[str, list[tuple]]]:
    """Each step's rows of the models under proof, by a full refresh on DuckDB."""
    folder = work / "duckdb"
    folder.mkdir()
    return list(full_refresh_rows(scenario, Dbt(project, folder), folder))


def prove_on_target(
    scenario: list[Drop],
    dbt: PostgresDbt | SparkDbt,
    expected: list[dict[str, list[tuple]]],
    engine: str,
) -> str | None:
    """As prove(): each step's incremental run on PostgreSQL or Spark against
    `expected`, the rows of DuckDB's full refresh of the same step. The target's own
    full refresh gives the same rows (the sample on each target equals DuckDB's, in
    make test) at twice the runs there: a run on Spark costs 30-40 s here, one on
    DuckDB 3-5 s."""
    accepted = Accepted()
    for step, drop in enumerate(scenario):
        accepted.apply(drop)
        dbt.hand_over(accepted)
        if not dbt.run():
            return f"step {step} ({drop.label}): the incremental run failed"
        for model in MODELS:
            got, want = dbt.rows(model), expected[step][model]
            if not want:
                return f"step {step} ({drop.label}): {model} is empty: nothing was compared"
            if not same_rows(got, want):
                extra = sorted(set(got) - set(want), key=repr)[:5]
                missing = sorted(set(want) - set(got), key=repr)[:5]
                return (
                    f"step {step} ({drop.label}): {model} on {engine} differs from a full "
                    f"refresh on DuckDB\n  only {engine}: {extra}\n  only DuckDB: {missing}"
                )
    return None


def run_spark(project: Path, work: Path, steps: int | None, mutant: str = "") -> int:
    """The designed scenario (its first `steps` drops) on a local Spark session, each
    step against DuckDB's full refresh; with `mutant`, the project changed by the
    mutants whose name contains it (of MUTANTS and SPARK_MUTANTS), which the scenario
    must then catch (0: caught)."""
    scenario = DESIGNED[:steps] if steps else DESIGNED
    try:  # before SparkDbt sets CX_TARGET=spark in this process's environment
        expected = duckdb_full_refreshes(scenario, project, work)
    except FullRefreshFailed as exc:
        print(f"DuckDB, unmutated project: {exc}")
        return 2
    if mutant:
        changes = [
            change
            for name, changed in {**MUTANTS, **SPARK_MUTANTS}.items()
            if mutant in name
            for change in changed
        ]
        if not changes:
            raise SystemExit(f"no mutant named like {mutant!r}")
        project = mutate(project, work / "mutant", changes)
    failure = prove_on_target(scenario, SparkDbt(project, work), expected, "Spark")
    if mutant:
        print(f"mutant {'caught' if failure else 'survived'} on spark: {mutant}")
        if failure:
            print(f"  {failure.splitlines()[0]}")
        return 0 if failure else 1
    if failure:
        print(f"designed scenario on spark, {failure}")
        return 2 if "failed" in failure.split("\n", 1)[0] else 1
    print(
        f"designed scenario on spark: {len(scenario)} steps, "
        "incremental == full refresh (on DuckDB)"
    )
    return 0


class FullRefreshFailed(Exception):
    """A step's full refresh failed: nothing to compare with."""


def full_refresh_rows(
    scenario: list[Drop], dbt: Dbt, work: Path
) -> Iterator[dict[str, list[tuple]]]:
    """Each step's rows of every model under proof, built by a full refresh: one
    step per `next()`, so `prove` runs it after that step's incremental run."""
    accepted = Accepted()
    full = work / "full.duckdb"
    for step, drop in enumerate(scenario):
        accepted.apply(drop)
        accepted.write(full)
        if not dbt.run(full, "--full-refresh"):
            raise FullRefreshFailed(f"step {step} ({drop.label}): the full refresh failed")
        yield {model: rows(full, model) for model in MODELS}
        full.unlink()


def prove(
    scenario: list[Drop],
    dbt: Dbt,
    work: Path,
    expected: list[dict[str, list[tuple]]] | None = None,
    models: tuple[str, ...] = MODELS,
) -> str | None:
    """None when every step matched, else what differed first. Each step's
    incremental run is compared with a full refresh of the same project, or with
    `expected` (the unmutated project's full refreshes, for the mutants), on
    `models` (a mutant's run builds only the models its change reaches)."""
    wanted = iter(expected) if expected is not None else full_refresh_rows(scenario, dbt, work)
    accepted = Accepted()
    incremental = work / "incremental.duckdb"
    for step, drop in enumerate(scenario):
        accepted.apply(drop)
        accepted.write(incremental)
        if not dbt.run(incremental):
            return f"step {step} ({drop.label}): the incremental run failed"
        try:
            want_rows = next(wanted)
        except FullRefreshFailed as exc:
            return str(exc)
        for model in models:
            got, want = rows(incremental, model), want_rows[model]
            if not want:
                return f"step {step} ({drop.label}): {model} is empty: nothing was compared"
            if got != want:
                extra = sorted(set(got) - set(want))[:5]
                missing = sorted(set(want) - set(got))[:5]
                return (
                    f"step {step} ({drop.label}): {model} differs from a full refresh\n"
                    f"  only incremental: {extra}\n  only full refresh: {missing}"
                )
    incremental.unlink()
    return None


SESSIONS = "models/intermediate/web/int_sessions_aggregated.sql"
SESSIONISED = "models/intermediate/web/int_events_sessionised.sql"
ASSIGNMENTS = "models/intermediate/framework/int_touchpoint_assignments_resolved.sql"
ANSWERS = "models/intermediate/feedback/int_answers_scored.sql"
ANSWERS_MART = "models/marts/experience/fct_survey_answers.sql"
RESPONSES_MART = "models/marts/experience/fct_survey_responses.sql"
SESSIONS_MART = "models/marts/experience/fct_web_sessions.sql"
INVOICES = "models/intermediate/finance/int_invoices_converted.sql"
INVOICES_MART = "models/marts/finance/fct_invoices.sql"
CUSTOMER_DIGESTS = "macros/incremental/customer_digests.sql"
MRR_MART = "models/marts/finance/fct_mrr_movements.sql"

#: Deliberate mistakes in the incremental logic, each a textual change of one
#: model (file, text, replacement). Every one must fail the designed scenario.
MUTANTS: dict[str, list[tuple[str, str, str]]] = {
    "sessions keep the sessions that no longer exist": [
        (
            SESSIONS,
            "    post_hook=\"{{ delete_rows_missing_from(ref('int_events_sessionised'), "
            "'session_id', stored_rows='sum(event_count)') }}\",\n",
            "",
        )
    ],
    "sessions ignore a change of fx rates": [
        (SESSIONS, "        or stored_state.fx_rates_digest <> fx_rates_digest.digest\n", ""),
    ],
    "assignments keep the subjects that no longer exist": [
        (ASSIGNMENTS, '    post_hook="{{ delete_assignments_of_missing_subjects() }}",\n', ""),
    ],
    "assignments ignore a change of rules or touchpoints": [
        (ASSIGNMENTS, "        or stored_state.framework_digest <> framework_digest.digest\n", ""),
    ],
    "answers keep the answers that no longer exist": [
        (ANSWERS, '    post_hook="{{ delete_answers_missing_upstream() }}",\n', ""),
    ],
    "answers ignore a change of questions": [
        (ANSWERS, "        or stored_state.questions_digest <> questions_digest.digest\n", ""),
    ],
    "answers ignore an updated response": [
        (
            ANSWERS,
            "        or all_answers.response_id in "
            "(select changed_responses.response_id from changed_responses)\n",
            "",
        )
    ],
    "answers mart ignores re-resolved touchpoints": [
        (
            ANSWERS_MART,
            "        or response_id in (select reassigned_responses.response_id "
            "from reassigned_responses)\n",
            "",
        )
    ],
    "answers mart keeps the answers that no longer exist": [
        (
            ANSWERS_MART,
            "        \"{{ delete_rows_missing_from(ref('int_answers_scored'), "
            "dbt.concat(['response_id', \\\"'|'\\\", 'question_id'])) }}\",\n",
            "",
        )
    ],
    "responses mart ignores changed answers": [
        (
            RESPONSES_MART,
            "    union\n    select response_id\n    from answers\n"
            "    where _written_at > {{ watermark }}\n",
            "",
        )
    ],
    "responses mart keeps the responses that no longer exist": [
        (
            RESPONSES_MART,
            "        \"{{ delete_rows_missing_from(ref('stg_feedback__responses'), "
            "'response_id') }}\",\n",
            "",
        )
    ],
    "web sessions mart ignores re-resolved touchpoints": [
        (
            SESSIONS_MART,
            "        or session_id in (select reassigned_sessions.session_id "
            "from reassigned_sessions)\n",
            "",
        )
    ],
    "web sessions mart keeps the sessions that no longer exist": [
        (
            SESSIONS_MART,
            "        \"{{ delete_rows_missing_from(ref('int_sessions_aggregated'), "
            "'session_id') }}\",\n",
            "",
        )
    ],
    "invoices keep the invoices that no longer exist": [
        (
            INVOICES,
            "    post_hook=\"{{ delete_rows_missing_from(ref('stg_crm__invoices'), "
            "'invoice_id') }}\",\n",
            "",
        )
    ],
    "invoices ignore a change of fx rates": [
        (INVOICES, "        or stored_state.fx_rates_digest <> fx_rates_digest.digest\n", ""),
    ],
    "invoices mart keeps the invoices that no longer exist": [
        (
            INVOICES_MART,
            "        \"{{ delete_rows_missing_from(ref('int_invoices_converted'), "
            "'invoice_id') }}\",\n",
            "",
        )
    ],
    "invoices mart takes the invoices gated, not written, after its watermark": [
        (
            INVOICES_MART,
            "    where _written_at > {{ watermark }}",
            "    where _invoice_gated_at > {{ watermark }}",
        )
    ],
    "customer digests keep the stored rows of recomputed customers": [
        (
            CUSTOMER_DIGESTS,
            "        {{ hook_statement(delete_where(this, 'customer_id in "
            "(select customer_id from ' ~ touched ~ ')')) }}\n",
            "",
        )
    ],
    "customer digests forget the customers whose inputs are gone": [
        (
            CUSTOMER_DIGESTS,
            "        full outer join {{ stored }} as stored_digests\n",
            "        left join {{ stored }} as stored_digests\n",
        )
    ],
    "customer digests ignore the months spine and the fx rates": [
        (
            CUSTOMER_DIGESTS,
            "sum(customer_rows.row_hash) + max(shared_digest.digest) as digest",
            "sum(customer_rows.row_hash) as digest",
        )
    ],
    "the customer-month marts ignore their upstream's stored digests": [
        (
            CUSTOMER_DIGESTS,
            "            {{ return((tag, stored, ['digest'])) }}",
            "            {{ return((tag, stored, [\"'same'\"])) }}",
        )
    ],
    "MRR movements ignore the monthly NPS categories": [
        (
            MRR_MART,
            "            ('nps_month', ref('fct_customer_months'), "
            "['month_start_date', 'latest_nps_category']),\n",
            "",
        )
    ],
    "sessionisation stamps rewritten rows with their gated time": [
        (SESSIONISED, "{{ run_marker() }} as _sessionised_at", "_gated_at as _sessionised_at"),
    ],
    "sessionisation forgets the groups updated events left": [
        (
            SESSIONISED,
            "    inner join new_events\n        on stored.event_id = new_events.event_id\n",
            "    inner join new_events\n        on stored.event_id = new_events.event_id\n"
            "    where false\n",
        )
    ],
    "sessionisation recomputes from the latest event before a change": [
        (SESSIONISED, "        and stored.event_number_in_session = 1\n", ""),
    ],
    "sessionisation ignores where updated events were": [
        (
            SESSIONISED,
            "        end as group_id,\n        stored.occurred_at\n",
            "        end as group_id,\n        new_events.occurred_at\n",
        )
    ],
}


def prove_key_tests(dbt: Dbt, work: Path) -> list[str]:
    """What the key tests got wrong (empty: nothing). After the designed scenario's
    first build, a copy of one row of each model is planted (a duplicate key)
    with a `written_at` after, then before, the last tested run's end (`since`):
    the first must fail the test with `since` set; the second, which a run whose
    tests passed would have caught, passes with `since` and fails without it."""
    import duckdb

    warehouse = work / "keys.duckdb"
    accepted = Accepted()
    accepted.apply(DESIGNED[0])
    accepted.write(warehouse)
    if not dbt.run(warehouse):
        return ["the first build failed"]
    if not dbt.test(warehouse, ""):
        return ["the key tests fail on a clean build"]
    wrong = _prove_digest_markers(dbt, warehouse, accepted)
    since = datetime(2030, 1, 1)
    for model, written_at in WRITTEN_AT.items():
        for planted, expect in ((since + timedelta(seconds=1), False), (since, True)):
            with duckdb.connect(str(warehouse)) as con:
                con.execute(
                    f"insert into {relation(model)} by name "
                    f"select * replace (cast(? as timestamp) as {written_at}) "
                    f"from {relation(model)} limit 1",
                    [planted],
                )
            if dbt.test(warehouse, since.isoformat(sep=" ")) != expect:
                wrong.append(f"{model}: a duplicate written at {planted} passed={not expect}")
            if expect and dbt.test(warehouse, ""):
                wrong.append(f"{model}: a duplicate passed the test of every key")
            with duckdb.connect(str(warehouse)) as con:
                con.execute(
                    f"delete from {relation(model)} where {written_at} = cast(? as timestamp)",
                    [planted],
                )
    for mart, upstreams in MART_WRITTEN_UPSTREAM.items():
        wrong += _prove_mart_key_test(dbt, warehouse, since, mart, upstreams)
    return wrong


def _prove_digest_markers(dbt: Dbt, warehouse: Path, accepted: Accepted) -> list[str]:
    """Through the designed steps up to the customers moving (step 7): after each
    incremental run, the customers whose stored digest carries the run's new marker
    are exactly those whose digest changed (the chain's key tests read them)."""
    import duckdb

    digests = {
        m: relation(ups[0][0])
        for m, ups in MART_WRITTEN_UPSTREAM.items()
        if ups[0][0].startswith("_customer_digests_")
    }
    wrong, changed_somewhere = [], set()
    for step in range(1, 8):
        with duckdb.connect(str(warehouse)) as con:
            before = {
                m: dict(con.execute(f"select customer_id, digest from {d}").fetchall())
                for m, d in digests.items()
            }
            latest = {
                m: con.execute(f"select max(_written_at) from {d}").fetchone()[0]
                for m, d in digests.items()
            }
        accepted.apply(DESIGNED[step])
        accepted.write(warehouse)
        if not dbt.run(warehouse):
            return [f"step {step}: the incremental run failed"]
        with duckdb.connect(str(warehouse)) as con:
            for m in digests:
                rows = con.execute(
                    f"select customer_id, digest, _written_at from {digests[m]}"
                ).fetchall()
                changed = {c for c, digest, _ in rows if before[m].get(c) != digest}
                marked = {c for c, _, written in rows if written > latest[m]}
                if changed != marked:
                    wrong.append(f"step {step}: {m} changed {changed}, marked {marked}")
                changed_somewhere |= {m} if changed else set()
    wrong += [
        f"{m}: no step changed a customer's digest" for m in digests if m not in changed_somewhere
    ]
    return wrong


def _prove_mart_key_test(
    dbt: Dbt, warehouse: Path, since: datetime, mart: str, upstreams: list
) -> list[str]:
    """A duplicate planted in `mart` (no marker column of its own): found with `since` set when
    an upstream row of its key was written after `since` (through each upstream) or
    the mart was built whole after it; passes with `since` otherwise, and fails the
    test of every key."""
    import duckdb

    wrong = []
    after = since + timedelta(seconds=1)
    key = list(upstreams[0][1])
    with duckdb.connect(str(warehouse)) as con:
        planted = con.execute(f"select {', '.join(key)} from {relation(mart)} limit 1").fetchone()
        con.execute(
            f"insert into {relation(mart)} by name select * from {relation(mart)} "
            f"where ({', '.join(key)}) = ({', '.join('?' for _ in key)})",
            list(planted),
        )
    if not dbt.test(warehouse, since.isoformat(sep=" ")):
        wrong.append(f"{mart}: a duplicate of keys written before the tested run failed")
    if dbt.test(warehouse, ""):
        wrong.append(f"{mart}: a duplicate passed the test of every key")
    for upstream, given, condition in upstreams:
        match = " and ".join(f"{expr} = ?" for expr in given.values())
        values = [planted[key.index(column)] for column in given]
        where = f"{match}{f' and {condition}' if condition else ''}"
        with duckdb.connect(str(warehouse)) as con:
            before = con.execute(
                f"select distinct _written_at from {relation(upstream)} where {where}", values
            ).fetchall()
            if len(before) != 1:
                wrong.append(f"{mart}: {upstream} holds {len(before)} markers for {planted}")
                continue
            con.execute(
                f"update {relation(upstream)} set _written_at = ? where {where}", [after, *values]
            )
        if dbt.test(warehouse, since.isoformat(sep=" ")):
            wrong.append(f"{mart}: a duplicate whose {upstream} row was written later passed")
        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                f"update {relation(upstream)} set _written_at = ? where {where}",
                [before[0][0], *values],
            )
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"insert into {WATERMARKS} values (?, ?)", [f"{mart}:built_whole", after])
    if dbt.test(warehouse, since.isoformat(sep=" ")):
        wrong.append(f"{mart}: a duplicate in a mart built whole after the tested run passed")
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"delete from {WATERMARKS} where watermark = ?", [after])
        con.execute(  # the copy planted last
            f"delete from {relation(mart)} where rowid = (select max(rowid) from "
            f"{relation(mart)} where ({', '.join(key)}) = ({', '.join('?' for _ in key)}))",
            list(planted),
        )
    return wrong


def mutate(project: Path, into: Path, changes: list[tuple[str, str, str]]) -> Path:
    """A copy of the dbt project with the changes applied; each text must be there."""
    shutil.copytree(
        project,
        into,
        ignore=shutil.ignore_patterns("target*", "logs", "sqlfluff_libs", "__pycache__"),
    )
    for relative, text, replacement in changes:
        path = into / relative
        source = path.read_text(encoding="utf-8")
        if text not in source:
            raise SystemExit(f"mutant out of date: {relative} no longer contains {text!r}")
        path.write_text(source.replace(text, replacement), encoding="utf-8")
    return into


def reached_models(manifest: dict, changed_files: set[str]) -> tuple[str, ...]:
    """The models under proof that a change of these files (relative to the project)
    reaches: the models in them or calling a macro in them (through other macros too),
    and every model under proof downstream of those."""
    macros = {
        key: node
        for key, node in manifest["macros"].items()
        if node.get("package_name") == manifest["metadata"].get("project_name")
    }
    changed = {key for key, node in macros.items() if node["original_file_path"] in changed_files}
    grew = True
    while grew:  # macros calling a changed macro are changed too
        callers = {
            key for key, node in macros.items() if changed & set(node["depends_on"]["macros"])
        }
        grew = not callers <= changed
        changed |= callers
    models = {key: node for key, node in manifest["nodes"].items() if key.startswith("model.")}
    todo = [
        key
        for key, node in models.items()
        if node["original_file_path"] in changed_files
        or changed & set(node["depends_on"]["macros"])
    ]
    reached: set[str] = set()
    while todo:
        key = todo.pop()
        if key not in reached:
            reached.add(key)
            todo.extend(child for child in manifest["child_map"].get(key, ()) if child in models)
    names = {models[key]["name"] for key in reached}
    return tuple(model for model in MODELS if model in names)


def run_mutants(project: Path, work: Path, only: str = "") -> int:
    """0 when the designed scenario catches every mutant. A mutant changes the
    incremental logic only, so its incremental runs are compared with the full
    refreshes of the unmutated project, built once (half the dbt runs), and build
    only the models under proof its change reaches, with their parents (about half
    the models per run)."""
    expected_dir = work / "expected"
    expected_dir.mkdir()
    try:
        expected = list(full_refresh_rows(DESIGNED, Dbt(project, expected_dir), expected_dir))
    except FullRefreshFailed as exc:
        print(f"unmutated project: {exc}")
        return 2
    manifest = json.loads((expected_dir / "target" / "manifest.json").read_text())
    survivors = []
    for name, changes in MUTANTS.items():
        if only not in name:
            continue
        slug = "".join(c if c.isalnum() else "_" for c in name)
        started = time.monotonic()
        mutant_dir = work / slug
        mutant_dir.mkdir()
        models = reached_models(manifest, {relative for relative, _, _ in changes})
        if not models:
            raise SystemExit(f"mutant {name!r} reaches no model under proof")
        failure = prove(
            DESIGNED,
            Dbt(
                mutate(project, mutant_dir / "project", changes),
                mutant_dir,
                " ".join(f"+{model}" for model in models),
            ),
            mutant_dir,
            expected,
            models,
        )
        if failure is None:
            survivors.append(name)
            print(f"mutant survived: {name}")
        else:
            print(
                f"mutant caught: {name}: {failure.splitlines()[0]} "
                f"({time.monotonic() - started:.0f} s)"
            )
        shutil.rmtree(mutant_dir, ignore_errors=True)
    return 1 if survivors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=None, help="dbt project (default: ours)")
    parser.add_argument(
        "--seeds", type=int, default=3, help="random scenarios after the designed one"
    )
    parser.add_argument(
        "--mutants",
        action="store_true",
        help="instead: every mutant must fail the designed scenario",
    )
    parser.add_argument(
        "--only", default="", help="with --mutants: only the mutants whose name contains this"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="instead: the designed scenario on PostgreSQL"
    )
    parser.add_argument(
        "--key-tests", action="store_true", help="instead: the key tests find planted duplicates"
    )
    parser.add_argument(
        "--spark", action="store_true", help="instead: the designed scenario on Spark"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="instead: the published file equals the marts after every drop",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="with --spark: only the first N drops"
    )
    parser.add_argument(
        "--mutant", default="", help="with --spark: the mutants named like this must be caught"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    from cx_insights.config import DBT_PROJECT_DIR

    project = args.project or Path(DBT_PROJECT_DIR)
    scenarios = [("designed", DESIGNED)] + [
        (f"random {seed}", random_scenario(seed)) for seed in range(args.seeds)
    ]
    with tempfile.TemporaryDirectory(prefix="cx-incremental-proof-") as tmp:
        work = Path(tmp)
        if args.mutants:
            return run_mutants(project, work, args.only)
        if args.postgres:
            return run_postgres(project, work)
        if args.spark:
            return run_spark(project, work, args.steps, args.mutant)
        if args.publish:
            print(f"publish: {prove_publish(Dbt(project, work), work)}")
            return 0
        if args.key_tests:
            wrong = prove_key_tests(Dbt(project, work), work)
            for line in wrong:
                print(f"key tests: {line}")
            if not wrong:
                print(
                    f"key tests: {len(WRITTEN_AT)} models with a marker and "
                    f"{len(MART_WRITTEN_UPSTREAM)} without, planted duplicates found"
                )
            return 1 if wrong else 0
        dbt = Dbt(project, work)
        for name, scenario in scenarios:
            scenario_dir = work / name.replace(" ", "_")
            scenario_dir.mkdir()
            failure = prove(scenario, dbt, scenario_dir)
            if failure:
                print(f"{name} scenario, {failure}")
                return 2 if "failed" in failure.split("\n", 1)[0] else 1
            print(f"{name} scenario: {len(scenario)} steps, incremental == full refresh")
            shutil.rmtree(scenario_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
