"""Shared fixtures: tiny landing directories written by the tests themselves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from cx_insights.config import load_settings
from cx_insights.contract import entity
from cx_insights.ingest.loader import load_entity
from cx_insights.quality.gate import GATE_DEPENDENCIES, gate_order, run_gate
from cx_insights.quality.results import GateResult
from cx_insights.warehouse import connect

#: Modules whose tests build a warehouse end to end (`cx-insights run`, about a
#: minute each): the slow tier. `make unit` runs everything else.
E2E_MODULES = frozenset(
    {
        "test_end_to_end",
        "test_crash_recovery",
        "test_dashboard",
        "test_operations",
        "test_drop_zoo",
        "test_serving",
        "test_export",
        "test_semantic",
        "test_connectors_end_to_end",
        "test_postgres_target",
        "test_spark_target",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module in E2E_MODULES or "sample_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


FX_CSV = "rate_date,currency,rate_to_reporting\n2020-01-01,EUR,1\n2020-01-01,USD,0.9\n"


class Landing:
    """A landing directory in a temp folder, with files of controlled mtimes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._clock = 1_700_000_000

    def write(self, rel: str, content: str | bytes, *, mtime: int | None = None) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        self._clock += 60
        stamp = mtime if mtime is not None else self._clock
        os.utime(path, (stamp, stamp))
        return path


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path / "landing")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "cx.duckdb"


@pytest.fixture
def load_and_gate(landing: Landing, warehouse: Path) -> Callable[..., dict[str, GateResult]]:
    """Load every entity and run every gate, as the Dagster job would."""

    def _run(only: list[str] | None = None, currency: str = "EUR") -> dict[str, GateResult]:
        results: dict[str, GateResult] = {}
        with connect(warehouse) as con:
            for q in gate_order():
                load_entity(con, landing.root, entity(q))
            for q in gate_order():
                if (
                    only is None
                    or q in only
                    or any(q in GATE_DEPENDENCIES.get(o, ()) for o in only)
                ):
                    results[q] = run_gate(con, entity(q), currency)
        return results

    return _run


@pytest.fixture
def query(warehouse: Path) -> Iterator[Callable[[str], list[tuple]]]:
    def _query(sql: str) -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            return con.execute(sql).fetchall()

    yield _query


# --- end-to-end builds -------------------------------------------------------

CLI = str(Path(sys.executable).parent / "cx-insights")


class Build(subprocess.CompletedProcess):
    landing: Path
    warehouse: Path


def run_cli(args: list[str], landing: Path, warehouse: Path, **env: str) -> Build:
    """`cx-insights <args>` in a subprocess, on the given landing dir and warehouse."""
    environ = {
        **os.environ,
        "CX_LANDING_DIR": str(landing),
        "CX_WAREHOUSE": str(warehouse),
        "CX_PII_SALT": "test-salt",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **env,
    }
    done = subprocess.run([CLI, *args], capture_output=True, text=True, env=environ, timeout=900)
    build = Build(done.args, done.returncode, done.stdout, done.stderr)
    build.landing, build.warehouse = landing, warehouse
    return build


def export_of(build: Build, out: Path, **env: str) -> Path:
    """`cx-insights export --out <out>` of a build (asserting it succeeded)."""
    done = run_cli(["export", "--out", str(out)], build.landing, build.warehouse, **env)
    assert done.returncode == 0, done.stderr
    return out


def target_exports(sample: Build, build: Build, target: str, tmp_path: Path) -> dict:
    """The exports of the DuckDB sample build and of `build` on `target`, by target name."""
    return {
        "duckdb": export_of(sample, tmp_path / "duckdb"),
        target: export_of(build, tmp_path / target, CX_TARGET=target),
    }


def assert_dashboards_alike(build: Build, sample: Build) -> None:
    """The dashboard of a build on another target has DuckDB's charts and gaps."""

    def page(of: Build) -> str:
        settings = load_settings({"CX_WAREHOUSE": str(of.warehouse), "CX_PII_SALT": "x"})
        return settings.dashboard.read_text(encoding="utf-8")

    other, duck = page(build), page(sample)
    assert other.count("class='chart'") == duck.count("class='chart'") > 10
    assert other.count("class='na'") == duck.count("class='na'")


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The shipped sample, built once for the whole session."""
    from cx_insights.config import SAMPLE_LANDING_DIR

    warehouse = tmp_path_factory.mktemp("sample") / "cx.duckdb"
    build = run_cli(["run"], SAMPLE_LANDING_DIR, warehouse)
    assert build.returncode == 0, f"sample build failed:\n{build.stdout}\n{build.stderr}"
    return build


@pytest.fixture(scope="session")
def query_build(sample_build: Build) -> Callable[..., list[tuple]]:
    def _query(sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(sample_build.warehouse), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            return con.execute(sql, params or []).fetchall()

    return _query
