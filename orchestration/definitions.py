"""The Dagster code location: assembles the stage folders, nothing else."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.connectors.assets import connector_assets
from orchestration.defs.ingest.assets import ingest_assets
from orchestration.defs.ingest.checks import freshness_checks, ingest_checks
from orchestration.defs.ingest.schedules import daily_schedule
from orchestration.defs.ingest.sensors import landing_files_sensor
from orchestration.defs.jobs import all_assets_job
from orchestration.defs.quality.assets import gate_assets
from orchestration.defs.quality.checks import quality_checks
from orchestration.defs.report.assets import report_assets
from orchestration.defs.transform.assets import build_dbt_assets, dbt_resource
from orchestration.defs.transform.computed import computed_assets
from orchestration.defs.transform.project import active_target
from orchestration.resources import CxSettingsResource

defs = dg.Definitions(
    assets=[
        *connector_assets(),
        *ingest_assets,
        *gate_assets,
        build_dbt_assets(),
        *computed_assets(active_target()),
        *report_assets,
    ],
    asset_checks=[*ingest_checks, *freshness_checks, *quality_checks],
    jobs=[all_assets_job],
    schedules=[daily_schedule],
    sensors=[landing_files_sensor],
    resources={"cx": CxSettingsResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
