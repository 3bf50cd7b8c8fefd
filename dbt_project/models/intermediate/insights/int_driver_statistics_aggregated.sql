-- The sums driver importance is computed from, so that no answer has to leave
-- the database. One row per (level, level_id, element_type, element_a,
-- element_b, window_name: int_driver_windows) with, over the survey responses
-- of the window holding both, the count n and
-- sum_a, sum_b, sum_aa, sum_bb, sum_ab of the two values (a Pearson
-- correlation follows from these). Levels: the company (level_id 'all', every
-- response) and each known journey (the responses on its touchpoints).
--
-- element_type 'driver': every pair of drivers, and every driver with the NPS
-- answer (element_b '__nps__'), both over the responses with an NPS answer (so
-- the correlation matrix rests on one set of responses); driver values are
-- positions 0..1 on their question's scale. The row (element_a '__any__',
-- element_b '__nps__') counts the responses with an NPS answer and at least one
-- driver answer (n only).
-- element_type 'touchpoint': each touchpoint's csat position with the NPS
-- answer of the same response (element_b '__nps__').
-- element_type 'topic': what customers write as drivers. Over the responses
-- with an NPS answer and an analysed comment (fct_verbatim_topics), each
-- topic's indicator (1 when the comment is about it, else 0) with the NPS
-- answer and with every other topic's indicator, and the ('__any__',
-- '__nps__') size row, as for drivers.
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

verbatim_topics as (
    select * from {{ ref('fct_verbatim_topics') }}
),

scored_answers as (
    select
        answers.response_id,
        answers.submitted_at,
        answers.touchpoint_id,
        touchpoints.journey_id,
        answers.metric,
        questions.driver,
        cast(answers.value_number as {{ type_double() }}) as answer_value,
        {{ answer_position('answers.value_number', 'questions.scale_min', 'questions.scale_max') }} as answer_position
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    left join touchpoints
        on answers.touchpoint_id = touchpoints.touchpoint_id
    where
        answers.metric in ('nps', 'driver', 'csat')
        and answers.value_number is not null
        and questions.scale_max > questions.scale_min
),

levels as (
    select 'company' as level
    union all
    select 'journey' as level
),

scoped_answers as (
    select
        levels.level,
        case when levels.level = 'company' then 'all' else scored_answers.journey_id end as level_id,
        windows.window_name,
        scored_answers.response_id,
        scored_answers.touchpoint_id,
        scored_answers.metric,
        scored_answers.driver,
        scored_answers.answer_value,
        scored_answers.answer_position
    from scored_answers
    cross join levels
    inner join windows
        on
            windows.window_name = 'all'
            or (
                scored_answers.submitted_at >= cast(windows.window_start_date as {{ dbt.type_timestamp() }})
                and scored_answers.submitted_at < cast(windows.window_end_date as {{ dbt.type_timestamp() }})
            )
    where
        levels.level = 'company'
        or (scored_answers.journey_id is not null and scored_answers.journey_id <> 'unknown')
),

response_nps as (
    select
        level,
        level_id,
        window_name,
        response_id,
        avg(answer_value) as nps_value
    from scoped_answers
    where metric = 'nps'
    group by
        level,
        level_id,
        window_name,
        response_id
),

response_drivers as (
    select
        level,
        level_id,
        window_name,
        response_id,
        driver,
        avg(answer_position) as driver_value
    from scoped_answers
    where
        metric = 'driver'
        and driver is not null
    group by
        level,
        level_id,
        window_name,
        response_id,
        driver
),

response_csat as (
    select
        level,
        level_id,
        window_name,
        response_id,
        touchpoint_id,
        avg(answer_position) as csat_value
    from scoped_answers
    where
        metric = 'csat'
        and touchpoint_id is not null
        and touchpoint_id <> 'unknown'
    group by
        level,
        level_id,
        window_name,
        response_id,
        touchpoint_id
),

nps_response_drivers as (
    -- The driver answers of responses with an NPS answer in scope, with that answer:
    -- driver-to-driver and driver-to-NPS sums both come from these rows.
    select
        response_drivers.*,
        response_nps.nps_value
    from response_drivers
    inner join response_nps
        on
            response_drivers.level = response_nps.level
            and response_drivers.level_id = response_nps.level_id
            and response_drivers.window_name = response_nps.window_name
            and response_drivers.response_id = response_nps.response_id
),

driver_pairs as (
    select
        first_drivers.level,
        first_drivers.level_id,
        first_drivers.window_name,
        'driver' as element_type,
        first_drivers.driver as element_a,
        second_drivers.driver as element_b,
        count(*) as n,
        {{ exact_sum('first_drivers.driver_value') }} as sum_a,
        {{ exact_sum('second_drivers.driver_value') }} as sum_b,
        {{ exact_sum('first_drivers.driver_value * first_drivers.driver_value') }} as sum_aa,
        {{ exact_sum('second_drivers.driver_value * second_drivers.driver_value') }} as sum_bb,
        {{ exact_sum('first_drivers.driver_value * second_drivers.driver_value') }} as sum_ab
    from nps_response_drivers as first_drivers
    inner join nps_response_drivers as second_drivers
        on
            first_drivers.level = second_drivers.level
            and first_drivers.level_id = second_drivers.level_id
            and first_drivers.window_name = second_drivers.window_name
            and first_drivers.response_id = second_drivers.response_id
            and first_drivers.driver < second_drivers.driver
    group by
        first_drivers.level,
        first_drivers.level_id,
        first_drivers.window_name,
        first_drivers.driver,
        second_drivers.driver
),

driver_nps_pairs as (
    select
        level,
        level_id,
        window_name,
        'driver' as element_type,
        driver as element_a,
        '__nps__' as element_b,
        count(*) as n,
        {{ exact_sum('driver_value') }} as sum_a,
        {{ exact_sum('nps_value') }} as sum_b,
        {{ exact_sum('driver_value * driver_value') }} as sum_aa,
        {{ exact_sum('nps_value * nps_value') }} as sum_bb,
        {{ exact_sum('driver_value * nps_value') }} as sum_ab
    from nps_response_drivers
    group by
        level,
        level_id,
        window_name,
        driver
),

rated_responses as (
    select distinct
        level,
        level_id,
        window_name,
        response_id
    from response_drivers
),

driver_model_sizes as (
    select
        response_nps.level,
        response_nps.level_id,
        response_nps.window_name,
        'driver' as element_type,
        '__any__' as element_a,
        '__nps__' as element_b,
        count(*) as n,
        cast(null as {{ type_double() }}) as sum_a,
        cast(null as {{ type_double() }}) as sum_b,
        cast(null as {{ type_double() }}) as sum_aa,
        cast(null as {{ type_double() }}) as sum_bb,
        cast(null as {{ type_double() }}) as sum_ab
    from response_nps
    inner join rated_responses
        on
            response_nps.level = rated_responses.level
            and response_nps.level_id = rated_responses.level_id
            and response_nps.window_name = rated_responses.window_name
            and response_nps.response_id = rated_responses.response_id
    group by
        response_nps.level,
        response_nps.level_id,
        response_nps.window_name
),

touchpoint_nps_pairs as (
    select
        response_csat.level,
        response_csat.level_id,
        response_csat.window_name,
        'touchpoint' as element_type,
        response_csat.touchpoint_id as element_a,
        '__nps__' as element_b,
        count(*) as n,
        {{ exact_sum('response_csat.csat_value') }} as sum_a,
        {{ exact_sum('response_nps.nps_value') }} as sum_b,
        {{ exact_sum('response_csat.csat_value * response_csat.csat_value') }} as sum_aa,
        {{ exact_sum('response_nps.nps_value * response_nps.nps_value') }} as sum_bb,
        {{ exact_sum('response_csat.csat_value * response_nps.nps_value') }} as sum_ab
    from response_csat
    inner join response_nps
        on
            response_csat.level = response_nps.level
            and response_csat.level_id = response_nps.level_id
            and response_csat.window_name = response_nps.window_name
            and response_csat.response_id = response_nps.response_id
    group by
        response_csat.level,
        response_csat.level_id,
        response_csat.window_name,
        response_csat.touchpoint_id
),

commented_responses as (
    -- Responses in scope with an NPS answer and an analysed comment (with or
    -- without a topic: a comment no topic describes is 0 on every topic).
    select
        response_nps.level,
        response_nps.level_id,
        response_nps.window_name,
        response_nps.response_id,
        response_nps.nps_value
    from response_nps
    where response_nps.response_id in (select verbatim_topics.response_id from verbatim_topics)
),

commented_scopes as (
    select
        level,
        level_id,
        window_name,
        count(*) as n,
        {{ exact_sum('nps_value') }} as sum_nps,
        {{ exact_sum('nps_value * nps_value') }} as sum_nps_squared
    from commented_responses
    group by
        level,
        level_id,
        window_name
),

response_topics as (
    select distinct
        commented_responses.level,
        commented_responses.level_id,
        commented_responses.window_name,
        commented_responses.response_id,
        commented_responses.nps_value,
        verbatim_topics.topic_id
    from commented_responses
    inner join verbatim_topics
        on commented_responses.response_id = verbatim_topics.response_id
    where verbatim_topics.topic_id is not null
),

topic_mentions as (
    select
        level,
        level_id,
        window_name,
        topic_id,
        count(*) as mentions,
        {{ exact_sum('nps_value') }} as sum_nps_mentioning
    from response_topics
    group by
        level,
        level_id,
        window_name,
        topic_id
),

topic_nps_pairs as (
    -- With a 0/1 indicator a: sum_a = sum_aa = mentions, sum_ab = the NPS sum of
    -- the responses mentioning the topic.
    select
        topic_mentions.level,
        topic_mentions.level_id,
        topic_mentions.window_name,
        'topic' as element_type,
        topic_mentions.topic_id as element_a,
        '__nps__' as element_b,
        commented_scopes.n,
        cast(topic_mentions.mentions as {{ type_double() }}) as sum_a,
        commented_scopes.sum_nps as sum_b,
        cast(topic_mentions.mentions as {{ type_double() }}) as sum_aa,
        commented_scopes.sum_nps_squared as sum_bb,
        topic_mentions.sum_nps_mentioning as sum_ab
    from topic_mentions
    inner join commented_scopes
        on
            topic_mentions.level = commented_scopes.level
            and topic_mentions.level_id = commented_scopes.level_id
            and topic_mentions.window_name = commented_scopes.window_name
),

topic_co_mentions as (
    select
        first_topics.level,
        first_topics.level_id,
        first_topics.window_name,
        first_topics.topic_id as topic_a,
        second_topics.topic_id as topic_b,
        count(*) as both_mentions
    from response_topics as first_topics
    inner join response_topics as second_topics
        on
            first_topics.level = second_topics.level
            and first_topics.level_id = second_topics.level_id
            and first_topics.window_name = second_topics.window_name
            and first_topics.response_id = second_topics.response_id
            and first_topics.topic_id < second_topics.topic_id
    group by
        first_topics.level,
        first_topics.level_id,
        first_topics.window_name,
        first_topics.topic_id,
        second_topics.topic_id
),

topic_pairs as (
    -- Every pair of topics in a scope, over all its commented responses: a pair
    -- never mentioned together has sum_ab 0 (not a missing pair).
    select
        first_topics.level,
        first_topics.level_id,
        first_topics.window_name,
        'topic' as element_type,
        first_topics.topic_id as element_a,
        second_topics.topic_id as element_b,
        commented_scopes.n,
        cast(first_topics.mentions as {{ type_double() }}) as sum_a,
        cast(second_topics.mentions as {{ type_double() }}) as sum_b,
        cast(first_topics.mentions as {{ type_double() }}) as sum_aa,
        cast(second_topics.mentions as {{ type_double() }}) as sum_bb,
        cast(coalesce(topic_co_mentions.both_mentions, 0) as {{ type_double() }}) as sum_ab
    from topic_mentions as first_topics
    inner join topic_mentions as second_topics
        on
            first_topics.level = second_topics.level
            and first_topics.level_id = second_topics.level_id
            and first_topics.window_name = second_topics.window_name
            and first_topics.topic_id < second_topics.topic_id
    inner join commented_scopes
        on
            first_topics.level = commented_scopes.level
            and first_topics.level_id = commented_scopes.level_id
            and first_topics.window_name = commented_scopes.window_name
    left join topic_co_mentions
        on
            first_topics.level = topic_co_mentions.level
            and first_topics.level_id = topic_co_mentions.level_id
            and first_topics.window_name = topic_co_mentions.window_name
            and first_topics.topic_id = topic_co_mentions.topic_a
            and second_topics.topic_id = topic_co_mentions.topic_b
),

topic_model_sizes as (
    select
        level,
        level_id,
        window_name,
        'topic' as element_type,
        '__any__' as element_a,
        '__nps__' as element_b,
        n,
        cast(null as {{ type_double() }}) as sum_a,
        cast(null as {{ type_double() }}) as sum_b,
        cast(null as {{ type_double() }}) as sum_aa,
        cast(null as {{ type_double() }}) as sum_bb,
        cast(null as {{ type_double() }}) as sum_ab
    from commented_scopes
),

final as (
    select * from driver_pairs
    union all
    select * from driver_nps_pairs
    union all
    select * from driver_model_sizes
    union all
    select * from touchpoint_nps_pairs
    union all
    select * from topic_nps_pairs
    union all
    select * from topic_pairs
    union all
    select * from topic_model_sizes
)

select * from final
