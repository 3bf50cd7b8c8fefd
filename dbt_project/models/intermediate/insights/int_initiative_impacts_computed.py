"""Initiative impact (difference in differences, revenue effect, ROI, "you said, we
did"): see cx_insights.insights.initiatives. The windows, control journeys and
metric estimates come from SQL (int_initiative_windows,
int_initiative_control_journeys, int_initiative_estimates); this model only
combines them."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.initiative_impacts_computed(
        reach=dbt.ref("int_initiative_reach_counted"),
        windows=dbt.ref("int_initiative_windows"),
        control_journeys=dbt.ref("int_initiative_control_journeys"),
        costed=dbt.ref("int_initiatives_costed"),
        estimates=dbt.ref("int_initiative_estimates"),
        financial_link=dbt.ref("nps_financial_link"),
    )
