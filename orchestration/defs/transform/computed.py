"""The statistics of cx_insights.insights.computed as Dagster assets, on targets
where dbt runs no Python models (PostgreSQL, Spark).

Each asset copies the tables it reads from the target into an in-memory DuckDB
(exact types), runs the same function the dbt Python model runs on DuckDB, and
writes its table back (PostgreSQL: schema `intermediate`, with COPY; Spark: a
Parquet folder dbt reads in place, cx_insights.spark), under the key the
dbt source `computed` maps to: dbt's models run before and after it in one
lineage graph (Dagster splits the dbt step around it).
"""

import dagster as dg
import duckdb

from cx_insights.insights.computed import COMPUTED, Computed
from cx_insights.insights.frames import untyped_as_text
from cx_insights.target import fetch_target_tables, write_target_tables
from cx_insights.warehouse import memory_limit, quote_ident, sql_literal
from orchestration.defs.transform.assets import INSIGHTS_TAG
from orchestration.resources import CxSettingsResource


def _computed_asset(c: Computed, target: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["intermediate", c.name]),
        deps=[dg.AssetKey(list(source)) for source in c.inputs.values()],
        group_name="intermediate",
        kinds={"python", target},
        tags={INSIGHTS_TAG: "true"},
        description=(c.function.__doc__ or f"cx_insights.insights.computed.{c.function.__name__}"),
    )
    def _asset(context: dg.AssetExecutionContext, cx: CxSettingsResource) -> dg.MaterializeResult:
        rows = run_computed(cx.settings(), c)
        context.log.info(f"{c.name}: {rows} rows written to {target}")
        return dg.MaterializeResult(metadata={"rows": rows})

    return _asset


def run_computed(settings, c: Computed) -> int:
    """Read the inputs from the target, compute, write intermediate.<name> back."""
    with duckdb.connect() as duck:
        duck.execute("set TimeZone = 'UTC'")
        duck.execute(f"set memory_limit = {sql_literal(memory_limit())}")
        for schema in sorted({schema for schema, _ in c.inputs.values()}):
            names = sorted({t for s, t in c.inputs.values() if s == schema})
            fetched = fetch_target_tables(settings, duck, schema, names)
            if missing := sorted(set(names) - set(fetched)):
                raise RuntimeError(
                    f"{c.name}: the {settings.target} target has no {schema}.{missing[0]} yet"
                )
        relations = {
            argument: duck.table(f"{quote_ident(schema)}.{quote_ident(table)}")
            for argument, (schema, table) in c.inputs.items()
        }
        duck.register("computed_frame", untyped_as_text(c.function(**relations)))
        duck.execute("create schema if not exists intermediate")
        duck.execute(
            f"create or replace table intermediate.{quote_ident(c.name)} "
            "as select * from computed_frame"
        )
        written = write_target_tables(settings, duck, [("intermediate", c.name)])
    return written[f"intermediate.{c.name}"]


def computed_assets(target: str) -> list[dg.AssetsDefinition]:
    """The assets, on targets whose dbt adapter runs no Python models."""
    return [] if target == "duckdb" else [_computed_asset(c, target) for c in COMPUTED]
