"""dbt models as Dagster assets, in one lineage graph with the ingestion and the gate.

The translator maps each dbt source (`source('feedback', 'answers')`) to the
gate asset that writes the table it reads (`accepted/feedback__answers`),
names asset groups after the dbt folders (staging, intermediate, marts) and
keys models by schema and name (`marts/kpi_monthly`). dbt tests become asset
checks.
"""

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from cx_insights.warehouse import release_memory
from orchestration.defs.transform.project import cx_dbt_project, dbt_executable
from orchestration.resources import CxSettingsResource


class CxDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source" and props["source_name"] == "computed":
            # Written by the Dagster asset of the same key (orchestration/defs/transform/
            # computed.py) on targets where dbt runs no Python models.
            return spec.replace_attributes(key=dg.AssetKey(["intermediate", props["name"]]))
        if props["resource_type"] == "source":
            return spec.replace_attributes(
                key=dg.AssetKey(["accepted", f"{props['source_name']}__{props['name']}"])
            )
        fqn = props.get("fqn", [])
        group = fqn[1] if len(fqn) > 2 else "transform"
        if fqn[1:3] == ["marts", "insights"]:
            group = "insights"  # the insight layer is its own stage
        schema = props.get("config", {}).get("schema") or props.get("schema") or group
        spec = spec.replace_attributes(key=dg.AssetKey([schema, props["name"]]), group_name=group)
        if "insights" in props.get("tags", []):  # dbt tag: on the insights' schedule
            spec = spec.merge_attributes(tags={INSIGHTS_TAG: "true"})
        return spec


#: Tags the insight layer's models (intermediate and marts): cx_insights/insights/schedule.py.
INSIGHTS_TAG = "cx/insights"

translator = CxDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_resource() -> DbtCliResource:
    project = cx_dbt_project()
    return DbtCliResource(
        project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )


def stop_process(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Interrupt a still-running process (as Ctrl-C would), kill it after `timeout`
    seconds, and wait for it to exit."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def build_dbt_assets() -> dg.AssetsDefinition:
    project = cx_dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        name="cx_dbt_models",
    )
    def cx_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, cx: CxSettingsResource
    ) -> Iterator[Any]:
        settings = cx.settings()
        # dbt runs as a subprocess that inherits this environment (dagster-dbt
        # offers no other way): hand it the run's settings (absolute paths).
        os.environ.update(settings.dbt_env())
        # A subset run (sensor, `--select`) runs only the tests whose every parent
        # is built in it, not a relationship test into a model that is not.
        os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
        # dbt's DuckDB is a child process: give it the memory the gate freed here.
        release_memory()
        # One target folder per warehouse, reused by every run (runs never overlap:
        # the run lock), instead of a new 16 MB folder per run in dbt_project/target.
        target = settings.output_dir / "dbt_target"
        # dbt's unit tests pin the logic on hand-written rows: they belong to CI
        # (`make unit`, tests/test_dbt_unit.py), not to every production build,
        # where they cost about 0.6 s each whatever the data.
        invocation = dbt.cli(
            ["build", "--exclude-resource-type", "unit_test"], context=context, target_path=target
        )
        try:
            yield from invocation.stream()
        finally:
            # When the step stops reading early (an error raised while handling an
            # event), dagster-dbt leaves dbt running, still holding the warehouse
            # file: the next stage would then fail on DuckDB's lock and hide the
            # real error. Stop it and wait for it before the step ends.
            stop_process(invocation.process)

    return cx_dbt_models
