"""Driver importance per journey and for the company, from the sums of
int_driver_statistics_aggregated and int_driver_performances_aggregated: see
cx_insights.insights.drivers."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.driver_importances_computed(
        statistics=dbt.ref("int_driver_statistics_aggregated"),
        performances=dbt.ref("int_driver_performances_aggregated"),
    )
