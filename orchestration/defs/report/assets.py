"""The reports as the last assets of the graph: the data-quality page and the dashboard.

Both are static HTML files beside the warehouse file. The dashboard depends on
every mart it reads, so Dagster draws the lineage from landing file to the
page a CX lead opens (dbt's exposure `cx_dashboard` declares the same).
"""

import json
import os

import dagster as dg

from cx_insights.contract import ENTITIES
from cx_insights.report.dashboard import MARTS_READ, write_dashboard
from cx_insights.report.quality_report import write_quality_report
from cx_insights.serve import MARTS_SCHEMA, publish
from orchestration.defs.quality.assets import accepted_key
from orchestration.defs.transform.project import cx_dbt_project
from orchestration.resources import CxSettingsResource

REPORT_GROUP = "report"
DATA_QUALITY_KEY = dg.AssetKey(["report", "data_quality"])
DASHBOARD_KEY = dg.AssetKey(["report", "dashboard"])
PUBLISHED_MARTS_KEY = dg.AssetKey(["report", "published_marts"])


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


@dg.asset(
    key=DATA_QUALITY_KEY,
    group_name=REPORT_GROUP,
    deps=[accepted_key(e) for e in ENTITIES],
    kinds={"html"},
    description=(
        "`data_quality.html` beside the warehouse: every entity with its files, the "
        "reconciliation landed = accepted + quarantined, quarantined rows by rule with "
        "examples, and schema drift."
    ),
)
def data_quality_report(cx: CxSettingsResource) -> dg.MaterializeResult:
    path = write_quality_report(cx.settings())
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": path.stat().st_size,
        }
    )


@dg.asset(
    key=DASHBOARD_KEY,
    group_name=REPORT_GROUP,
    deps=[*(mart_key(name) for name in MARTS_READ), DATA_QUALITY_KEY],
    kinds={"html", "plotly"},
    description=(
        "`dashboard.html` beside the warehouse: one self-contained page (plotly.js inlined, "
        "works offline and by e-mail) with a tab per role: Executive, CX lead, Support lead, "
        "Product / digital, Initiatives, Data quality. Built from the marts as they are; a "
        "mart not built yet shows a 'not available yet' note."
    ),
)
def dashboard(cx: CxSettingsResource) -> dg.MaterializeResult:
    path = write_dashboard(cx.settings())
    text = path.read_text(encoding="utf-8")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "url": dg.MetadataValue.url(path.as_uri()),
            "size_bytes": path.stat().st_size,
            "charts": text.count("class='chart'"),
            "sections_not_available": text.count("class='na'"),
        }
    )


def dbt_mart_keys() -> list[dg.AssetKey]:
    """Every dbt model of schema `marts` (the manifest says which), keyed as the translator does."""
    manifest = json.loads(cx_dbt_project().manifest_path.read_text(encoding="utf-8"))
    names = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("schema") == MARTS_SCHEMA
    }
    return [mart_key(name) for name in sorted(names)]


@dg.asset(
    key=PUBLISHED_MARTS_KEY,
    group_name=REPORT_GROUP,
    # Last in the graph: a blocking check or a failed step upstream skips it, so the
    # previous published file stays until a run succeeds.
    deps=[*dbt_mart_keys(), DASHBOARD_KEY],
    kinds={"duckdb"},
    description=(
        "`cx_marts.duckdb` beside the warehouse: schema `marts` (and `marts._build`) copied "
        "to a new file and swapped in atomically. BI tools open this file, read-only; "
        "no raw, quarantine or staging data."
    ),
)
def published_marts(
    context: dg.AssetExecutionContext, cx: CxSettingsResource
) -> dg.MaterializeResult:
    # `cx-insights run` sets CX_RUN_ID to its run-log id; otherwise Dagster's run id.
    path = publish(cx.settings(), run_id=os.environ.get("CX_RUN_ID") or context.run_id)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": path.stat().st_size,
        }
    )


report_assets = [data_quality_report, dashboard, published_marts]
