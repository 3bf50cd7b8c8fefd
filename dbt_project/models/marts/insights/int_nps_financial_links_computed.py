"""Churn and revenue by latest NPS category, from the per-category sums of
int_nps_categories_aggregated: see cx_insights.insights.financial."""

from cx_insights.insights.financial import nps_financial_link
from cx_insights.insights.frames import to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    return nps_financial_link(to_pandas(dbt.ref("int_nps_categories_aggregated")))
