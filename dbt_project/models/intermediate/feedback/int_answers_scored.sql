-- Every answer with its question and response, scored for the survey
-- metrics: NPS category (promoter 9..10, detractor 0..6, else passive),
-- CSAT top-2-box on the question's own scale (value >= scale_max - 1) and
-- CES rescaled to 1..7: 1 + 6 x (v - scale_min) / (scale_max - scale_min).
--
-- Incremental by answer. A row depends on its answer, its response and its
-- question. Each row keeps the `_gated_at` of the answer and of the response
-- it was built from; a run recomputes the answers gated after the latest
-- answer marker stored here and every answer of the responses gated after
-- the latest response marker (an updated response changes its answers'
-- customer and month; a response that arrives after its answers brings them
-- in), and replaces them by (response_id, question_id). Answers gone upstream
-- (a complete re-gate dropped them or their response) are deleted by the
-- post-hook (counts first, the anti-join only when they differ). Other
-- questions (their MD5 is stored in every row; a new question too) recompute
-- every answer. On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py (as for the web models).
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key=['response_id', 'question_id'],
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_answers_missing_upstream() }}",
) }}

{#- Stored rows that lack a documented column (older version) are recomputed whole. -#}
{%- set incremental_run = is_incremental() and relation_has_columns(this, model.columns.keys() | list) %}

with

all_answers as (
    select * from {{ ref('stg_feedback__answers') }}
),

questions as (
    select * from {{ ref('stg_feedback__questions') }}
),

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

questions_digest as (
    select {{ rows_digest(['question_id', 'metric', 'driver', 'scale_min', 'scale_max']) }} as digest
    from questions
),

{% if incremental_run %}
stored_state as (
    select
        max(_answer_gated_at) as answer_marker,
        max(_response_gated_at) as response_marker,
        max(_questions_digest) as questions_digest
    from {{ this }}
),

changed_responses as (
    select responses.response_id
    from responses
    cross join stored_state
    where stored_state.response_marker is null or responses._gated_at > stored_state.response_marker
),

answers as (
    select all_answers.*
    from all_answers
    cross join stored_state
    cross join questions_digest
    where
        stored_state.answer_marker is null
        or all_answers._gated_at > stored_state.answer_marker
        or stored_state.questions_digest is null
        or stored_state.questions_digest <> questions_digest.digest
        or all_answers.response_id in (select changed_responses.response_id from changed_responses)
),
{% else %}
answers as (
    select * from all_answers
),
{% endif %}

final as (
    select
        answers.response_id,
        answers.question_id,
        responses.survey_id,
        responses.customer_id,
        responses.submitted_at,
        {{ month_start('responses.submitted_at') }} as submitted_month_start_date,
        questions.metric,
        questions.driver,
        questions.scale_min,
        questions.scale_max,
        answers.value_number,
        answers.value_text,
        case
            when questions.metric <> 'nps' or answers.value_number is null then null
            when answers.value_number >= 9 then 'promoter'
            when answers.value_number <= 6 then 'detractor'
            else 'passive'
        end as nps_category,
        case
            when questions.metric = 'csat' and answers.value_number is not null
                then answers.value_number >= questions.scale_max - 1
        end as is_top_2_box,
        case
            when questions.metric = 'ces' and answers.value_number is not null
                then 1 + 6 * (
                        cast(answers.value_number as {{ type_double() }})
                        - cast(questions.scale_min as {{ type_double() }})
                    ) / cast(questions.scale_max - questions.scale_min as {{ type_double() }})
        end as ces_score,
        answers._gated_at as _answer_gated_at,
        responses._gated_at as _response_gated_at,
        questions_digest.digest as _questions_digest,
        {{ run_marker() }} as _written_at
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    inner join responses
        on answers.response_id = responses.response_id
    cross join questions_digest
)

select * from final
