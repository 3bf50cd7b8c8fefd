"""Language, sentiment and topics of each verbatim of fct_verbatims (masked text):
see cx_insights.insights.verbatims."""

from cx_insights.insights.frames import to_pandas
from cx_insights.insights.verbatims import analyse


def model(dbt, session):
    dbt.config(materialized="table")
    verbatims = to_pandas(dbt.ref("fct_verbatims"), ["response_id", "question_id", "value_text"])
    return analyse(verbatims)
