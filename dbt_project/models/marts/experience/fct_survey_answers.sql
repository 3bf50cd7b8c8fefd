with

answers as (
    select * from {{ ref('int_answers_scored') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'survey_response'
),

final as (
    select
        answers.response_id,
        answers.question_id,
        answers.survey_id,
        answers.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        answers.submitted_at,
        cast(answers.submitted_at as date) as submitted_date,
        answers.metric,
        answers.value_number,
        answers.value_text,
        answers.nps_category,
        answers.is_top_2_box,
        answers.ces_score
    from answers
    left join assignments
        on answers.response_id = assignments.subject_id
)

select * from final
