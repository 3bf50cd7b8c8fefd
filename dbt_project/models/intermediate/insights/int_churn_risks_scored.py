"""Churn risk of every customer active at the end of the data, with its band and
reasons: see cx_insights.insights.risk."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.churn_risks_scored(snapshots=dbt.ref("int_churn_snapshots_computed"))
