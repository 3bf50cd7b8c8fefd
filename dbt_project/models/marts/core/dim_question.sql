with

questions as (
    select * from {{ ref('stg_feedback__questions') }}
),

final as (
    select
        question_id,
        survey_id,
        metric,
        driver,
        scale_min,
        scale_max,
        question_text
    from questions
)

select * from final
