"""Run a Great Expectations 1.x suite on a DuckDB table, in bounded chunks.

GX's SQL data source returns empty metrics on DuckDB (it closes the
connection before fetching), so the rows go through GX's pandas data source,
one Arrow batch of at most `chunk_rows` rows at a time: memory stays bounded
whatever the table's size. Each chunk runs the suite through a
`ValidationDefinition`; results are summed over the chunks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cache

import duckdb

from cx_insights.contract import accepted_table, entity
from expectations import crm, feedback, framework, tickets, web

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

CHUNK_ROWS = 1_000_000

#: The query whose rows a suite validates, when it is not the accepted table itself.
VALIDATION_QUERIES: dict[str, str] = {
    "feedback__answers": """
        select answer.*, question.metric as question_metric,
               question.scale_min, question.scale_max
        from raw.feedback__answers__accepted as answer
        left join raw.feedback__questions__accepted as question
            on question.question_id = answer.question_id
    """,
}


def all_suites() -> dict:
    found: dict = {}
    for module in (framework, crm, feedback, web, tickets):
        found.update(module.suites())
    return found


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str
    success: bool = True
    unexpected_count: int = 0
    sample: list[str] = field(default_factory=list)


@dataclass
class SuiteOutcome:
    suite: str
    rows: int = 0
    chunks: int = 0
    expectations: dict[str, ExpectationOutcome] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(x.success for x in self.expectations.values())

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [x for x in self.expectations.values() if not x.success]


def _describe(config) -> tuple[str, str]:
    kwargs = config.kwargs
    column = (
        kwargs.get("column")
        or kwargs.get("column_list")
        or (f"{kwargs.get('column_A')} vs {kwargs.get('column_B')}")
    )
    return config.type, str(column)


@cache
def _context():
    """One ephemeral GX context per process (each new one creates a temp docs site)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("cx_accepted")
    return context


@cache
def _definition(qualified: str):
    import great_expectations as gx

    context = _context()
    asset = context.data_sources.get("cx_accepted").add_dataframe_asset(qualified)
    batch = asset.add_batch_definition_whole_dataframe("chunk")
    suite = context.suites.add(all_suites()[qualified])
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{qualified}_accepted", data=batch, suite=suite)
    )


def validate(
    con: duckdb.DuckDBPyConnection, qualified: str, chunk_rows: int = CHUNK_ROWS
) -> SuiteOutcome:
    """Validate the accepted rows of one entity with its suite."""
    definition = _definition(qualified)
    query = VALIDATION_QUERIES.get(qualified) or (
        f"select * from raw.{accepted_table(entity(qualified))}"
    )
    outcome = SuiteOutcome(qualified)
    reader = con.execute(query).fetch_record_batch(chunk_rows)
    for record_batch in reader:
        frame = record_batch.to_pandas()
        if frame.empty:
            continue
        outcome.rows += len(frame)
        outcome.chunks += 1
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        for r in result.results:
            kind, column = _describe(r.expectation_config)
            key = f"{kind}({column})"
            agg = outcome.expectations.setdefault(key, ExpectationOutcome(kind, column))
            agg.success = agg.success and bool(r.success)
            agg.unexpected_count += int(r.result.get("unexpected_count") or 0)
            if not r.success and len(agg.sample) < 5:
                agg.sample += [str(v) for v in (r.result.get("partial_unexpected_list") or [])][:5]
    if outcome.chunks == 0:
        # An empty table still gets its expectations listed (all vacuously true).
        for exp in definition.suite.expectations:
            kind, column = _describe(exp.configuration)
            outcome.expectations[f"{kind}({column})"] = ExpectationOutcome(kind, column)
    return outcome
