"""Driver importance per journey and for the company, from the sums of
int_driver_statistics_aggregated and int_driver_performances_aggregated: see
cx_insights.insights.drivers."""

from cx_insights.insights.drivers import driver_importance
from cx_insights.insights.frames import to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    pairs = to_pandas(dbt.ref("int_driver_statistics_aggregated"))
    performances = to_pandas(dbt.ref("int_driver_performances_aggregated"))
    return driver_importance(pairs, performances)
