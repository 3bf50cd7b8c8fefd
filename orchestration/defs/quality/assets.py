"""The quality gate as assets: `raw.<x>` -> `quarantine.<x>` + `raw.<x>__accepted`.

The accepted tables are what the dbt sources read, so the dbt lineage hangs
off these assets, and their blocking checks stop every model downstream.
"""

import dagster as dg

from cx_insights.contract import ENTITIES, Entity, accepted_table, entity
from cx_insights.quality.gate import GATE_DEPENDENCIES, run_gate
from cx_insights.quality.results import quarantine_sample
from cx_insights.quality.rules import gate_options
from cx_insights.quality.spark_gate import SparkGate
from cx_insights.warehouse import connect, table_exists
from orchestration.defs.ingest.assets import raw_key
from orchestration.resources import CxSettingsResource

QUALITY_GROUP = "quality"


def accepted_key(e: Entity) -> dg.AssetKey:
    return dg.AssetKey(["accepted", e.qualified])


def replicate_entity(con, settings, e: Entity, done: set[tuple[str, str]] = frozenset()):
    """The entity's landed, accepted and quarantined rows from the DuckDB file the
    loader and the gate work in to the PostgreSQL target (with COPY, in one
    transaction) or Spark's folders, but those in `done` (the Spark gate wrote them)."""
    return _replicate(con, settings, wanted_tables(e) - done)


def wanted_tables(e: Entity) -> set[tuple[str, str]]:
    return {("raw", e.qualified), ("raw", accepted_table(e)), ("quarantine", e.qualified)}


def _replicate(con, settings, wanted: set[tuple[str, str]]) -> dict[str, int]:
    """Copy the landing tables in `wanted` to the target (nothing on DuckDB)."""
    from cx_insights.target import write_target_tables

    if settings.target == "duckdb":
        return {}
    return write_target_tables(settings, con, [t for t in sorted(wanted) if table_exists(con, *t)])


def _gate_asset(e: Entity) -> dg.AssetsDefinition:
    deps = [raw_key(e)] + [accepted_key(entity(d)) for d in GATE_DEPENDENCIES.get(e.qualified, ())]

    @dg.asset(
        key=accepted_key(e),
        deps=deps,
        group_name=QUALITY_GROUP,
        kinds={"duckdb", "great_expectations"},
        description=(
            f"`raw.{accepted_table(e)}`: the landed rows of {e.qualified} that pass every "
            "contract rule, typed, latest accepted row per key. Rejected rows go to "
            f"`quarantine.{e.qualified}` with `_rule` and `_reason`."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, cx: CxSettingsResource) -> dg.MaterializeResult:
        settings = cx.settings()
        on_spark = SparkGate.for_settings(settings) if settings.target == "spark" else None
        with connect(settings.warehouse) as con:
            result = run_gate(con, e, gate_options(settings), spark=on_spark)
            sample = quarantine_sample(con, e)
            copied = replicate_entity(con, settings, e, on_spark.written if on_spark else set())
        if copied:
            context.log.info(f"{e.qualified}: copied to {settings.target} {copied}")
        engine = "spark" if on_spark and not result.skipped else "duckdb"
        context.log.info(f"{e.qualified}: {result.mode} gate on {engine} ({result.plan_reason})")
        if result.rows_quarantined:
            context.log.warning(
                f"{e.qualified}: {result.rows_rejected} of {result.rows_landed} rows rejected, "
                f"{result.rows_waiting} waiting: {result.by_rule}"
            )
        return dg.MaterializeResult(
            metadata={
                "rows_landed": result.rows_landed,
                "rows_accepted": result.rows_accepted,
                "rows_quarantined": result.rows_quarantined,
                "rows_rejected": result.rows_rejected,
                "rows_waiting": result.rows_waiting,
                "rows_current": result.rows_current,
                "reject_rate": round(result.reject_rate, 6),
                "quarantined_by_rule": dg.MetadataValue.json(result.by_rule),
                "quarantine_sample": dg.MetadataValue.json(sample),
                "unchanged_input": result.skipped,
                "gate_mode": result.mode,
                "gate_engine": engine,
                "gate_plan": result.plan_reason,
                "rows_checked": result.rows_checked,
            }
        )

    return _asset


WAITING_ROWS_KEY = dg.AssetKey(["accepted", "quality__waiting_rows"])


@dg.asset(
    key=WAITING_ROWS_KEY,
    deps=[accepted_key(e) for e in ENTITIES],
    group_name=QUALITY_GROUP,
    kinds={"duckdb"},
    description=(
        "`raw._gate_waiting`: quarantined rows that wait for another entity, counted per "
        "entity, month and rule, once every gate has run (dbt source quality.waiting_rows). "
        "On PostgreSQL and Spark, copied to the target here."
    ),
)
def gate_waiting_rows(
    context: dg.AssetExecutionContext, cx: CxSettingsResource
) -> dg.MaterializeResult:
    settings = cx.settings()
    with connect(settings.warehouse) as con:
        if not table_exists(con, "raw", "_gate_waiting"):  # no gate has run yet
            return dg.MaterializeResult(metadata={"rows_waiting": 0})
        rows = con.execute("select coalesce(sum(rows), 0) from raw._gate_waiting").fetchone()[0]
        _replicate(con, settings, {("raw", "_gate_waiting")})
    return dg.MaterializeResult(metadata={"rows_waiting": int(rows)})


gate_assets = [*(_gate_asset(e) for e in ENTITIES), gate_waiting_rows]
