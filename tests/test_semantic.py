"""The semantic layer (MetricFlow, dbt_project/models/semantic/) gives the numbers of
marts.kpi_monthly on the sample build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cx_insights.config import DBT_PROJECT_DIR

MF = str(Path(sys.executable).parent / "mf")
COMPANY_METRICS = [
    "nps",
    "csat",
    "ces",
    "tickets_created",
    "avg_resolution_hours",
    "median_first_response_minutes",
    "sessions",
    "conversion_rate",
    "bounce_rate",
    "cart_abandonment_rate",
    "active_customers_start",
    "active_customers_end",
    "new_customers",
    "lost_customers",
    "churn_rate",
    "mrr_start",
    "mrr_end",
    "revenue_churn_rate",
    "revenue",
]


@pytest.fixture(scope="module")
def mf(sample_build):
    """`mf <args>` from dbt_project/ on the sample build's working warehouse."""
    from orchestration.defs.transform.project import cx_dbt_project

    cx_dbt_project()  # dbt parse when a model changed: mf reads target/semantic_manifest.json
    env = {
        **os.environ,
        "CX_WAREHOUSE": str(sample_build.warehouse),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }

    def _mf(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [MF, *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    return _mf


def compare(warehouse: Path, csv: Path, kpi_filter: str, level_id: str) -> list[tuple]:
    """kpi_monthly rows and MetricFlow's (month, level_id, metric) values that differ."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"""
            with mf_wide as (
                select * from read_csv('{csv}', header = true) where {level_id} is not null
            ),
            mf as (
                unpivot mf_wide on columns(* exclude (metric_time__month, {level_id}))
                into name metric value value
            ),
            kpi as (
                select month, level_id, metric, value from marts.kpi_monthly where {kpi_filter}
            )
            select kpi.month, kpi.level_id, kpi.metric, kpi.value, mf.value
            from kpi
            full join mf
                on cast(mf.metric_time__month as date) = kpi.month
                and cast(mf.{level_id} as varchar) = kpi.level_id
                and mf.metric = kpi.metric
            where not (
                (kpi.value is null and mf.value is null)  -- unpivot drops null ratios
                or (kpi.value is null and mf.metric is null)
                or abs(kpi.value - mf.value) <= 1e-9 * greatest(1, abs(kpi.value))
            )
            order by all
            """
        ).fetchall()


def test_validate_configs_passes(mf):
    done = mf("validate-configs")
    assert "ERRORS: 0" in done.stdout


def test_nps_by_month_and_journey_equals_kpi_monthly(mf, sample_build, tmp_path):
    csv = tmp_path / "nps.csv"
    mf(
        "query",
        "--metrics",
        "nps",
        "--group-by",
        "metric_time__month,touchpoint__journey",
        "--csv",
        str(csv),
    )
    differences = compare(
        sample_build.warehouse,
        csv,
        "level = 'journey' and metric = 'nps'",
        "touchpoint__journey",
    )
    assert differences == []
    with duckdb.connect(str(sample_build.warehouse), read_only=True) as con:
        journeys = con.execute(
            f"select count(distinct touchpoint__journey) from read_csv('{csv}') "
            "where nps is not null"
        ).fetchone()[0]
    assert journeys == 5  # four journeys and `unknown`


def test_every_company_metric_equals_kpi_monthly(mf, sample_build, tmp_path):
    csv = tmp_path / "company.csv"
    mf(
        "query",
        "--metrics",
        ",".join(COMPANY_METRICS),
        "--group-by",
        "metric_time__month",
        "--csv",
        str(csv),
    )
    with duckdb.connect() as con:
        con.execute(
            f"copy (select *, 'all' as company from read_csv('{csv}')) to '{csv}.all.csv' "
            "(header true)"
        )
    differences = compare(
        sample_build.warehouse, Path(f"{csv}.all.csv"), "level = 'company'", "company"
    )
    assert differences == []


def test_customer_metrics_by_segment_equal_kpi_monthly(mf, sample_build, tmp_path):
    csv = tmp_path / "segment.csv"
    mf(
        "query",
        "--metrics",
        "churn_rate,revenue_churn_rate,mrr_start,revenue,nps,tickets_created",
        "--group-by",
        "metric_time__month,customer__segment",
        "--csv",
        str(csv),
    )
    differences = compare(
        sample_build.warehouse,
        csv,
        "level = 'segment' and metric in ('churn_rate', 'revenue_churn_rate', 'mrr_start', "
        "'revenue', 'nps', 'tickets_created') and level_id <> 'unknown'",
        "customer__segment",
    )
    # kpi_monthly's `unknown` segment also holds rows without a customer, which have no
    # customer to join through (MetricFlow groups them under a null segment).
    assert differences == []
