"""One dagster-dlt multi-asset per configured connector (group `connectors`).

Each dlt resource (a vendor object) is an asset `connectors/<system>/<object>`.
The body calls the library (`cx_insights.connectors.runner.pull_connector`) with
the run's settings; the dlt source and pipeline are built fresh for every run
(a dlt source object is single-use). A connector whose settings are absent is
not registered at all.
"""

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from cx_insights.connectors.landing import PullRun
from cx_insights.connectors.registry import configured
from cx_insights.connectors.runner import cursor_summary, pull_connector
from cx_insights.connectors.settings import ConnectorSpec
from orchestration.resources import CxSettingsResource

CONNECTORS_GROUP = "connectors"


class ConnectorTranslator(DagsterDltTranslator):
    def __init__(self, spec: ConnectorSpec) -> None:
        super().__init__()
        self.spec = spec

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        name = data.resource.name
        return dg.AssetSpec(
            key=dg.AssetKey([CONNECTORS_GROUP, self.spec.name, name]),
            group_name=CONNECTORS_GROUP,
            kinds={"dlt", self.spec.name},
            description=(
                f"{self.spec.title} {name}, pulled incrementally with dlt and landed as "
                f"contract-shaped JSON Lines in <landing>/{self.spec.lands.get(name, '?')}."
            ),
        )


def _outline(spec: ConnectorSpec) -> tuple:
    """The dlt source and pipeline the decorator reads resource names from (no network,
    no settings: the run builds its own)."""
    import dlt

    settings = spec.settings({var: "outline" for var in spec.required})
    source = spec.build_source(settings, PullRun(spec.name))
    folder = Path(tempfile.gettempdir()) / "cx-insights-dlt-outline"
    pipeline = dlt.pipeline(pipeline_name=f"outline_{spec.name}", pipelines_dir=str(folder))
    return source, pipeline


def connector_asset(spec: ConnectorSpec) -> dg.AssetsDefinition:
    source, pipeline = _outline(spec)

    @dlt_assets(
        dlt_source=source,
        dlt_pipeline=pipeline,
        name=f"{spec.name}_connector",
        dagster_dlt_translator=ConnectorTranslator(spec),
    )
    def _pull(context: dg.AssetExecutionContext, cx: CxSettingsResource) -> Iterator:
        selected = sorted(context.selected_asset_keys, key=lambda k: k.path)
        result = pull_connector(
            cx.settings(),
            spec,
            resources=[k.path[-1] for k in selected],
            on_log=context.log.info,
        )
        for key in selected:
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows_landed": dg.MetadataValue.json(result.rows),
                    "files_landed": len(result.files),
                    "cursor": cursor_summary({key.path[-1]: result.cursors.get(key.path[-1], {})}),
                    "new_vendor_fields": dg.MetadataValue.json(result.drift),
                },
            )

    return _pull


def connector_assets(env: Mapping[str, str] | None = None) -> list[dg.AssetsDefinition]:
    """The configured connectors' assets (none when no connector has its settings)."""
    return [connector_asset(spec) for spec in configured(env)]
