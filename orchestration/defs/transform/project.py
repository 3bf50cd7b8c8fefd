"""The one cached dbt project of the code location."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from cx_insights.config import DBT_PROJECT_DIR


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


@cache
def cx_dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        # Outside `dagster dev` (CLI, tests, CI) the manifest is built once here.
        parse_manifest()
    return project


def parse_manifest() -> None:
    """`dbt parse`: writes target/manifest.json, which dagster-dbt reads."""
    env = {**os.environ}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ],
        check=True,
        env=env,
        cwd=DBT_PROJECT_DIR,
    )
