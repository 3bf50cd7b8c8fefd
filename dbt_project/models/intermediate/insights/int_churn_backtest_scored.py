"""The churn model as it was known at T, the latest month start whose 3-month outcome
lies wholly inside the data: fitted on the snapshots whose outcome was known at T,
scoring every customer active at T, with the baseline rule's score and the outcome.
No rows when the look-back and the horizon do not both fit. See
cx_insights.insights.risk."""

import pandas as pd

from cx_insights.insights import risk
from cx_insights.insights.frames import (
    count_rows,
    customer_sample,
    first_row,
    sql_date,
    to_pandas,
)


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("int_churn_snapshots_computed")
    columns = list(risk.SNAPSHOT_COLUMNS)
    empty = risk.empty_backtest_scores()
    bounds = first_row(snapshots, ["first_data_month_start_date", "data_end_at"])
    if bounds is None or pd.isna(bounds["data_end_at"]):
        return empty
    as_of = risk.backtest_as_of(bounds["data_end_at"])
    if not risk.is_backtestable(bounds["first_data_month_start_date"], as_of):
        return empty
    start, stop = risk.training_range(bounds["first_data_month_start_date"], as_of)
    training = f"as_of_date between {sql_date(start)} and {sql_date(stop)}"
    sample = customer_sample(count_rows(snapshots, training), risk.MAX_TRAINING_ROWS)
    model_fitted = risk.fit_snapshots(to_pandas(snapshots, columns, f"{training} and {sample}"))
    test = to_pandas(
        snapshots, columns, f"as_of_date = {sql_date(as_of)} and is_3_month_label_observed"
    )
    return risk.backtest_scores(model_fitted, test, start, stop)
