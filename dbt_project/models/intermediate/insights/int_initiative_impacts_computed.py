"""Initiative impact (difference in differences, revenue effect, ROI, "you said, we
did"): see cx_insights.insights.initiatives. Only the fact families and the time
ranges the initiatives' windows need are read."""

import pandas as pd

from cx_insights.insights import initiatives as impact
from cx_insights.insights.financial import detractor_to_promoter_estimate
from cx_insights.insights.frames import in_ranges, to_pandas

#: Per fact family: the columns read and the instants that place a row in a window.
FAMILIES = {
    "answers": (
        ["touchpoint_id", "submitted_at", "question_id", "metric", "value_number"],
        ["submitted_at"],
    ),
    "tickets": (
        ["touchpoint_id", "created_at", "solved_at", "first_response_minutes", "resolution_hours"],
        ["created_at", "solved_at"],
    ),
    "sessions": (
        ["touchpoint_id", "started_at", "has_purchase", "is_bounce", "has_add_to_cart"],
        ["started_at"],
    ),
}


def model(dbt, session):
    dbt.config(materialized="table")
    reach = to_pandas(dbt.ref("int_initiative_reach_counted"))
    initiatives = to_pandas(dbt.ref("int_initiatives_costed")).merge(
        reach[["initiative_id", "customers_reached"]], on="initiative_id", how="left"
    )
    touchpoints = to_pandas(dbt.ref("dim_touchpoint"), ["touchpoint_id", "journey_id"])
    journeys = to_pandas(dbt.ref("dim_journey"), ["journey_id"], "not is_unknown_member")
    link = to_pandas(dbt.ref("nps_financial_link"))
    if reach.empty or pd.isna(reach["data_end_at"].iloc[0]):
        data_start = data_end = pd.Timestamp("1970-01-01")
    else:
        data_start, data_end = reach["data_start_at"].iloc[0], reach["data_end_at"].iloc[0]

    ranges = []
    for row in initiatives.itertuples(index=False):
        ended = None if pd.isna(row.ended_at) else pd.Timestamp(row.ended_at)
        days = impact.window_days(pd.Timestamp(row.started_at), ended, data_start, data_end)
        span = pd.Timedelta(days=days)
        ranges.append((row.started_at - span, row.started_at + span))

    relations = {
        "answers": dbt.ref("fct_survey_answers"),
        "tickets": dbt.ref("fct_tickets"),
        "sessions": dbt.ref("fct_web_sessions"),
    }
    facts = {}
    for family in impact.families_needed(initiatives["target_metric"].dropna().tolist()):
        columns, instants = FAMILIES[family]
        where = in_ranges(instants, ranges)
        if family == "answers":
            where += " and metric in ('nps', 'csat', 'ces') and value_number is not null"
        frame = to_pandas(relations[family], columns, where)
        facts[family] = frame.merge(touchpoints, on="touchpoint_id", how="left")
    questions = to_pandas(dbt.ref("dim_question"), ["question_id", "scale_min", "scale_max"])
    facts["answers"] = (
        facts["answers"]
        .merge(questions, on="question_id", how="inner")
        .rename(columns={"value_number": "value"})
    )
    value = detractor_to_promoter_estimate(link)
    return impact.initiative_impact(
        initiatives,
        facts,
        value.value,
        data_start,
        data_end,
        sorted(journeys["journey_id"]),
        is_value_reliable=value.is_reliable,
    )
