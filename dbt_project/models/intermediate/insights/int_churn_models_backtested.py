"""The churn model's backtest (one row): AUC of the scores of
int_churn_backtest_scored with its 95 % interval, against the baseline rule. A null
AUC when the look-back and the horizon do not fit in the data. See
cx_insights.insights.risk."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.churn_models_backtested(
        snapshots=dbt.ref("int_churn_snapshots_computed"),
        scored=dbt.ref("int_churn_backtest_scored"),
    )
