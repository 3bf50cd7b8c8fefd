"""The reports as the last assets of the graph: the data-quality page and the dashboard.

Both are static HTML files beside the warehouse file. The dashboard depends on
every mart it reads, so Dagster draws the lineage from landing file to the
page a CX lead opens (dbt's exposure `cx_dashboard` declares the same).
"""

import dagster as dg

from cx_insights.contract import ENTITIES
from orchestration.defs.quality.assets import accepted_key
from orchestration.defs.report.dashboard import MARTS_READ, write_dashboard
from orchestration.defs.report.quality_report import write_quality_report
from orchestration.resources import CxSettingsResource

REPORT_GROUP = "report"
DATA_QUALITY_KEY = dg.AssetKey(["report", "data_quality"])
DASHBOARD_KEY = dg.AssetKey(["report", "dashboard"])


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


report_assets = [data_quality_report, dashboard]
