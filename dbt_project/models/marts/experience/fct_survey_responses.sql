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

ranked_nps_answers as (
    select
        response_id,
        value_number,
        nps_category,
        row_number() over (partition by response_id order by question_id asc) as nps_answer_number
    from answers
    where nps_category is not null
),

response_answers as (
    select
        response_id,
        count(*) as answer_count,
        bool_or(metric = 'verbatim' and value_text is not null) as has_verbatim
    from answers
    group by response_id
),

final as (
    select
        responses.response_id,
        responses.survey_id,
        responses.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.assignment_method, 'unknown') as touchpoint_assignment_method,
        responses.channel,
        responses.submitted_at,
        cast(responses.submitted_at as date) as submitted_date,
        coalesce(response_answers.answer_count, 0) as answer_count,
        coalesce(response_answers.has_verbatim, false) as has_verbatim,
        ranked_nps_answers.value_number as nps_score,
        ranked_nps_answers.nps_category
    from responses
    left join assignments
        on responses.response_id = assignments.subject_id
    left join response_answers
        on responses.response_id = response_answers.response_id
    left join ranked_nps_answers
        on
            responses.response_id = ranked_nps_answers.response_id
            and ranked_nps_answers.nps_answer_number = 1
)

select * from final
