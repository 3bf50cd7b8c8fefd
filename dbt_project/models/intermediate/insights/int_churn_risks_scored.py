"""Churn risk of every customer active at the end of the data, with its band and
reasons: see cx_insights.insights.risk."""

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
        return pd.DataFrame(columns=columns + list(risk.SCORE_COLUMNS))
    start, stop = risk.training_range(bounds["first_data_month_start_date"], bounds["end_date"])
    # only outcomes that lie wholly before the last observed event
    training = (
        f"as_of_date between {sql_date(start)} and {sql_date(stop)} and is_3_month_label_observed"
    )
    sample = customer_sample(count_rows(snapshots, training), risk.MAX_TRAINING_ROWS)
    model_fitted = risk.fit_snapshots(to_pandas(snapshots, columns, f"{training} and {sample}"))
    current = to_pandas(snapshots, columns, f"as_of_date = {sql_date(bounds['end_date'])}")
    return risk.score(model_fitted, current)
