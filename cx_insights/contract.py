"""The landing contract (../shared/spec/landing-contract.md) as data.

This module is the single source of truth for every landing entity: its
columns, their types, which are required, the primary key and the row rules.
Ingestion reads it to know what to load, the quality gate derives its SQL
predicates and its Great Expectations suites from it, the generator writes to
it, and the tests plant violations of it.
"""

from __future__ import annotations

from cx_insights.contract_schema import (
    Entity,
    RowRule,
    expect,
)
from cx_insights.contract_schema import col as _c
from cx_insights.contract_schema import ended_after_started as _ended_after_started

#: SQL type of each contract type in the accepted (typed) tables.
SQL_TYPES: dict[str, str] = {
    "text": "varchar",
    "int": "bigint",
    "decimal": "decimal(38, 9)",
    "timestamp": "timestamp",
    "date": "date",
    "bool": "boolean",
}

#: Every metric name of kpis.md (an initiative's `target_metric` is one of them).
KPI_METRICS: tuple[str, ...] = (
    "nps",
    "csat",
    "ces",
    "active_customers_start",
    "active_customers_end",
    "new_customers",
    "lost_customers",
    "churn_rate",
    "mrr_start",
    "mrr_end",
    "revenue_churn_rate",
    "revenue",
    "tickets_created",
    "avg_resolution_hours",
    "median_first_response_minutes",
    "sessions",
    "conversion_rate",
    "bounce_rate",
    "cart_abandonment_rate",
)


CHANNELS_TICKET = ("email", "chat", "phone", "web", "social")

ENTITIES: tuple[Entity, ...] = (
    # --- framework -------------------------------------------------------
    Entity(
        "framework",
        "fx_rates",
        (
            _c(
                "rate_date",
                "date",
                req=True,
                doc="Date the rate applies from (part of the primary key).",
            ),
            _c("currency", req=True, doc="ISO 4217 currency (part of the primary key)."),
            _c("rate_to_reporting", "decimal", req=True, doc="Rate (> 0)."),
        ),
        key=("rate_date", "currency"),
        description="1 unit of `currency` = `rate_to_reporting` units of the reporting currency.",
        rules=(
            RowRule(
                "fx_rate_positive",
                "{t.rate_to_reporting} <= 0",
                "'rate_to_reporting ' || {landed.rate_to_reporting} || ' is not > 0'",
                description="a rate is positive",
                expectations=(
                    expect(
                        "ExpectColumnValuesToBeBetween",
                        column="rate_to_reporting",
                        min_value=0,
                        strict_min=True,
                    ),
                ),
            ),
        ),
    ),
    Entity(
        "framework",
        "journeys",
        (
            _c("journey_id", req=True, doc="Primary key."),
            _c("journey_name", req=True, doc="Name of the journey."),
            _c("stage_order", "int", doc="Position of the journey in the lifecycle."),
        ),
        key=("journey_id",),
        description="One customer journey.",
    ),
    Entity(
        "framework",
        "jobs",
        (
            _c("job_id", req=True, doc="Primary key."),
            _c("journey_id", req=True, doc="The journey the job belongs to."),
            _c("job_statement", req=True, doc="The job to be done."),
        ),
        key=("job_id",),
        description="One job to be done, inside a journey.",
    ),
    Entity(
        "framework",
        "touchpoints",
        (
            _c("touchpoint_id", req=True, doc="Primary key."),
            _c("job_id", req=True, doc="The job the touchpoint serves."),
            _c("touchpoint_name", req=True, doc="Name of the touchpoint."),
            _c("channel", doc="Channel of the touchpoint."),
            _c("is_controllable", "bool", doc="Whether the company controls the touchpoint."),
        ),
        key=("touchpoint_id",),
        description="One touchpoint, serving one job.",
    ),
    Entity(
        "framework",
        "touchpoint_rules",
        (
            _c("rule_id", req=True, doc="Primary key."),
            _c("source", req=True, enum=("web", "tickets"), doc="web or tickets."),
            _c(
                "match_column",
                req=True,
                enum=("page_path", "category"),
                doc="page_path or category.",
            ),
            _c("pattern", req=True, doc="SQL LIKE pattern."),
            _c("touchpoint_id", req=True, doc="Touchpoint assigned on a match."),
            _c("priority", "int", doc="Lower wins; nulls last."),
        ),
        key=("rule_id",),
        description="Maps web page paths and ticket categories to touchpoints.",
    ),
    Entity(
        "framework",
        "initiatives",
        (
            _c("initiative_id", req=True, doc="Primary key."),
            _c("name", req=True, doc="Name of the initiative."),
            _c("owner", req=True, doc="Owner of the initiative."),
            _c("touchpoint_id", doc="Touchpoint targeted (or journey_id)."),
            _c("journey_id", doc="Journey targeted (or touchpoint_id)."),
            _c("started_at", "timestamp", req=True, doc="Start instant (UTC)."),
            _c("ended_at", "timestamp", doc="End instant (UTC)."),
            _c("cost", "decimal", doc="Cost in `currency`."),
            _c("currency", doc="ISO 4217 currency of cost."),
            _c("target_metric", enum=KPI_METRICS, doc="A metric name of kpis.md."),
            _c("target_value", "decimal", doc="Target value of that metric."),
        ),
        key=("initiative_id",),
        description="One CX initiative on a touchpoint or a journey.",
        money_column="cost",
        money_date_column="started_at",
        rules=(
            RowRule(
                "initiative_one_target",
                "({t.touchpoint_id} is null) = ({t.journey_id} is null)",
                "'an initiative targets exactly one of touchpoint_id or journey_id'",
                description="an initiative targets a touchpoint or a journey, not both",
            ),
            _ended_after_started(),
        ),
    ),
    # --- crm ---------------------------------------------------------------
    Entity(
        "crm",
        "customers",
        (
            _c("customer_id", req=True, doc="Primary key."),
            _c(
                "email",
                pii=True,
                pseudonymise=True,
                doc="E-mail address (PII, never read by a model).",
            ),
            _c("full_name", pii=True, doc="Full name (PII, dropped in staging)."),
            _c("signed_up_at", "timestamp", req=True, doc="Sign-up instant (UTC)."),
            _c("country_code", doc="ISO 3166-1 alpha-2 country."),
            _c("segment", doc="Current segment (consumer, smb, enterprise, ...)."),
            _c("age_band", doc="Age band."),
            _c("acquisition_channel", doc="Channel the customer was acquired through."),
        ),
        key=("customer_id",),
        description="One customer. email and full_name are PII and stay in raw.",
    ),
    Entity(
        "crm",
        "subscriptions",
        (
            _c("subscription_id", req=True, doc="Primary key."),
            _c("customer_id", req=True, doc="The subscriber."),
            _c("plan", doc="Plan name."),
            _c("mrr", "decimal", req=True, doc="Monthly recurring revenue (>= 0) in `currency`."),
            _c("currency", req=True, doc="ISO 4217 currency of mrr."),
            _c("started_at", "timestamp", req=True, doc="Start instant (UTC)."),
            _c("ended_at", "timestamp", doc="End instant (UTC); null while active."),
        ),
        key=("subscription_id",),
        description="One subscription, with its monthly recurring revenue.",
        rules=(
            RowRule(
                "mrr_non_negative",
                "{t.mrr} < 0",
                "'mrr ' || {landed.mrr} || ' is negative'",
                description="mrr >= 0",
                expectations=(expect("ExpectColumnValuesToBeBetween", column="mrr", min_value=0),),
            ),
            _ended_after_started(),
        ),
    ),
    Entity(
        "crm",
        "invoices",
        (
            _c("invoice_id", req=True, doc="Primary key."),
            _c("customer_id", req=True, doc="The customer invoiced."),
            _c("issued_at", "timestamp", req=True, doc="Issue instant (UTC)."),
            _c("amount", "decimal", req=True, doc="Amount in `currency` (negative = credit note)."),
            _c("currency", req=True, doc="ISO 4217 currency of amount."),
            _c("status", req=True, enum=("paid", "open", "void"), doc="paid, open or void."),
        ),
        key=("invoice_id",),
        description="One invoice or credit note.",
        money_column="amount",
        money_date_column="issued_at",
    ),
    # --- feedback ----------------------------------------------------------
    Entity(
        "feedback",
        "questions",
        (
            _c("question_id", req=True, doc="Primary key."),
            _c("survey_id", req=True, doc="The survey the question belongs to."),
            _c(
                "metric",
                req=True,
                enum=("nps", "csat", "ces", "driver", "verbatim"),
                doc="nps, csat, ces, driver or verbatim.",
            ),
            _c("driver", doc="The experience element a driver question rates."),
            _c("scale_min", "int", doc="Lowest answer value (null for verbatims)."),
            _c("scale_max", "int", doc="Highest answer value (null for verbatims)."),
            _c("question_text", doc="Wording of the question."),
        ),
        key=("question_id",),
        description="Survey questions and their answer scale.",
        rules=(
            RowRule(
                "scale_required",
                "{t.metric} <> 'verbatim' and ({t.scale_min} is null or {t.scale_max} is null)",
                "'a ' || {t.metric} || ' question needs scale_min and scale_max'",
                description="every question but a verbatim one has scale_min and scale_max",
            ),
            RowRule(
                "nps_scale_0_10",
                "{t.metric} = 'nps' and ({t.scale_min} <> 0 or {t.scale_max} <> 10)",
                "'an NPS question has scale 0..10, not ' || {t.scale_min} || '..' || {t.scale_max}",
                description="an NPS question has scale 0..10",
            ),
            RowRule(
                "scale_ordered",
                "{t.metric} <> 'verbatim' and {t.scale_min} >= {t.scale_max}",
                "'scale_min ' || {t.scale_min} || ' is not below scale_max ' || {t.scale_max}",
                description="scale_min < scale_max",
                expectations=(
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="scale_max",
                        column_B="scale_min",
                        or_equal=False,
                        ignore_row_if="either_value_is_missing",
                    ),
                ),
            ),
        ),
    ),
    Entity(
        "feedback",
        "responses",
        (
            _c("response_id", req=True, doc="Primary key."),
            _c("survey_id", req=True, doc="The survey answered."),
            _c("customer_id", doc="The respondent (null = anonymous)."),
            _c("touchpoint_id", doc="The touchpoint surveyed (null = relational survey)."),
            _c("channel", doc="Channel the survey was answered on."),
            _c("submitted_at", "timestamp", req=True, doc="Submission instant (UTC)."),
        ),
        key=("response_id",),
        description="One submitted survey.",
    ),
    Entity(
        "feedback",
        "answers",
        (
            _c("response_id", req=True, doc="The response (part of the primary key)."),
            _c("question_id", req=True, doc="The question (part of the primary key)."),
            _c("value_number", "decimal", doc="Numeric answer, within the question's scale."),
            _c("value_text", doc="Free-text answer (PII possible; masked in staging)."),
        ),
        key=("response_id", "question_id"),
        description="One answer of a response to a question.",
        rules=(
            RowRule(
                "answer_question_exists",
                "{ctx.question_metric} is null",
                "'question ' || {t.question_id} || ' does not exist (or was rejected)'",
                description="the answer's question exists",
                expectations=(expect("ExpectColumnValuesToNotBeNull", column="question_metric"),),
            ),
            RowRule(
                "answer_response_exists",
                "not {ctx.response_exists}",
                "'response ' || {t.response_id} || ' has not arrived (the answer waits here "
                "and is released when it does)'",
                kind="waiting",
                description="the answer's response has arrived",
            ),
            RowRule(
                "answer_has_value",
                "({ctx.question_metric} = 'verbatim' and {t.value_text} is null) or "
                "({ctx.question_metric} <> 'verbatim' and {t.value_number} is null)",
                "case when {ctx.question_metric} = 'verbatim' then 'a verbatim answer needs "
                "value_text' else 'a ' || {ctx.question_metric} "
                "|| ' answer needs value_number' end",
                description="a verbatim answer has value_text, any other value_number",
            ),
            RowRule(
                "answer_within_scale",
                "{ctx.question_metric} <> 'verbatim' and ({t.value_number} < "
                "{ctx.question_scale_min} or {t.value_number} > {ctx.question_scale_max})",
                "'value ' || {t.value_number} || ' is outside the scale ' || "
                "{ctx.question_scale_min} || '..' || {ctx.question_scale_max} || ' of question ' "
                "|| {t.question_id}",
                description="a numeric answer lies within its question's scale",
                expectations=(
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="value_number",
                        column_B="scale_min",
                        or_equal=True,
                        ignore_row_if="either_value_is_missing",
                    ),
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="scale_max",
                        column_B="value_number",
                        or_equal=True,
                        ignore_row_if="either_value_is_missing",
                    ),
                ),
            ),
        ),
    ),
    # --- web ---------------------------------------------------------------
    Entity(
        "web",
        "events",
        (
            _c("event_id", req=True, doc="Primary key."),
            _c("anonymous_id", req=True, doc="Browser / device identifier."),
            _c("customer_id", doc="The logged-in customer, if known."),
            _c("session_id", doc="Session given by the tracker (null = sessionise)."),
            _c("occurred_at", "timestamp", req=True, doc="Event instant (UTC)."),
            _c(
                "event_name",
                req=True,
                doc="page_view, add_to_cart, begin_checkout, purchase, sign_up, ...",
            ),
            _c("page_path", doc="Path of the page the event happened on."),
            _c("revenue", "decimal", doc="Revenue of the event in `currency`."),
            _c("currency", doc="ISO 4217 currency of revenue."),
        ),
        key=("event_id",),
        description="One web analytics event.",
        money_column="revenue",
        money_date_column="occurred_at",
    ),
    # --- tickets -----------------------------------------------------------
    Entity(
        "tickets",
        "tickets",
        (
            _c("ticket_id", req=True, doc="Primary key."),
            _c("customer_id", doc="The customer who raised it, if known."),
            _c("created_at", "timestamp", req=True, doc="Creation instant (UTC)."),
            _c("channel", enum=CHANNELS_TICKET, doc="email, chat, phone, web or social."),
            _c("category", doc="Category, matched by touchpoint_rules."),
            _c(
                "priority",
                enum=("low", "normal", "high", "urgent"),
                doc="low, normal, high or urgent.",
            ),
            _c(
                "status",
                req=True,
                enum=("new", "open", "pending", "solved", "closed"),
                doc="new, open, pending, solved or closed.",
            ),
            _c("first_response_at", "timestamp", doc="First agent response (UTC)."),
            _c("solved_at", "timestamp", doc="Solution instant (UTC)."),
            _c("touchpoint_id", doc="Explicit touchpoint (wins over the rules)."),
            _c("agent_id", doc="Assigned agent."),
            _c("satisfaction", enum=("good", "bad"), doc="good or bad."),
        ),
        key=("ticket_id",),
        description="One support ticket in its latest accepted state.",
        rules=(
            _ended_after_started("first_response_at", "created_at"),
            _ended_after_started("solved_at", "created_at"),
        ),
    ),
)

#: What each source holds (the generated dbt sources' description).
SOURCE_DOCS: dict[str, str] = {
    "crm": "Customers, subscriptions and invoices, as accepted by the quality gate.",
    "web": "Web analytics events (GA4 event names), as accepted by the quality gate.",
    "feedback": (
        "Surveys (NPS, CSAT, CES, driver ratings, verbatims), as accepted by the quality "
        "gate: one row per primary key, the latest accepted landed row, typed as the landing "
        "contract says. Bad rows are in `quarantine`."
    ),
    "framework": (
        "The CX Insights Framework (journeys, jobs, touchpoints, rules, initiatives) and fx "
        "rates, maintained by the CX team, as accepted by the quality gate. Reference data: "
        "no freshness expectation."
    ),
    "tickets": "Support desk tickets, as accepted by the quality gate.",
}

#: Sources that are reference data maintained by the CX team: no freshness expectation.
REFERENCE_SOURCES: frozenset[str] = frozenset({"framework"})

ENTITY_BY_QUALIFIED: dict[str, Entity] = {e.qualified: e for e in ENTITIES}
SOURCES: tuple[str, ...] = tuple(dict.fromkeys(e.source for e in ENTITIES))

#: The money column of each entity whose rows carry an amount measured at one
#: date (`money_date_column`): such a row waits in quarantine until its currency
#: has a rate on or before that date. Subscriptions are not here: their MRR is
#: measured at every month instant of kpis.md, so a missing rate there adds no
#: MRR at that instant (reported as an FX gap) and never holds the row back.
MONEY_COLUMN: dict[str, str] = {e.qualified: e.money_column for e in ENTITIES if e.money_column}

#: Rules whose rows are valid but wait for what another entity must bring (an
#: answer's response, a rate for an amount's currency). They are released by the
#: run in which it arrives, mark their months incomplete, and never count toward
#: the reject rate. Every other rule rejects the row.
WAITING_RULES: frozenset[str] = frozenset(
    r.name for e in ENTITIES for r in e.row_rules if r.kind == "waiting"
)

#: Timestamps of things that happened: one after the run date (plus a day) is a
#: typo or a placeholder, not data. Scheduled instants (a subscription's or an
#: initiative's `ended_at`, an initiative's `started_at`) may lie in the future.
OBSERVED_AT_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm__customers": ("signed_up_at",),
    "crm__subscriptions": ("started_at",),
    "crm__invoices": ("issued_at",),
    "feedback__responses": ("submitted_at",),
    "web__events": ("occurred_at",),
    "tickets__tickets": ("created_at", "first_response_at", "solved_at"),
}

#: Lineage columns every raw, quarantine and accepted row carries.
LINEAGE_COLUMNS: tuple[str, ...] = ("_source_file", "_source_line", "_loaded_at")

#: File extensions the loader reads, by format.
FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


def entity(qualified: str) -> Entity:
    try:
        return ENTITY_BY_QUALIFIED[qualified]
    except KeyError:
        known = ", ".join(sorted(ENTITY_BY_QUALIFIED))
        raise KeyError(f"unknown entity {qualified!r}; known: {known}") from None


def accepted_table(e: Entity) -> str:
    """Name, in schema `raw`, of the typed table of latest accepted rows per key.

    It is what the dbt sources read: one row per primary key, the latest
    accepted landed row (file modification time, then file name, then line).
    """
    return f"{e.qualified}__accepted"


def accepted_table_ddl(e: Entity, schema: str = "raw") -> str:
    cols = [f"{c.name} {SQL_TYPES[c.type]}" for c in e.columns]
    # `_gated_at`: when the gate accepted the row (microseconds). Rows gated since
    # a point in time are what incremental consumers (the GX suite, dbt's
    # incremental models) process.
    cols += [f"{c.name}_hash varchar" for c in e.columns if c.pseudonymise]
    cols += [
        "_source_file varchar",
        "_source_line bigint",
        "_loaded_at timestamp",
        "_gated_at timestamp",
    ]
    return f"create table if not exists {schema}.{accepted_table(e)} ({', '.join(cols)})"
