"""End to end on the shipped sample: `cx-insights run` builds every mart, a second
run changes nothing, a blocking failure stops the models with a clear message,
and a planted bad file is quarantined while the KPIs come only from accepted rows.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cx_insights.config import DBT_PROJECT_DIR, SAMPLE_LANDING_DIR
from cx_insights.contract import ENTITIES
from tests.conftest import run_cli

STAR = [
    "dim_date",
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
    "kpi_monthly",
]
KPI_COLUMNS = [
    ("month", "DATE"),
    ("level", "VARCHAR"),
    ("level_id", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("value", "DOUBLE"),
    ("numerator", "DOUBLE"),
    ("denominator", "DOUBLE"),
    ("n", "BIGINT"),
    ("ci_low", "DOUBLE"),
    ("ci_high", "DOUBLE"),
    ("is_low_sample", "BOOLEAN"),
]


def table_digests(warehouse: Path) -> dict[str, str]:
    """A digest of every table's content (the run log excepted)."""
    digests = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'quarantine', 'staging', 'intermediate', 'marts') "
            "and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            if (schema, table) == ("raw", "_runs"):
                continue
            rows = con.execute(f'select * from {schema}."{table}" order by all').fetchall()
            digests[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def test_sample_build_has_every_mart(sample_build, query_build):
    assert sample_build.returncode == 0, sample_build.stderr
    assert "data-quality report" in sample_build.stdout
    tables = {
        r[0]
        for r in query_build(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    }
    assert set(STAR) <= tables
    schemas = {r[0] for r in query_build("select schema_name from information_schema.schemata")}
    assert {"raw", "quarantine", "staging", "intermediate", "marts"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)


def test_kpi_monthly_contract(sample_build, query_build):
    cols = query_build(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'kpi_monthly' order by ordinal_position"
    )
    assert cols == KPI_COLUMNS
    dupes = query_build(
        "select month, level, level_id, metric, count(*) from marts.kpi_monthly "
        "group by all having count(*) > 1"
    )
    assert dupes == []
    levels = {r[0] for r in query_build("select distinct level from marts.kpi_monthly")}
    assert levels == {"company", "journey", "job", "touchpoint", "segment"}
    assert query_build(
        "select count(*) from marts.kpi_monthly where is_low_sample <> (n < 30)"
    ) == [(0,)]


def test_every_landed_row_is_accounted_for(sample_build, query_build):
    for e in ENTITIES:
        landed = query_build(f"select count(*) from raw.{e.qualified}")[0][0]
        quarantined = query_build(f"select count(*) from quarantine.{e.qualified}")[0][0]
        accepted = query_build(
            f"select count(*) from raw.{e.qualified} as r where not exists (select 1 from "
            f"quarantine.{e.qualified} as q where q._source_file = r._source_file "
            "and q._source_line = r._source_line)"
        )[0][0]
        assert landed == accepted + quarantined, e.qualified
        assert landed > 0, e.qualified


def test_no_pii_beyond_raw(sample_build, query_build):
    for schema in ("staging", "intermediate", "marts"):
        cols = {
            r[0]
            for r in query_build(
                "select column_name from information_schema.columns where table_schema = ?",
                [schema],
            )
        }
        assert "full_name" not in cols and "email" not in cols, schema
    leaked = query_build(
        "select count(*) from marts.fct_survey_answers "
        "where regexp_matches(coalesce(value_text, ''), "
        "'[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]+')"
    )
    assert leaked == [(0,)]


def _month_of(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_localize(None).dt.to_period("M")


def _read_entity(source: str, entity: str) -> pd.DataFrame:
    """Every file of an entity, in the contract's order, latest row per key last."""
    frames = []
    folder = SAMPLE_LANDING_DIR / source / entity
    files = sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
    for i, path in enumerate(files):
        if path.suffix == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        elif path.suffix == ".parquet":
            df = pd.read_parquet(path).astype(object)
            df = df.where(df.notna(), None)
        else:
            df = pd.read_json(path, lines=True, dtype=False).astype(object)
            df = df.where(df.notna(), None)
        df.columns = [c.lower() for c in df.columns]
        df["_file_order"] = i
        df["_line"] = range(len(df))
        frames.append(df)
    return pd.concat(frames, ignore_index=True).sort_values(["_file_order", "_line"])


def test_company_kpis_match_an_independent_calculation(sample_build, query_build):
    """Recompute a few company-level KPIs straight from the landing files with pandas."""
    months = query_build(
        "select max(month) from marts.kpi_monthly where level = 'company' and metric = 'nps'"
    )
    month = pd.Period(months[0][0], "M") - 2  # a complete month with plenty of data

    # NPS: answers to nps questions, value within 0..10, whose response exists.
    q = _read_entity("feedback", "questions").drop_duplicates("question_id", keep="last")
    r = _read_entity("feedback", "responses").dropna(subset=["submitted_at"])
    r = r.drop_duplicates("response_id", keep="last")
    a = _read_entity("feedback", "answers")
    a["v"] = pd.to_numeric(a["value_number"], errors="coerce")
    a = a.merge(q[["question_id", "metric", "scale_min", "scale_max"]], on="question_id")
    lo, hi = pd.to_numeric(a.scale_min), pd.to_numeric(a.scale_max)
    a = a[a.v.notna() & (a.v >= lo) & (a.v <= hi)]
    a = a.drop_duplicates(["response_id", "question_id"], keep="last")
    a = a.merge(r[["response_id", "submitted_at"]], on="response_id")
    a["month"] = _month_of(a.submitted_at)
    nps = a[(a.metric == "nps") & (a.month == month)]
    expected_nps = 100 * ((nps.v >= 9).sum() - (nps.v <= 6).sum()) / len(nps)
    got = query_build(
        "select value, n from marts.kpi_monthly where level = 'company' and metric = 'nps' "
        "and month = ?",
        [month.start_time.date()],
    )
    assert got[0][1] == len(nps)
    assert got[0][0] == pytest.approx(expected_nps, abs=1e-9)

    csat = a[(a.metric == "csat") & (a.month == month)]
    expected_csat = 100 * (csat.v >= pd.to_numeric(csat.scale_max) - 1).sum() / len(csat)
    got = query_build(
        "select value, n from marts.kpi_monthly where level = 'company' and metric = 'csat' "
        "and month = ?",
        [month.start_time.date()],
    )
    assert got[0] == (pytest.approx(expected_csat, abs=1e-9), len(csat))

    # Tickets created: latest accepted row per ticket, counted in its created_at month.
    t = _read_entity("tickets", "tickets")
    created = pd.to_datetime(t.created_at, utc=True, format="ISO8601")
    for col in ("first_response_at", "solved_at"):
        later = pd.to_datetime(t[col], utc=True, format="ISO8601")
        t = t[later.isna() | (later >= created)]
        created = created[t.index]
    t = t.drop_duplicates("ticket_id", keep="last")
    expected_tickets = (_month_of(t.created_at) == month).sum()
    got = query_build(
        "select value from marts.kpi_monthly where level = 'company' "
        "and metric = 'tickets_created' and month = ?",
        [month.start_time.date()],
    )
    assert got[0][0] == expected_tickets


def test_second_run_changes_nothing(sample_build, tmp_path_factory):
    before = table_digests(sample_build.warehouse)
    dbt_folders = set((DBT_PROJECT_DIR / "target").glob("cx_dbt_models-*"))
    again = run_cli(["run"], sample_build.landing, sample_build.warehouse)
    assert again.returncode == 0, again.stderr
    assert table_digests(sample_build.warehouse) == before
    # Nothing piles up: dbt's artefacts go to one folder beside the warehouse.
    assert set((DBT_PROJECT_DIR / "target").glob("cx_dbt_models-*")) <= dbt_folders
    assert (sample_build.warehouse.parent / "dbt_target" / "run_results.json").exists()
    # The staging tests re-proving the gate checked only the rows gated since the
    # previous run (none here); the first build tested every row.
    target = sample_build.warehouse.parent / "dbt_target" / "run"
    (compiled,) = target.rglob("unique_stg_web__events_event_id.sql")
    assert "where _gated_at >= cast(" in compiled.read_text()
    # The incremental models' key tests read the keys written since then (none);
    # those without a marker column, the keys their upstream rows or digests wrote.
    key_tests = [p.read_text() for p in target.rglob("unique_keys_written_since_test*.sql")]
    assert len(key_tests) == 12
    assert sum("where _sessionised_at > cast(" in sql for sql in key_tests) == 1
    assert sum("inner join written\n" in sql for sql in key_tests) == 7
    assert sum("where _written_at > cast(" in sql for sql in key_tests) == 11


def test_missing_required_column_blocks_the_models(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING_DIR, landing)
    bad = landing / "crm" / "subscriptions" / "zz-broken.csv"
    bad.write_text("subscription_id,customer_id,currency,started_at\nS-X,C-1,EUR,2026-01-01\n")
    warehouse = tmp_path / "w" / "cx.duckdb"
    result = run_cli(["run"], landing, warehouse)
    assert result.returncode != 0
    assert "crm/subscriptions/zz-broken.csv" in result.stderr
    assert "files_readable" in result.stderr
    assert "mrr" in result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    assert marts == 0


def test_planted_bad_rows_are_quarantined_and_kpis_use_only_accepted_rows(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING_DIR, landing)
    (landing / "tickets" / "tickets" / "zz-planted.csv").write_text(
        "ticket_id,created_at,status,solved_at,channel\n"
        "PLANT-1,2026-03-10T10:00:00Z,solved,2026-03-09T10:00:00Z,email\n"
        "PLANT-2,2026-03-10T10:00:00Z,teleported,,email\n"
        "PLANT-3,not a date,open,,email\n"
        "PLANT-4,2026-03-10T10:00:00Z,open,,email\n"
    )
    warehouse = tmp_path / "w" / "cx.duckdb"
    result = run_cli(["run"], landing, warehouse)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rules = dict(
            con.execute(
                "select _source_line, _rule from quarantine.tickets__tickets "
                "where _source_file like '%zz-planted.csv'"
            ).fetchall()
        )
        facts = {
            r[0]
            for r in con.execute(
                "select ticket_id from marts.fct_tickets where ticket_id like 'PLANT-%'"
            ).fetchall()
        }
    assert rules == {2: "solved_after_created", 3: "enum:status", 4: "type:created_at"}
    assert facts == {"PLANT-4"}


def test_cli_help_lists_the_commands():
    out = subprocess.run(
        [shutil.which("cx-insights") or "cx-insights", "--help"], capture_output=True, text=True
    )
    for command in ("run", "generate", "report", "status"):
        assert command in out.stdout
