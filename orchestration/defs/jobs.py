"""Jobs over the whole graph."""

from __future__ import annotations

import dagster as dg

#: Every asset and every check, in one process: DuckDB allows one writer per file,
#: so steps run one after the other.
all_assets_job = dg.define_asset_job(
    "cx_all",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Land, check, model and report everything (what `cx-insights run` does).",
)
