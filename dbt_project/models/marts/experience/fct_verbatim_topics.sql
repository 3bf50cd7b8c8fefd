-- What customers write: one row per verbatim and topic it belongs to (a verbatim
-- with no topic has one row with a null topic), with its language and
-- sentiment. Language, sentiment and topics come from the Python model
-- int_verbatims_analysed; the text is fct_verbatims' (PII masked). The topics
-- come from one NMF fit over every verbatim (a new verbatim can move others'
-- topics), so this table is an insight: rebuilt on the insights' schedule.
{{ config(tags=['insights']) }}

with

analysed as (
    select * from {{ computed('int_verbatims_analysed') }}
),

verbatims as (
    select * from {{ ref('fct_verbatims') }}
),

final as (
    select
        verbatims.response_id,
        verbatims.question_id,
        verbatims.customer_id,
        verbatims.touchpoint_id,
        verbatims.submitted_at,
        verbatims.nps_score,
        analysed.language,
        cast(analysed.sentiment as {{ type_double() }}) as sentiment,
        analysed.sentiment_label,
        analysed.sentiment_method,
        analysed.topic_id,
        analysed.topic_label,
        cast(analysed.topic_weight as {{ type_double() }}) as topic_weight,
        verbatims.value_text
    from verbatims
    inner join analysed
        on
            verbatims.response_id = analysed.response_id
            and verbatims.question_id = analysed.question_id
)

select * from final
