"""The churn model's backtest: fitted on what was known 6 months before the end of the
data (T), scored on the customers active at T, AUC for churn after T. See
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
    bounds = first_row(snapshots, ["first_data_month_start_date", "end_date"])
    if bounds is None:  # no customer was ever active
        return pd.DataFrame(columns=list(risk.BACKTEST_COLUMNS))
    as_of = risk.add_months(bounds["end_date"], -risk.BACKTEST_MONTHS)
    start, stop = risk.training_range(bounds["first_data_month_start_date"], as_of)
    training = f"as_of_date between {sql_date(start)} and {sql_date(stop)}"
    sample = customer_sample(count_rows(snapshots, training), risk.MAX_TRAINING_ROWS)
    model_fitted = risk.fit_snapshots(to_pandas(snapshots, columns, f"{training} and {sample}"))
    test = to_pandas(snapshots, columns, f"as_of_date = {sql_date(as_of)}")
    return pd.DataFrame([risk.backtest(model_fitted, test, as_of, start)])
