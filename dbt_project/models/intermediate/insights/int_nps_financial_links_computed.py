"""Churn and revenue by latest NPS category, from the per-category sums of
int_nps_categories_aggregated, and the segment-weighted value of moving a
detractor (bootstrapped on int_nps_customer_categories_aggregated): see
cx_insights.insights.financial."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.nps_financial_links_computed(
        categories=dbt.ref("int_nps_categories_aggregated"),
        customer_categories=dbt.ref("int_nps_customer_categories_aggregated"),
    )
