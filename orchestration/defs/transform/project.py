"""The one cached dbt project of the code location."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from cx_insights.config import DBT_PROJECT_DIR


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def active_target() -> str:
    """CX_TARGET (duckdb by default): the profile's target, read when the code loads."""
    return os.environ.get("CX_TARGET", "").strip() or "duckdb"


def target_path(target: str) -> str:
    """dbt's target folder per target: their manifests differ (a Python model on
    DuckDB is a source elsewhere), so each keeps its own."""
    return "target" if target == "duckdb" else f"target-{target}"


def cx_dbt_project() -> DbtProject:
    return _cx_dbt_project(active_target())


@cache
def _cx_dbt_project(target: str) -> DbtProject:
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=target,
        target_path=Path(target_path(target)),
    )
    project.prepare_if_dev()
    if manifest_is_stale(project.manifest_path):
        # Outside `dagster dev` (CLI, tests, CI) the manifest is built here, and
        # built again whenever a model, macro, test or setting changed since:
        # a stale manifest makes dagster-dbt abort on a dbt node it does not know.
        parse_manifest(target)
    return project


def manifest_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots", "analyses"):
        if (DBT_PROJECT_DIR / folder).is_dir():
            sources += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


def parse_manifest(target: str = "duckdb") -> None:
    """`dbt parse`: writes <target folder>/manifest.json, which dagster-dbt reads.

    dbt parses into a folder of this process and the manifest then replaces the
    old one in one rename: processes that load the definitions at the same time
    (a CLI run beside `dagster dev`, parallel tests) never read a half-written
    manifest, and the last parse wins whole."""
    env = {**os.environ, "CX_TARGET": target}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    final = DBT_PROJECT_DIR / target_path(target)
    scratch = DBT_PROJECT_DIR / f"{target_path(target)}-parse-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cache = final / "partial_parse.msgpack"
    if cache.exists():  # dbt's parse cache: seconds instead of a full parse
        shutil.copy2(cache, scratch / cache.name)
    # The manifest is as old as the files dbt read, not as its write: a file changed
    # while dbt parsed is newer than it, so the next load parses again.
    started = time.time()
    try:
        subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target",
                target,
                "--target-path",
                scratch.name,
            ],
            check=True,
            env=env,
            cwd=DBT_PROJECT_DIR,
        )
        final.mkdir(exist_ok=True)
        written = [p for p in scratch.iterdir() if p.is_file()]
        os.utime(scratch / "manifest.json", (started, started))
        for path in sorted(written, key=lambda p: p.name == "manifest.json"):  # it last
            os.replace(path, final / path.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
