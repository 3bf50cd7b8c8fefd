"""The churn model as it was known at T, the latest month start whose 3-month outcome
lies wholly inside the data: fitted on the snapshots whose outcome was known at T,
scoring every customer active at T, with the baseline rule's score and the outcome.
No rows when the look-back and the horizon do not both fit. See
cx_insights.insights.risk."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.churn_backtest_scored(snapshots=dbt.ref("int_churn_snapshots_computed"))
