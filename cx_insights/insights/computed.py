"""The statistics SQL does not express well (model fits, bootstraps, text analysis),
one function per table, each reading DuckDB relations of the tables it needs.

They run in two places with the same code: on DuckDB as dbt Python models (each
`dbt_project/models/intermediate/insights/<table>.py` passes its `dbt.ref(...)`
relations), on PostgreSQL as Dagster assets (orchestration/defs/transform/
computed.py) that copy the inputs from the target into an in-memory DuckDB with
their exact types (cx_insights.postgres.fetch_into_duckdb) and write the result
back with COPY. dbt-postgres runs no Python models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from cx_insights.insights import initiatives as impact
from cx_insights.insights import risk
from cx_insights.insights.drivers import driver_importance
from cx_insights.insights.financial import (
    CUSTOMER_COLUMNS,
    detractor_to_promoter_estimate,
    nps_financial_link,
)
from cx_insights.insights.frames import count_rows, customer_sample, first_row, sql_date, to_pandas
from cx_insights.insights.verbatims import analyse


def churn_backtest_scored(snapshots) -> pd.DataFrame:
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


def churn_models_backtested(snapshots, scored) -> pd.DataFrame:
    bounds = first_row(snapshots, ["data_end_at"])
    if bounds is None or pd.isna(bounds["data_end_at"]):  # no customer was ever active
        return risk.backtest_frame([])
    as_of = risk.backtest_as_of(bounds["data_end_at"])
    return risk.backtest_frame([risk.backtest(to_pandas(scored), as_of)])


def churn_risks_scored(snapshots) -> pd.DataFrame:
    columns = list(risk.SNAPSHOT_COLUMNS)
    bounds = first_row(snapshots, ["first_data_month_start_date", "end_date"])
    if bounds is None:  # no customer was ever active: no rows, the columns typed
        # (untyped empty columns reach PostgreSQL as integers, which customers_at_risk
        # cannot cast to dates: the zoo's drop without CRM on PostgreSQL)
        empty = to_pandas(snapshots, columns, "false")
        scored = risk.score(risk.fit_snapshots(empty), empty)
        texts = [*scored.select_dtypes("object"), "risk_band", "reasons", "reason_codes"]
        return scored.astype(dict.fromkeys(texts, "string"))
    start, stop = risk.training_range(bounds["first_data_month_start_date"], bounds["end_date"])
    # only outcomes that lie wholly before the last observed event
    training = (
        f"as_of_date between {sql_date(start)} and {sql_date(stop)} and is_3_month_label_observed"
    )
    sample = customer_sample(count_rows(snapshots, training), risk.MAX_TRAINING_ROWS)
    model_fitted = risk.fit_snapshots(to_pandas(snapshots, columns, f"{training} and {sample}"))
    current = to_pandas(snapshots, columns, f"as_of_date = {sql_date(bounds['end_date'])}")
    return risk.score(model_fitted, current)


def driver_importances_computed(statistics, performances) -> pd.DataFrame:
    return driver_importance(to_pandas(statistics), to_pandas(performances))


def initiative_impacts_computed(
    reach, windows, control_journeys, costed, estimates, financial_link
) -> pd.DataFrame:
    reach = to_pandas(reach, ["initiative_id", "customers_reached"])
    windows = to_pandas(
        windows, ["initiative_id", "window_days", "before_start_at", "after_end_at"]
    )
    controls = (
        to_pandas(control_journeys)
        .groupby("initiative_id")["journey_id"]
        .agg(lambda journeys: ",".join(sorted(journeys)))
        .rename("control_journey_ids")
        .reset_index()
    )
    initiatives = (
        to_pandas(costed)
        .merge(reach, on="initiative_id", how="left")
        .merge(windows, on="initiative_id", how="left")
        .merge(controls, on="initiative_id", how="left")
    )
    initiatives["control_journey_ids"] = initiatives["control_journey_ids"].fillna("")
    value = detractor_to_promoter_estimate(to_pandas(financial_link))
    return impact.initiative_impact(
        initiatives,
        impact.estimates_by_key(to_pandas(estimates)),
        value.value,
        is_value_reliable=value.is_reliable,
    )


def nps_financial_links_computed(categories, customer_categories) -> pd.DataFrame:
    return nps_financial_link(
        to_pandas(categories),
        to_pandas(
            customer_categories,
            list(CUSTOMER_COLUMNS),
            "nps_category in ('detractor', 'passive', 'promoter')",
        ),
    )


def verbatims_analysed(verbatims) -> pd.DataFrame:
    return analyse(to_pandas(verbatims, ["response_id", "question_id", "value_text"]))


@dataclass(frozen=True)
class Computed:
    """A computed table: its function and, per argument, the (schema, table) it reads."""

    name: str
    function: Callable[..., pd.DataFrame]
    inputs: dict[str, tuple[str, str]]


def _intermediate(name: str) -> tuple[str, str]:
    return ("intermediate", name)


#: Every computed table, in an order where each one's computed inputs come first.
COMPUTED: tuple[Computed, ...] = (
    Computed(
        "int_verbatims_analysed", verbatims_analysed, {"verbatims": ("marts", "fct_verbatims")}
    ),
    Computed(
        "int_driver_importances_computed",
        driver_importances_computed,
        {
            "statistics": _intermediate("int_driver_statistics_aggregated"),
            "performances": _intermediate("int_driver_performances_aggregated"),
        },
    ),
    Computed(
        "int_nps_financial_links_computed",
        nps_financial_links_computed,
        {
            "categories": _intermediate("int_nps_categories_aggregated"),
            "customer_categories": _intermediate("int_nps_customer_categories_aggregated"),
        },
    ),
    Computed(
        "int_churn_risks_scored",
        churn_risks_scored,
        {"snapshots": _intermediate("int_churn_snapshots_computed")},
    ),
    Computed(
        "int_churn_backtest_scored",
        churn_backtest_scored,
        {"snapshots": _intermediate("int_churn_snapshots_computed")},
    ),
    Computed(
        "int_churn_models_backtested",
        churn_models_backtested,
        {
            "snapshots": _intermediate("int_churn_snapshots_computed"),
            "scored": _intermediate("int_churn_backtest_scored"),
        },
    ),
    Computed(
        "int_initiative_impacts_computed",
        initiative_impacts_computed,
        {
            "reach": _intermediate("int_initiative_reach_counted"),
            "windows": _intermediate("int_initiative_windows"),
            "control_journeys": _intermediate("int_initiative_control_journeys"),
            "costed": _intermediate("int_initiatives_costed"),
            "estimates": _intermediate("int_initiative_estimates"),
            "financial_link": ("marts", "nps_financial_link"),
        },
    ),
)

COMPUTED_BY_NAME = {c.name: c for c in COMPUTED}
