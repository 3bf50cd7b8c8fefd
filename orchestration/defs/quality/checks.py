"""Blocking data-quality checks on the accepted tables.

* `reconciles`: rows landed = rows accepted + rows quarantined, per entity and
  per file.
* `reject_rate`: the share of rejected rows is at most `CX_MAX_REJECT_RATE`
  (waiting rows, valid but waiting for another entity, never count).
* `gx_suite`: the entity's Great Expectations suite (expectations/) confirms
  the accepted rows; it runs through a `ValidationDefinition` (the small wrapper
  `dagster-ge` does not offer for GX 1.x): on pandas in bounded chunks, or on
  the Spark target through GX's Spark data source, on the rows Spark holds.
"""

import dagster as dg

from cx_insights.contract import ENTITIES, WAITING_RULES, Entity, entity
from cx_insights.quality.results import (
    gate_counts,
    quarantine_sample,
    reporting_currency_problem,
)
from cx_insights.warehouse import connect
from expectations.runner import validate_new_rows
from orchestration.defs.quality.assets import accepted_key
from orchestration.resources import CxSettingsResource


def _reconciles(e: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=accepted_key(e),
        name="reconciles",
        blocking=True,
        description="rows landed = rows accepted + rows quarantined, for the entity and per file",
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        settings = cx.settings()
        with connect(settings.warehouse) as con:
            result = gate_counts(con, e, skipped=True)
            per_file = con.execute(
                f"""
                with landed as (
                    select _source_file, count(*) as n from raw.{e.qualified} group by 1
                ), rejected as (
                    select _source_file, count(*) as n from quarantine.{e.qualified} group by 1
                ), accepted as (
                    select _source_file, count(*) as n from raw.{e.qualified} as l
                    where not exists (
                        select 1 from quarantine.{e.qualified} as q
                        where q._source_file = l._source_file and q._source_line = l._source_line
                    ) group by 1
                )
                select landed._source_file, landed.n, coalesce(accepted.n, 0),
                       coalesce(rejected.n, 0)
                from landed
                left join accepted using (_source_file)
                left join rejected using (_source_file)
                where landed.n <> coalesce(accepted.n, 0) + coalesce(rejected.n, 0)
                """
            ).fetchall()
        passed = result.reconciles and not per_file
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{result.rows_landed} landed = {result.rows_accepted} accepted + "
                f"{result.rows_quarantined} quarantined"
                if passed
                else f"counts do not reconcile: {result.rows_landed} landed, "
                f"{result.rows_accepted} accepted, {result.rows_quarantined} quarantined; "
                f"files: {[r[0] for r in per_file]}"
            ),
            metadata={
                "rows_landed": result.rows_landed,
                "rows_accepted": result.rows_accepted,
                "rows_quarantined": result.rows_quarantined,
                "files_not_reconciling": dg.MetadataValue.json([r[0] for r in per_file]),
            },
        )

    return _check


def _reject_rate(e: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=accepted_key(e),
        name="reject_rate",
        blocking=True,
        description=(
            "the share of landed rows rejected is at most CX_MAX_REJECT_RATE (rows waiting for "
            "their response or an fx rate do not count)"
        ),
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        settings = cx.settings()
        with connect(settings.warehouse) as con:
            result = gate_counts(con, e, skipped=True)
            sample = quarantine_sample(con, e, rejected_only=True)
        passed = result.reject_rate <= settings.max_reject_rate
        files = sorted({s["file"] for s in sample})
        rejected = {k: v for k, v in result.by_rule.items() if k not in WAITING_RULES}
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{result.reject_rate:.2%} of {result.rows_landed} rows rejected "
                f"(limit {settings.max_reject_rate:.2%})"
                + (f"; {result.rows_waiting} more waiting" if result.rows_waiting else "")
                + ("" if passed else f"; e.g. in {', '.join(files)}: {rejected}")
            ),
            metadata={
                "reject_rate": round(result.reject_rate, 6),
                "rows_rejected": result.rows_rejected,
                "rows_waiting": result.rows_waiting,
                "limit": settings.max_reject_rate,
                "quarantined_by_rule": dg.MetadataValue.json(result.by_rule),
                "quarantine_sample": dg.MetadataValue.json(sample),
            },
        )

    return _check


def _on_spark(settings) -> tuple | None:
    """On the Spark target, GX validates the rows Spark holds (the Parquet folders the
    gate handed over) through its Spark data source; elsewhere, None (pandas)."""
    if settings.target != "spark":
        return None
    from cx_insights import spark

    return spark.session(settings), lambda table: str(spark.table_files(settings, "raw", table))


def _gx_suite(e: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=accepted_key(e),
        name="gx_suite",
        blocking=True,
        description=(
            f"Great Expectations suite `{e.qualified}` on the rows accepted since its last "
            "successful validation"
        ),
    )
    def _check(cx: CxSettingsResource) -> dg.AssetCheckResult:
        settings = cx.settings()
        with connect(settings.warehouse) as con:
            outcome = validate_new_rows(con, e.qualified, spark=_on_spark(settings))
        scope = (
            f"the {outcome.rows} rows gated since {outcome.since}"
            if outcome.since
            else f"all {outcome.rows} rows"
        )
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{len(outcome.expectations)} expectations on {scope} ({outcome.engine})"
                + (
                    ""
                    if outcome.success
                    else f"; failed: {[f.expectation for f in outcome.failed]}"
                )
            ),
            metadata={
                "rows_validated": outcome.rows,
                "engine": outcome.engine,
                "validated_since": str(outcome.since) if outcome.since else "the beginning",
                "chunks": outcome.chunks,
                "expectations": dg.MetadataValue.json(
                    {
                        k: {
                            "success": v.success,
                            "unexpected": v.unexpected_count,
                            "sample": v.sample,
                        }
                        for k, v in outcome.expectations.items()
                    }
                ),
            },
        )

    return _check


@dg.asset_check(
    asset=accepted_key(entity("framework__fx_rates")),
    name="reporting_currency",
    blocking=True,
    description=(
        "the fx table converts into CX_REPORTING_CURRENCY (its own rate, where listed, is 1; "
        "no other currency is the table's base)"
    ),
)
def reporting_currency_check(cx: CxSettingsResource) -> dg.AssetCheckResult:
    settings = cx.settings()
    with connect(settings.warehouse) as con:
        problem = reporting_currency_problem(con, settings.reporting_currency)
    return dg.AssetCheckResult(
        passed=problem is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=problem or f"the fx table converts into {settings.reporting_currency}",
        metadata={"reporting_currency": settings.reporting_currency},
    )


quality_checks = [
    *(f(e) for e in ENTITIES for f in (_reconciles, _reject_rate, _gx_suite)),
    reporting_currency_check,
]
