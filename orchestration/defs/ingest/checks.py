"""Blocking file-level checks on the raw assets: a file that cannot be read blocks its entity."""

import dagster as dg

from cx_insights.config import DEFAULT_DATA_FRESHNESS_HOURS, DEFAULT_FRESHNESS_HOURS
from cx_insights.contract import ENTITIES, OBSERVED_AT_COLUMNS, Entity
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.quality.results import failed_files
from cx_insights.warehouse import connect
from orchestration.defs.ingest.assets import raw_key
from orchestration.defs.quality.assets import accepted_key
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


def _fresh(e: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(e),
        name="freshness",
        blocking=False,
        description=(
            "The newest landed file of the entity is at most CX_FRESHNESS_HOURS old "
            f"(default {DEFAULT_FRESHNESS_HOURS} h, as in the dbt sources). A stale source "
            "warns (it does not block the models)."
        ),
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        from datetime import UTC, datetime

        settings = cx.settings()
        limit = settings.freshness_hours
        with connect(settings.warehouse) as con:
            newest = newest_loaded_file(con, e.qualified)[1]
        now = datetime.now(UTC).replace(tzinfo=None)
        if newest is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"no file of {e.qualified} has been loaded yet",
                metadata={"limit_hours": limit},
            )
        age_h = (now - newest).total_seconds() / 3600
        return dg.AssetCheckResult(
            passed=age_h <= limit,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"newest file from {newest:%Y-%m-%d %H:%M} UTC, {age_h:.1f} h old "
                f"(limit {limit:g} h)" + ("" if age_h <= limit else f": {age_h - limit:.1f} h late")
            ),
            metadata={
                "newest_file_at": str(newest),
                "age_hours": round(age_h, 2),
                "limit_hours": limit,
                "hours_late": round(max(0.0, age_h - limit), 2),
            },
        )

    return _check


def _data_fresh(e: Entity) -> dg.AssetChecksDefinition:
    columns = ", ".join(OBSERVED_AT_COLUMNS[e.qualified])

    @dg.asset_check(
        asset=accepted_key(e),
        name="data_freshness",
        blocking=False,
        description=(
            f"The newest event in the accepted rows (latest {columns}) is at most "
            f"CX_DATA_FRESHNESS_HOURS old (default {DEFAULT_DATA_FRESHNESS_HOURS} h): a fresh "
            "file can carry old data. A stale source warns (it does not block the models)."
        ),
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        from datetime import UTC, datetime

        from cx_insights.ops.freshness import describe_age, newest_event

        settings = cx.settings()
        limit = settings.data_freshness_hours
        with connect(settings.warehouse) as con:
            newest = newest_event(con, e)
        if newest is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"{e.qualified} has no accepted row with {columns} yet",
                metadata={"limit_hours": limit},
            )
        age_h = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600
        return dg.AssetCheckResult(
            passed=age_h <= limit,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"newest event ({columns}) at {newest:%Y-%m-%d %H:%M} UTC, "
                f"{describe_age(age_h)} old (limit {limit:g} h)"
                + ("" if age_h <= limit else f": {describe_age(age_h - limit)} late")
            ),
            metadata={
                "newest_event_at": str(newest),
                "age_hours": round(age_h, 2),
                "limit_hours": limit,
                "hours_late": round(max(0.0, age_h - limit), 2),
            },
        )

    return _check


freshness_checks = [_fresh(e) for e in ENTITIES] + [
    _data_fresh(e) for e in ENTITIES if e.qualified in OBSERVED_AT_COLUMNS
]
