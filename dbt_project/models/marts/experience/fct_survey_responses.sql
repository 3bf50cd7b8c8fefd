-- One row per survey response: its touchpoint, answer count, whether it has a
-- verbatim, and its NPS answer (the first nps question by question_id).
--
-- Incremental by response, with a watermark as fct_survey_answers. A run
-- recomputes the responses whose touchpoint assignment was written after the
-- watermark (every new or updated response is resolved again, and every
-- response when rules or touchpoints change) and the responses of the answers
-- int_answers_scored wrote after it, and replaces them by response_id.
-- Responses gone upstream are deleted by the post-hook. (An answer only
-- disappears in a complete re-gate, which rewrites every response's
-- assignment: its response is recomputed.) On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key='response_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ record_built_whole() }}",
    post_hook=[
        "{{ delete_rows_missing_from(ref('stg_feedback__responses'), 'response_id') }}",
        "{{ record_watermark([ref('int_answers_scored'), ref('int_touchpoint_assignments_resolved')]) }}",
    ],
) }}

{%- set watermark = stored_watermark() %}

with

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

answers as (
    select * from {{ ref('int_answers_scored') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'survey_response'
),

{% if watermark %}
changed_responses as (
    select subject_id as response_id
    from assignments
    where _written_at > {{ watermark }}
    union
    select response_id
    from answers
    where _written_at > {{ watermark }}
),

scoped_responses as (
    select *
    from responses
    where response_id in (select changed_responses.response_id from changed_responses)
),

scoped_answers as (
    select *
    from answers
    where response_id in (select changed_responses.response_id from changed_responses)
),
{% else %}
scoped_responses as (
    select * from responses
),

scoped_answers as (
    select * from answers
),
{% endif %}

ranked_nps_answers as (
    select
        response_id,
        value_number,
        nps_category,
        row_number() over (partition by response_id order by question_id asc) as nps_answer_number
    from scoped_answers
    where nps_category is not null
),

response_answers as (
    select
        response_id,
        count(*) as answer_count,
        bool_or(metric = 'verbatim' and value_text is not null) as has_verbatim
    from scoped_answers
    group by response_id
),

final as (
    select
        scoped_responses.response_id,
        scoped_responses.survey_id,
        scoped_responses.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.assignment_method, 'unknown') as touchpoint_assignment_method,
        scoped_responses.channel,
        scoped_responses.submitted_at,
        cast(scoped_responses.submitted_at as date) as submitted_date,
        coalesce(response_answers.answer_count, 0) as answer_count,
        coalesce(response_answers.has_verbatim, false) as has_verbatim,
        ranked_nps_answers.value_number as nps_score,
        ranked_nps_answers.nps_category
    from scoped_responses
    left join assignments
        on scoped_responses.response_id = assignments.subject_id
    left join response_answers
        on scoped_responses.response_id = response_answers.response_id
    left join ranked_nps_answers
        on
            scoped_responses.response_id = ranked_nps_answers.response_id
            and ranked_nps_answers.nps_answer_number = 1
)

select * from final
