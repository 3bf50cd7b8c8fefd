"""dbt models as Dagster assets, in one lineage graph with the ingestion and the gate.

The translator maps each dbt source (`source('feedback', 'answers')`) to the
gate asset that writes the table it reads (`accepted/feedback__answers`),
names asset groups after the dbt folders (staging, intermediate, marts) and
keys models by schema and name (`marts/kpi_monthly`). dbt tests become asset
checks.
"""

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
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


#: DuckDB's error when a query needs more than its memory_limit and cannot spill.
OUT_OF_MEMORY = "Out of Memory Error"


def memory_retry_selection(run_results: Path) -> list[str]:
    """The dbt nodes to build again, one at a time, after an invocation whose only
    errors were DuckDB running out of its memory limit: those nodes and the ones dbt
    skipped for them. Empty when nothing failed, when anything failed for another
    reason (a failing test, a SQL error: building again would not help), or when
    there are no results to read."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text()).get("results", [])
    failed = [r for r in results if r.get("status") in ("error", "fail", "runtime error")]
    if not failed or any(OUT_OF_MEMORY not in (r.get("message") or "") for r in failed):
        return []
    again = failed + [r for r in results if r.get("status") == "skipped"]
    # unique_id is `<resource type>.<package>.<name>[.<hash>]`: dbt selects by name.
    return sorted({r["unique_id"].split(".")[2] for r in again})


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
        build = ["build", "--exclude-resource-type", "unit_test"]
        invocation = dbt.cli(build, context=context, target_path=target, raise_on_error=False)
        try:
            yield from invocation.stream()
        finally:
            # When the step stops reading early (an error raised while handling an
            # event), dagster-dbt leaves dbt running, still holding the warehouse
            # file: the next stage would then fail on DuckDB's lock and hide the
            # real error. Stop it and wait for it before the step ends.
            stop_process(invocation.process)
        error = invocation.get_error()
        if error is None:
            return
        # Two large models side by side can need more than DuckDB's memory limit
        # together though each fits alone (measured: a daily drop at 1 M customers,
        # the session and answer aggregates, 4 GiB). Build what failed for memory,
        # and what was skipped for it, again in a new dbt process (an empty buffer
        # pool) one node at a time; any other failure stops the step as before.
        again = memory_retry_selection(target / "run_results.json")
        if not again:
            raise error
        context.log.warning(
            f"dbt: {len(again)} node(s) failed for DuckDB's memory limit or were skipped "
            "for one that did; building them again one at a time: " + " ".join(again)
        )
        retry = dbt.cli(
            [*build, "--threads", "1", "--select", " ".join(again)],
            manifest=invocation.manifest,
            dagster_dbt_translator=translator,
            target_path=target / "memory_retry",
        )
        try:
            # Without `context` dbt.cli adds no selection of its own (it would widen
            # this one to the whole run); the events still become this step's outputs.
            for event in retry.stream_raw_events():
                yield from event.to_default_asset_events(
                    manifest=retry.manifest,
                    dagster_dbt_translator=translator,
                    context=context,
                    target_path=retry.target_path,
                    project=project,
                )
        finally:
            stop_process(retry.process)

    return cx_dbt_models
