-- How each element performs, per level and window (int_driver_windows): one row
-- per (level, level_id, window_name, element_type, element_id) over every answer
-- to it in scope (driver answers for a driver, csat answers on the touchpoint for a touchpoint): answers, the
-- sum of their positions 0..1 on their question's scale, the answers in the
-- top-2 box of their own scale (value >= scale_max - 1), and the element's
-- most common scale (ties: the lowest scale_min, then scale_max).
with

answers as (
    select * from {{ ref('fct_survey_answers') }}
),

questions as (
    select * from {{ ref('dim_question') }}
),

touchpoints as (
    select * from {{ ref('dim_touchpoint') }}
),

windows as (
    select * from {{ ref('int_driver_windows') }}
),

element_answers as (
    select
        touchpoints.journey_id,
        answers.submitted_at,
        case when answers.metric = 'driver' then 'driver' else 'touchpoint' end as element_type,
        case when answers.metric = 'driver' then questions.driver else answers.touchpoint_id end as element_id,
        questions.scale_min,
        questions.scale_max,
        cast(answers.value_number as {{ type_double() }}) as answer_value,
        {{ answer_position('answers.value_number', 'questions.scale_min', 'questions.scale_max') }} as answer_position
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    left join touchpoints
        on answers.touchpoint_id = touchpoints.touchpoint_id
    where
        answers.value_number is not null
        and questions.scale_max > questions.scale_min
        and (
            (answers.metric = 'driver' and questions.driver is not null)
            or (answers.metric = 'csat' and answers.touchpoint_id is not null and answers.touchpoint_id <> 'unknown')
        )
),

levels as (
    select 'company' as level
    union all
    select 'journey' as level
),

scoped_answers as (
    select
        levels.level,
        case when levels.level = 'company' then 'all' else element_answers.journey_id end as level_id,
        windows.window_name,
        element_answers.element_type,
        element_answers.element_id,
        element_answers.scale_min,
        element_answers.scale_max,
        element_answers.answer_value,
        element_answers.answer_position
    from element_answers
    cross join levels
    inner join windows
        on
            windows.window_name = 'all'
            or (
                element_answers.submitted_at >= cast(windows.window_start_date as {{ dbt.type_timestamp() }})
                and element_answers.submitted_at < cast(windows.window_end_date as {{ dbt.type_timestamp() }})
            )
    where
        levels.level = 'company'
        or (element_answers.journey_id is not null and element_answers.journey_id <> 'unknown')
),

element_scales as (
    select
        level,
        level_id,
        window_name,
        element_type,
        element_id,
        scale_min,
        scale_max,
        row_number() over (
            partition by level, level_id, window_name, element_type, element_id
            order by count(*) desc, scale_min asc, scale_max asc
        ) as scale_rank
    from scoped_answers
    group by
        level,
        level_id,
        window_name,
        element_type,
        element_id,
        scale_min,
        scale_max
),

performances as (
    select
        level,
        level_id,
        window_name,
        element_type,
        element_id,
        count(*) as answers,
        {{ exact_sum('answer_position') }} as position_sum,
        sum(case when answer_value >= scale_max - 1 then 1 else 0 end) as top_2_box_answers
    from scoped_answers
    group by
        level,
        level_id,
        window_name,
        element_type,
        element_id
),

final as (
    select
        performances.level,
        performances.level_id,
        performances.window_name,
        performances.element_type,
        performances.element_id,
        performances.answers,
        performances.position_sum,
        performances.top_2_box_answers,
        element_scales.scale_min,
        element_scales.scale_max
    from performances
    inner join element_scales
        on
            performances.level = element_scales.level
            and performances.level_id = element_scales.level_id
            and performances.window_name = element_scales.window_name
            and performances.element_type = element_scales.element_type
            and performances.element_id = element_scales.element_id
    where element_scales.scale_rank = 1
)

select * from final
