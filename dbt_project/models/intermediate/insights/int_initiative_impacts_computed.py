"""Initiative impact (difference in differences, revenue effect, ROI, "you said, we
did"): see cx_insights.insights.initiatives. The windows, control journeys and
metric estimates come from SQL (int_initiative_windows,
int_initiative_control_journeys, int_initiative_estimates); this model only
combines them."""

from cx_insights.insights import initiatives as impact
from cx_insights.insights.financial import detractor_to_promoter_estimate
from cx_insights.insights.frames import to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    reach = to_pandas(
        dbt.ref("int_initiative_reach_counted"), ["initiative_id", "customers_reached"]
    )
    windows = to_pandas(
        dbt.ref("int_initiative_windows"),
        ["initiative_id", "window_days", "before_start_at", "after_end_at"],
    )
    # dbt finds refs only as plain call arguments, not inside a method chain.
    control_journeys = to_pandas(dbt.ref("int_initiative_control_journeys"))
    controls = (
        control_journeys.groupby("initiative_id")["journey_id"]
        .agg(lambda journeys: ",".join(sorted(journeys)))
        .rename("control_journey_ids")
        .reset_index()
    )
    costed = to_pandas(dbt.ref("int_initiatives_costed"))
    initiatives = (
        costed.merge(reach, on="initiative_id", how="left")
        .merge(windows, on="initiative_id", how="left")
        .merge(controls, on="initiative_id", how="left")
    )
    initiatives["control_journey_ids"] = initiatives["control_journey_ids"].fillna("")
    estimates = impact.estimates_by_key(to_pandas(dbt.ref("int_initiative_estimates")))
    value = detractor_to_promoter_estimate(to_pandas(dbt.ref("nps_financial_link")))
    return impact.initiative_impact(
        initiatives, estimates, value.value, is_value_reliable=value.is_reliable
    )
