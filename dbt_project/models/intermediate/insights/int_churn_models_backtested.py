"""The churn model's backtest (one row): AUC of the scores of
int_churn_backtest_scored with its 95 % interval, against the baseline rule. A null
AUC when the look-back and the horizon do not fit in the data. See
cx_insights.insights.risk."""

import pandas as pd

from cx_insights.insights import risk
from cx_insights.insights.frames import first_row, to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("int_churn_snapshots_computed")
    bounds = first_row(snapshots, ["data_end_at"])
    if bounds is None or pd.isna(bounds["data_end_at"]):  # no customer was ever active
        return pd.DataFrame(columns=list(risk.BACKTEST_COLUMNS))
    scored = to_pandas(dbt.ref("int_churn_backtest_scored"))
    as_of = risk.backtest_as_of(bounds["data_end_at"])
    return pd.DataFrame([risk.backtest(scored, as_of)], columns=list(risk.BACKTEST_COLUMNS))
