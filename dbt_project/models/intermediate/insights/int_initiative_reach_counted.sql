-- One row per initiative: the customers its scope reaches, i.e. the distinct
-- customers with a survey response, ticket or web session on its touchpoint
-- (or journey) from started_at for var('initiative_reach_days') days (365), or
-- to the end of the data or of the initiative if sooner. Also the bounds of the data (first and last
-- response, ticket or session), which the impact windows are cut to.
{% set reach_limit = dbt.dateadd('day', var('initiative_reach_days'), 'initiatives.started_at') %}

with

initiatives as (
    select * from {{ ref('int_initiatives_costed') }}
),

touchpoints as (
    select * from {{ ref('dim_touchpoint') }}
),

responses as (
    select * from {{ ref('fct_survey_responses') }}
),

tickets as (
    select * from {{ ref('fct_tickets') }}
),

sessions as (
    select * from {{ ref('fct_web_sessions') }}
),

touches as (
    select
        customer_id,
        touchpoint_id,
        submitted_at as touched_at
    from responses
    union all
    select
        customer_id,
        touchpoint_id,
        created_at as touched_at
    from tickets
    union all
    select
        customer_id,
        touchpoint_id,
        started_at as touched_at
    from sessions
),

data_bounds as (
    select
        min(touched_at) as data_start_at,
        max(touched_at) as data_end_at
    from touches
),

customer_touches as (
    select
        touches.customer_id,
        touches.touchpoint_id,
        touchpoints.journey_id,
        touches.touched_at
    from touches
    inner join touchpoints
        on touches.touchpoint_id = touchpoints.touchpoint_id
    where touches.customer_id is not null
),

reach_windows as (
    select
        initiatives.initiative_id,
        initiatives.touchpoint_id,
        initiatives.scope_journey_id,
        initiatives.started_at,
        case
            when
                initiatives.ended_at is not null
                and initiatives.ended_at < {{ reach_limit }}
                and initiatives.ended_at < data_bounds.data_end_at
                then initiatives.ended_at
            when {{ reach_limit }} < data_bounds.data_end_at
                then {{ reach_limit }}
            else data_bounds.data_end_at
        end as reach_end_at
    from initiatives
    cross join data_bounds
),

touchpoint_reach as (
    select
        reach_windows.initiative_id,
        customer_touches.customer_id
    from reach_windows
    inner join customer_touches
        on
            reach_windows.touchpoint_id = customer_touches.touchpoint_id
            and reach_windows.started_at <= customer_touches.touched_at
            and reach_windows.reach_end_at > customer_touches.touched_at
    where reach_windows.touchpoint_id is not null
),

journey_reach as (
    select
        reach_windows.initiative_id,
        customer_touches.customer_id
    from reach_windows
    inner join customer_touches
        on
            reach_windows.scope_journey_id = customer_touches.journey_id
            and reach_windows.started_at <= customer_touches.touched_at
            and reach_windows.reach_end_at > customer_touches.touched_at
    where reach_windows.touchpoint_id is null
),

reached as (
    select
        initiative_id,
        count(distinct customer_id) as customers_reached
    from (
        select * from touchpoint_reach
        union all
        select * from journey_reach
    ) as reached_customers
    group by initiative_id
),

final as (
    select
        reach_windows.initiative_id,
        reach_windows.reach_end_at,
        coalesce(reached.customers_reached, 0) as customers_reached,
        data_bounds.data_start_at,
        data_bounds.data_end_at
    from reach_windows
    cross join data_bounds
    left join reached
        on reach_windows.initiative_id = reached.initiative_id
)

select * from final
