-- Every answer with its question and response, scored for the survey
-- metrics: NPS category (promoter 9..10, detractor 0..6, else passive),
-- CSAT top-2-box on the question's own scale (value >= scale_max - 1) and
-- CES rescaled to 1..7: 1 + 6 x (v - scale_min) / (scale_max - scale_min).
with

answers as (
    select * from {{ ref('stg_feedback__answers') }}
),

questions as (
    select * from {{ ref('stg_feedback__questions') }}
),

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

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
        end as ces_score
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    inner join responses
        on answers.response_id = responses.response_id
)

select * from final
