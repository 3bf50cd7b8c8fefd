"""The drop zoo: drops shaped like real companies' first exports, each built end to end.

A company may not have every source (no web analytics, no CRM yet, no
initiatives), and its FX table may start after its oldest subscriptions and
invoices. landing-contract.md says what must happen: everything else builds,
the marts that depend on a missing entity exist and are empty, waiting rows
are reported and never block, and the run exits 0. Each drop is derived on the
fly from a small generated drop, built with `cx-insights run`, and its company
and segment KPIs are compared with an independent pandas calculation of
kpis.md (tests/kpi_oracle.py) to the last digit.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_insights.config import DBT_PROJECT_DIR
from cx_insights.contract import ENTITIES, WAITING_RULES
from orchestration.defs.transform.project import cx_dbt_project
from tests.conftest import CLI, run_cli
from tests.kpi_oracle import compare, kpi_monthly

#: Every mart a BI tool may query: each exists on every drop, empty or not.
MARTS = (
    "dim_date",
    "dim_month",
    "dim_customer",
    "dim_touchpoint",
    "dim_journey",
    "dim_question",
    "fct_survey_answers",
    "fct_survey_responses",
    "fct_tickets",
    "fct_web_sessions",
    "fct_invoices",
    "fct_customer_months",
    "fct_subscription_fx_gaps",
    "kpi_monthly",
    "driver_importance",
    "nps_financial_link",
    "customers_at_risk",
    "revenue_at_risk",
    "churn_model_backtest",
    "initiative_impact",
)

SCHEDULED_END = "2027-09-15T00:00:00Z"


@pytest.fixture(scope="module")
def base_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "base"
    subprocess.run(
        [CLI, "generate", "--out", str(out), "--customers", "150", "--seed", "11"],
        check=True,
        capture_output=True,
    )
    return out


def _drop(*entities: str) -> Callable[[Path], None]:
    def edit(landing: Path) -> None:
        for rel in entities:
            shutil.rmtree(landing / rel)

    return edit


def _keep_only(*sources: str) -> Callable[[Path], None]:
    def edit(landing: Path) -> None:
        for folder in landing.iterdir():
            if folder.name not in sources:
                shutil.rmtree(folder)

    return edit


def _first_instant(landing: Path, rel: str, column: str) -> pd.Timestamp:
    frames = [_read(p) for p in (landing / rel).iterdir()]
    return min(pd.to_datetime(f[column], utc=True, format="ISO8601").min() for f in frames)


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True, dtype=False)


def _fx_starts_late(landing: Path, months: int = 8) -> None:
    """The FX table starts `months` after the first subscription: older invoices
    in other currencies wait, older MRR in them adds nothing."""
    start = _first_instant(landing, "crm/subscriptions", "started_at") + pd.DateOffset(
        months=months
    )
    for path in (landing / "framework/fx_rates").iterdir():
        frame = _read(path)
        late = frame[pd.to_datetime(frame["rate_date"]) >= start.tz_localize(None)]
        path.unlink()
        late.to_csv(path.with_suffix(".csv"), index=False, quoting=csv.QUOTE_MINIMAL)


def _scheduled_ends(landing: Path) -> None:
    """A later export schedules cancellations a year past the last observed event."""
    folder = landing / "crm/subscriptions"
    main = _read(sorted(folder.iterdir())[0])
    active = main[main["ended_at"].fillna("") == ""].head(40).copy()
    active["ended_at"] = SCHEDULED_END
    later = max(p.stat().st_mtime for p in folder.iterdir()) + 60
    path = folder / "zz-scheduled-cancellations.csv"
    active.to_csv(path, index=False)
    os.utime(path, (later, later))


ZOO: dict[str, Callable[[Path], None]] = {
    "surveys_only": _keep_only("feedback"),
    "no_web_no_tickets": _drop("web", "tickets"),
    "no_crm": _drop("crm"),
    "no_subscriptions": _drop("crm/subscriptions"),
    "no_initiatives_no_rules": _drop("framework/initiatives", "framework/touchpoint_rules"),
    # One build for two habits of real exports: an FX table that starts late, and
    # cancellations scheduled a year past the last observed event.
    "fx_starts_late_and_scheduled_ends": lambda landing: (
        _fx_starts_late(landing),
        _scheduled_ends(landing),
    ),
}


def _build(base: Path, tmp_path: Path, edit: Callable[[Path], None], salt: str, **env: str):
    landing = tmp_path / "landing"
    shutil.copytree(base, landing)
    # copytree keeps modification times, which order the updates by key.
    edit(landing)
    warehouse = tmp_path / "warehouse" / "cx.duckdb"
    return run_cli(["run"], landing, warehouse, CX_PII_SALT=salt, **env)


def _assert_accounted_for(con: duckdb.DuckDBPyConnection) -> None:
    waiting_rules = ", ".join(f"'{r}'" for r in sorted(WAITING_RULES))
    waiting = 0
    for e in ENTITIES:
        q = e.qualified
        landed = con.execute(f"select count(*) from raw.{q}").fetchone()[0]
        quarantined = con.execute(f"select count(*) from quarantine.{q}").fetchone()[0]
        accepted = con.execute(
            f"select count(*) from raw.{q} as landed anti join quarantine.{q} as held "
            "using (_source_file, _source_line)"
        ).fetchone()[0]
        assert landed == accepted + quarantined, q
        waiting += con.execute(
            f"select count(*) from quarantine.{q} where _rule in ({waiting_rules})"
        ).fetchone()[0]
    reported = con.execute("select coalesce(sum(rows), 0) from raw._gate_waiting").fetchone()[0]
    assert reported == waiting


@pytest.fixture(scope="module")
def zoo_builds(base_drop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every drop of the zoo built, two at a time: a build this small keeps about one
    core busy (Python and dbt's parsing), so two side by side take little longer than one."""
    # Each run would parse the dbt project if the shared manifest were stale: this
    # parses it once here, not in two runs writing the same folder at once.
    cx_dbt_project()

    def build(variant: str):
        salt = f"zoo-salt-{uuid.uuid4().hex}"
        return salt, _build(base_drop, tmp_path_factory.mktemp(variant), ZOO[variant], salt)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(sorted(ZOO), pool.map(build, sorted(ZOO)), strict=True))


@pytest.mark.parametrize("variant", sorted(ZOO))
def test_every_realistic_drop_builds_with_exact_kpis(variant, zoo_builds):
    salt, build = zoo_builds[variant]
    _check_build(variant, build, salt)


#: Entity folders a company may lack (the framework's journeys, jobs and
#: touchpoints are the CX team's own and always present in these drops).
OPTIONAL = (
    "feedback/answers",
    "crm/customers",
    "crm/subscriptions",
    "crm/invoices",
    "web/events",
    "tickets/tickets",
    "framework/initiatives",
    "framework/touchpoint_rules",
    "framework/fx_rates",
)


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    missing=st.sets(st.sampled_from(OPTIONAL), max_size=4),
    fx_months=st.integers(min_value=0, max_value=30),
)
def test_random_drops_build_with_exact_kpis(base_drop, tmp_path_factory, missing, fx_months):
    """Random subsets of entities and random FX start dates: same assertions."""

    def edit(landing: Path) -> None:
        if "framework/fx_rates" not in missing and (landing / "crm/subscriptions").exists():
            _fx_starts_late(landing, fx_months)
        _drop(*sorted(missing))(landing)

    label = f"missing={sorted(missing)} fx_months={fx_months}"
    _check_drop(label, base_drop, tmp_path_factory.mktemp("random"), edit)


def _check_drop(variant: str, base_drop: Path, tmp_path: Path, edit) -> None:
    salt = f"zoo-salt-{uuid.uuid4().hex}"
    _check_build(variant, _build(base_drop, tmp_path, edit, salt), salt)


def _check_build(variant: str, build, salt: str) -> None:
    assert build.returncode == 0, f"{variant}:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        _assert_accounted_for(con)
        marts = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        assert set(MARTS) <= marts, sorted(set(MARTS) - marts)
        got = con.execute(
            "select * from marts.kpi_monthly where level in ('company', 'segment')"
        ).df()
        checks = con.execute(
            "select count(*) from marts.dim_month where not is_complete"
        ).fetchone()[0]
        gaps = con.execute("select count(*) from marts.fct_subscription_fx_gaps").fetchone()[0]
        last_month = con.execute("select max(month) from marts.kpi_monthly").fetchone()[0]
    assert checks >= 1  # at least the last month of the data is incomplete
    differences = compare(kpi_monthly(build.landing), got)
    assert not differences, f"{variant}: {len(differences)} differences, e.g.\n" + "\n".join(
        differences[:20]
    )
    if variant == "fx_starts_late_and_scheduled_ends":
        assert gaps >= 1
        # The months end at the last observed event (the oracle agrees on which).
        assert last_month < pd.Timestamp(SCHEDULED_END).date().replace(day=1)
    _assert_salt_written_nowhere(salt, build)


def _assert_salt_written_nowhere(salt: str, build) -> None:
    """The PII salt is in no file the project produces (warehouse folder, reports,
    dbt's target folder and logs) and in no output of the run."""
    needle = salt.encode()
    assert needle not in (build.stdout + build.stderr).encode()
    places = [build.warehouse.parent, DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs"]
    for place in places:
        if not place.exists():
            continue
        for path in place.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), f"the PII salt is written in {path}"
