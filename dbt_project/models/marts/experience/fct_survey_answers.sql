-- One row per survey answer with the touchpoint of its response.
--
-- Incremental by answer (its contract leaves no room for a marker column, so
-- the latest `_written_at` of the upstream rows its last build read is its
-- watermark: stored_watermark(), macros/incremental/incremental_helpers.sql). A run
-- recomputes the answers int_answers_scored wrote after the watermark (new,
-- corrected, or of an updated response or question) and every answer of the
-- responses whose touchpoint assignment was written after it (rules or
-- touchpoints changed), and replaces them by (response_id, question_id).
-- Answers gone from int_answers_scored are deleted by the post-hook (counts
-- first, the anti-join only when they differ). On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key=['response_id', 'question_id'],
    on_schema_change='append_new_columns',
    pre_hook="{{ record_built_whole() }}",
    post_hook=[
        "{{ delete_rows_missing_from(ref('int_answers_scored'), dbt.concat(['response_id', \"'|'\", 'question_id'])) }}",
        "{{ record_watermark([ref('int_answers_scored'), ref('int_touchpoint_assignments_resolved')]) }}",
    ],
) }}

{%- set watermark = stored_watermark() %}

with

answers as (
    select * from {{ ref('int_answers_scored') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'survey_response'
),

{% if watermark %}
reassigned_responses as (
    select subject_id as response_id
    from assignments
    where _written_at > {{ watermark }}
),

scoped_answers as (
    select *
    from answers
    where
        _written_at > {{ watermark }}
        or response_id in (select reassigned_responses.response_id from reassigned_responses)
),
{% else %}
scoped_answers as (
    select * from answers
),
{% endif %}

final as (
    select
        scoped_answers.response_id,
        scoped_answers.question_id,
        scoped_answers.survey_id,
        scoped_answers.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        scoped_answers.submitted_at,
        cast(scoped_answers.submitted_at as date) as submitted_date,
        scoped_answers.metric,
        scoped_answers.value_number,
        scoped_answers.value_text,
        scoped_answers.nps_category,
        scoped_answers.is_top_2_box,
        scoped_answers.ces_score
    from scoped_answers
    left join assignments
        on scoped_answers.response_id = assignments.subject_id
)

select * from final
