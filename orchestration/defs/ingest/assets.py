"""One Dagster asset per landing entity: landing files -> `raw.<source>__<entity>`."""

import dagster as dg

from cx_insights.contract import ENTITIES, Entity
from cx_insights.ingest.loader import load_entity
from cx_insights.ingest.spark_reader import SparkFileReader
from cx_insights.warehouse import connect
from orchestration.resources import CxSettingsResource

INGEST_GROUP = "ingest"


def raw_key(e: Entity) -> dg.AssetKey:
    return dg.AssetKey(["raw", e.qualified])


def _ingest_asset(e: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(e),
        group_name=INGEST_GROUP,
        kinds={"duckdb", "python"},
        description=(
            f"Every landed row of `<landing>/{e.source}/{e.name}/*` (CSV, Parquet, JSON Lines), "
            f"as text with its lineage, in `raw.{e.qualified}`. Append-only and incremental: "
            "unchanged files are skipped through the manifest `raw._files`."
        ),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=1, backoff=dg.Backoff.EXPONENTIAL),
    )
    def _asset(context: dg.AssetExecutionContext, cx: CxSettingsResource) -> dg.MaterializeResult:
        settings = cx.settings()
        reader = SparkFileReader.for_settings(settings) if settings.target == "spark" else None
        with connect(settings.warehouse) as con:
            result = load_entity(con, settings.landing_dir, e, reader=reader)
            total = con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0]
        by_status: dict[str, int] = {}
        for f in result.files:
            by_status[f.status] = by_status.get(f.status, 0) + 1
        for f in result.failed:
            context.log.error(f"{e.qualified}: {f.path}: {f.error}")
        drift = sorted({c for f in result.files for c in f.extra_columns})
        if drift:
            context.log.warning(f"{e.qualified}: schema drift, extra columns kept in raw: {drift}")
        return dg.MaterializeResult(
            metadata={
                "landing_folder": str(settings.landing_dir / e.source / e.name),
                "read_by": "spark" if reader else "duckdb",
                "files": dg.MetadataValue.json(by_status),
                "rows_loaded_this_run": result.rows_loaded,
                "rows_in_raw": int(total),
                "failed_files": dg.MetadataValue.json(
                    [{"file": f.path, "reason": f.error} for f in result.failed]
                ),
                "extra_columns": dg.MetadataValue.json(drift),
            }
        )

    return _asset


ingest_assets = [_ingest_asset(e) for e in ENTITIES]
