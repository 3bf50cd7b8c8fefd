"""Churn and revenue by latest NPS category, from the per-category sums of
int_nps_categories_aggregated, and the segment-weighted value of moving a
detractor (bootstrapped on int_nps_customer_categories_aggregated): see
cx_insights.insights.financial."""

from cx_insights.insights.financial import CUSTOMER_COLUMNS, nps_financial_link
from cx_insights.insights.frames import to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    return nps_financial_link(
        to_pandas(dbt.ref("int_nps_categories_aggregated")),
        to_pandas(
            dbt.ref("int_nps_customer_categories_aggregated"),
            list(CUSTOMER_COLUMNS),
            "nps_category in ('detractor', 'passive', 'promoter')",
        ),
    )
