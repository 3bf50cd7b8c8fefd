"""Blocking file-level checks on the raw assets: a file that cannot be read blocks its entity."""

import dagster as dg

from cx_insights.contract import ENTITIES, Entity
from cx_insights.warehouse import connect
from orchestration.defs.ingest.assets import raw_key
from orchestration.defs.quality.gate import failed_files
from orchestration.resources import CxSettingsResource


def _files_readable(e: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(e),
        name="files_readable",
        blocking=True,
        description=(
            "Every landing file of the entity could be read (UTF-8, valid Parquet/JSON, every "
            "required column present). A failing file blocks the models of this entity."
        ),
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        settings = cx.settings()
        with connect(settings.warehouse) as con:
            failed = failed_files(con, e)
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                "; ".join(f"{path}: {reason}" for path, reason in failed)
                if failed
                else "every file was read"
            ),
            metadata={
                "failed_files": dg.MetadataValue.json(
                    [{"file": p, "reason": r} for p, r in failed]
                ),
            },
        )

    return _check


ingest_checks = [_files_readable(e) for e in ENTITIES]
