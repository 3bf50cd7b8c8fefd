"""A sensor on the landing directory: new or changed files trigger only what they feed."""

import hashlib
import json

import dagster as dg

from cx_insights.contract import ENTITIES
from cx_insights.ingest.loader import landing_files
from orchestration.defs.ingest.assets import raw_key
from orchestration.defs.jobs import all_assets_job
from orchestration.resources import CxSettingsResource


def landing_state(landing_dir) -> dict[str, str]:
    """entity -> a signature of its files (name, size, mtime): changes when a file does."""
    state: dict[str, str] = {}
    for e in ENTITIES:
        files = [
            f"{p.relative_to(landing_dir).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            for p in landing_files(landing_dir, e)
        ]
        state[e.qualified] = "|".join(files)
    return state


def changed_entities(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(q for q, sig in current.items() if sig and previous.get(q) != sig)


@dg.sensor(
    job=all_assets_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches CX_LANDING_DIR. When files of an entity are added or changed, materialises "
        "that entity's raw asset and everything downstream of it (gate, models, reports). "
        "The cursor remembers what was seen, so a file triggers once."
    ),
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, cx: CxSettingsResource
) -> dg.SensorResult:
    # The settings of the definitions' resource, as every asset reads them.
    settings = cx.settings()
    current = landing_state(settings.landing_dir)
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = changed_entities(previous, current)
    cursor = json.dumps(current, sort_keys=True)
    if not changed:
        return dg.SensorResult(skip_reason="no new or changed landing files", cursor=cursor)
    selection = dg.AssetSelection.assets(*[raw_key(e) for e in ENTITIES if e.qualified in changed])
    keys = selection.downstream().resolve(context.repository_def.asset_graph)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key="landing-" + hashlib.sha256(cursor.encode()).hexdigest()[:16],
                asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
                tags={"cx/trigger": "landing_files", "cx/entities": ",".join(changed)[:200]},
            )
        ],
        cursor=cursor,
    )
