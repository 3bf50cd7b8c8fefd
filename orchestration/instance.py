"""One persistent Dagster instance per warehouse, shared by `cx-insights run` and `make dev`.

`DAGSTER_HOME` defaults to `<warehouse dir>/dagster_home` (unless the user set
it), holding a `dagster.yaml` this module writes: SQLite storage under the home,
telemetry off, tick retention. Dagster's `retention` covers schedule and sensor
ticks only, so runs are pruned here after each run (`prune_runs`).

Run as `python -m orchestration.instance` (what `make dev` does) it writes the
file and prints the home, so the UI opens the instance the CLI writes.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cx_insights.config import Settings, dagster_home, load_settings

if TYPE_CHECKING:
    import dagster as dg

#: Runs kept: the newest KEEP_RUNS, and of those none older than KEEP_DAYS
#: (the newest run is always kept). README, "Operating it".
KEEP_RUNS = 50
KEEP_DAYS = 30
#: The first line of a dagster.yaml this project wrote (and may rewrite).
MARKER = "# Written by cx-insights (orchestration/instance.py)"


def dagster_yaml(home: Path) -> str:
    return f"""{MARKER}; edit freely and remove this line to keep your changes.
# SQLite storage in the directories `storage: sqlite` would use; the event log is
# Dagster's own kept connected (orchestration/dagster_storage.py: about 4x faster writes).
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config:
    base_dir: {home / "storage" / "history"}
event_log_storage:
  module: orchestration.dagster_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {home / "storage" / "history" / "runs"}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config:
    base_dir: {home / "storage" / "schedules"}
telemetry:
  enabled: false
# Schedule and sensor ticks; runs are pruned by cx-insights after each run
# (the newest {KEEP_RUNS}, none older than {KEEP_DAYS} days).
retention:
  schedule:
    purge_after_days: {KEEP_DAYS}
  sensor:
    purge_after_days:
      skipped: 7
      failure: {KEEP_DAYS}
      success: {KEEP_DAYS}
"""


def ensure_dagster_home(settings: Settings) -> Path:
    """Create the home and its dagster.yaml (ours is rewritten if the home moved; a file
    without our marker is the user's and left alone, and a DAGSTER_HOME the user set gets
    none), and point DAGSTER_HOME at it."""
    user_home = bool((os.environ.get("DAGSTER_HOME") or "").strip())
    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(home)
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if (current is None and not user_home) or (
        current is not None and current.startswith(MARKER) and current != wanted
    ):
        config.write_text(wanted, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    return home


def open_instance(settings: Settings) -> dg.DagsterInstance:
    import dagster as dg

    ensure_dagster_home(settings)
    return dg.DagsterInstance.get()


def runs_to_prune(
    runs: list[tuple[str, datetime]],
    now: datetime,
    keep: int = KEEP_RUNS,
    days: int = KEEP_DAYS,
) -> list[str]:
    """Ids of the runs to delete, from (run id, created at) newest first."""
    cutoff = now - timedelta(days=days)
    return [
        run_id
        for i, (run_id, created) in enumerate(runs)
        if i > 0 and (i >= keep or created < cutoff)
    ]


def prune_runs(instance: dg.DagsterInstance, keep: int = KEEP_RUNS, days: int = KEEP_DAYS) -> int:
    """Delete old runs with their events; returns how many."""
    records = instance.get_run_records(limit=keep + 500)  # newest first
    runs = [(r.dagster_run.run_id, r.create_timestamp.astimezone(UTC)) for r in records]
    doomed = runs_to_prune(runs, datetime.now(UTC), keep, days)
    for run_id in doomed:
        instance.delete_run(run_id)
    return len(doomed)


def main() -> int:
    """Write the instance of the configured warehouse and print its home (`make dev`)."""
    print(ensure_dagster_home(load_settings()))
    return 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # the PII-salt warning is for runs, not for the UI
    sys.exit(main())
