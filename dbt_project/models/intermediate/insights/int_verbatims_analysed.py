"""Language, sentiment and topics of each verbatim of fct_verbatims (masked text):
see cx_insights.insights.verbatims."""

from cx_insights.insights import computed


def model(dbt, session):
    # The same function runs as a Dagster asset on targets without Python models
    # (cx_insights.insights.computed). dbt finds refs only as plain call arguments.
    dbt.config(materialized="table")
    return computed.verbatims_analysed(verbatims=dbt.ref("fct_verbatims"))
