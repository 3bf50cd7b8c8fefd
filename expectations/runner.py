"""Run a Great Expectations 1.x suite on a DuckDB table in bounded chunks, or on Spark.

GX's SQL data source returns empty metrics on DuckDB (it closes the
connection before fetching), so the rows go through GX's pandas data source,
one Arrow batch of at most `chunk_rows` rows at a time: memory stays bounded
whatever the table's size. Each chunk runs the suite through a
`ValidationDefinition`; results are summed over the chunks.

On the Spark target, `validate_on_spark` runs the same suites through GX's
Spark data source on the Parquet folders Spark reads (the rows are not
collected: GX computes every metric as a Spark aggregate).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

import duckdb

from cx_insights.contract import accepted_table, entity
from cx_insights.warehouse import quote_ident

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
        where answer._gated_at > ?
    """,
}


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
    #: Only rows gated after this time were validated (None: every row).
    since: datetime | None = None
    #: The newest `_gated_at` among the rows validated.
    through: datetime | None = None
    #: Where GX computed the metrics: "pandas" (chunks read from DuckDB) or "spark".
    engine: str = "pandas"
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
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch below this many bytes (an MD5 over
    # pandas' hash of every value, kept as a batch marker that nothing here
    # reads): a quarter of the time of validating a chunk of answers. Off.
    pandas_execution_engine.HASH_THRESHOLD = 0
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("cx_accepted")
    return context


@cache
def _definition(qualified: str):
    # Imported here: GX takes ~10 s to import, which every CLI command and the
    # Dagster definitions would otherwise pay before doing anything.
    import great_expectations as gx

    context = _context()
    asset = context.data_sources.get("cx_accepted").add_dataframe_asset(qualified)
    batch = asset.add_batch_definition_whole_dataframe("chunk")
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{qualified}_accepted", data=batch, suite=_suite(qualified))
    )


@cache
def _spark_source():
    """GX's Spark data source, added once per process (beside the pandas one)."""
    return _context().data_sources.add_spark("cx_accepted_spark")


@cache
def _suite(qualified: str):
    """The entity's suite, added to the context once and shared by its pandas and Spark
    definitions (adding it again would leave the other definition's copy stale, which
    GX refuses to run)."""
    from expectations._builder import all_suites

    return _context().suites.add(all_suites()[qualified])


def _suite_columns(suite) -> list[str]:
    found: set[str] = set()
    for x in suite.expectations:
        kwargs = x.configuration.kwargs
        found.update(kwargs.get("column_list") or [])
        found.update(kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k))
    return sorted(found)


def validate(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    chunk_rows: int = CHUNK_ROWS,
    since: datetime | None = None,
) -> SuiteOutcome:
    """Validate the accepted rows of one entity gated after `since` (all rows if None)."""
    definition = _definition(qualified)
    table = f"raw.{accepted_table(entity(qualified))}"
    base = VALIDATION_QUERIES.get(qualified) or f"select * from {table} where _gated_at > ?"
    # Only the columns the expectations read travel to pandas (3x less time
    # converting than the whole row).
    columns = ", ".join(quote_ident(c) for c in _suite_columns(definition.suite))
    query = f"select {columns} from ({base}) as validated"
    floor = since or datetime(1, 1, 1)
    outcome = SuiteOutcome(qualified, since=since)
    outcome.through = con.execute(
        f"select max(_gated_at) from {table} where _gated_at > ?", [floor]
    ).fetchone()[0]
    reader = con.execute(query, [floor]).fetch_record_batch(chunk_rows)
    try:
        for record_batch in reader:
            frame = record_batch.to_pandas()
            if frame.empty:
                continue
            outcome.rows += len(frame)
            outcome.chunks += 1
            result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
            _add(outcome, result)
    finally:
        _forget_batches()
    return _listed(outcome, definition)


def _forget_batches() -> None:
    """Drop the chunks GX's pandas engine keeps. Its batch caches hold the last chunk
    of every asset it validated for the life of the process (measured at 100 k
    customers: 14 frames, 165 MB, still held when the run's dbt step started); the
    results are read already, so nothing needs them."""
    manager = _context().data_sources.get("cx_accepted").get_execution_engine().batch_manager
    manager.reset_batch_cache()
    manager.batch_data_cache.clear()


def _add(outcome: SuiteOutcome, result) -> None:
    """Add one validation result (of a chunk, or of the whole Spark DataFrame)."""
    for r in result.results:
        kind, column = _describe(r.expectation_config)
        key = f"{kind}({column})"
        agg = outcome.expectations.setdefault(key, ExpectationOutcome(kind, column))
        agg.success = agg.success and bool(r.success)
        agg.unexpected_count += int(r.result.get("unexpected_count") or 0)
        if not r.success and len(agg.sample) < 5:
            agg.sample += [str(v) for v in (r.result.get("partial_unexpected_list") or [])][:5]


def _listed(outcome: SuiteOutcome, definition) -> SuiteOutcome:
    if outcome.chunks == 0:
        # An empty table still gets its expectations listed (all vacuously true).
        for exp in definition.suite.expectations:
            kind, column = _describe(exp.configuration)
            outcome.expectations[f"{kind}({column})"] = ExpectationOutcome(kind, column)
    return outcome


@cache
def _spark_definition(qualified: str):
    """The suite on GX's Spark data source (one per process, beside the pandas one)."""
    import great_expectations as gx

    context = _context()
    asset = _spark_source().add_dataframe_asset(qualified)
    batch = asset.add_batch_definition_whole_dataframe("accepted")
    return context.validation_definitions.add(
        gx.ValidationDefinition(
            name=f"{qualified}_accepted_spark", data=batch, suite=_suite(qualified)
        )
    )


def validate_on_spark(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    session,
    folder_of: Callable[[str], str],
    since: datetime | None = None,
) -> SuiteOutcome:
    """Validate, through GX's Spark data source, the accepted rows of one entity gated
    after `since`, as the Spark target holds them (the Parquet folders the gate handed
    over: `folder_of(table)`). The rows stay on Spark's executors: GX computes each
    metric as a Spark aggregate, and only counts and a few unexpected values reach
    this process. `con` (DuckDB) gives the newest `_gated_at`, as for `validate`."""
    definition = _spark_definition(qualified)
    table = accepted_table(entity(qualified))
    query = VALIDATION_QUERIES.get(qualified) or f"select * from raw.{table} where _gated_at > ?"
    for name in _RAW_TABLE.findall(query):
        query = query.replace(f"raw.{name}", f"parquet.`{folder_of(name)}`")
    columns = ", ".join(f"`{c}`" for c in _suite_columns(definition.suite))
    floor = since or datetime(1, 1, 1)
    outcome = SuiteOutcome(qualified, since=since, engine="spark")
    outcome.through = con.execute(
        f"select max(_gated_at) from raw.{table} where _gated_at > ?", [floor]
    ).fetchone()[0]
    if outcome.through is not None:
        frame = session.sql(f"select {columns} from ({query}) as validated", args=[floor])
        outcome.rows = frame.count()
        outcome.chunks = 1
        _add(
            outcome, definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        )
    return _listed(outcome, definition)


#: A `raw.<table>` a validation query reads.
_RAW_TABLE = re.compile(r"\braw\.(\w+)")


STATE_DDL = """
create table if not exists raw._gx_state (
    entity varchar primary key,
    suite_hash varchar not null,
    validated_through timestamp not null,
    validated_at timestamp not null
)
"""


def suite_hash(qualified: str) -> str:
    """Changes when the suite's expectations change: then every row is validated again."""
    suite = _definition(qualified).suite
    # Type and arguments only: GX gives each expectation a new random id per context.
    configs = [
        json.dumps({"type": x.configuration.type, "kwargs": x.configuration.kwargs}, default=str)
        for x in suite.expectations
    ]
    return hashlib.sha256(json.dumps(sorted(configs)).encode()).hexdigest()


def validate_new_rows(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    spark: tuple[object, Callable[[str], str]] | None = None,
) -> SuiteOutcome:
    """Validate the rows gated since the entity's last successful validation.

    Every accepted row carries `_gated_at`; a row once validated is not read
    again (the gate gives a re-gated row a new `_gated_at`). A failed
    validation does not move the mark, so the same rows are validated again
    on the next run.
    """
    con.execute(STATE_DDL)
    digest = suite_hash(qualified)
    row = con.execute(
        "select validated_through from raw._gx_state where entity = ? and suite_hash = ?",
        [qualified, digest],
    ).fetchone()
    since = row[0] if row else None
    if spark is None:
        outcome = validate(con, qualified, since=since)
    else:
        outcome = validate_on_spark(con, qualified, *spark, since=since)
    if outcome.success and outcome.through is not None:
        con.execute(
            "insert or replace into raw._gx_state values (?, ?, ?, ?)",
            [qualified, digest, outcome.through, datetime.now(UTC).replace(tzinfo=None)],
        )
    return outcome
