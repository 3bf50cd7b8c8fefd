-- One row per initiative: the two equal windows its impact is measured in,
-- [before_start_at, started_at) and [started_at, after_end_at), each
-- window_days long: var('initiative_window_days') (90), or fewer where the
-- data starts later, the data ends sooner or the initiative ended sooner
-- (whole days, rounded down; 0 = cannot be measured, as without data).
with

initiatives as (
    select * from {{ ref('int_initiatives_costed') }}
),

reach as (
    select * from {{ ref('int_initiative_reach_counted') }}
),

available as (
    select
        initiatives.initiative_id,
        initiatives.touchpoint_id,
        initiatives.scope_journey_id,
        initiatives.started_at,
        initiatives.ended_at,
        reach.data_end_at,
        {{ seconds_between('reach.data_start_at', 'initiatives.started_at') }} / 86400 as days_before,
        {{ seconds_between(
            'initiatives.started_at',
            'case when initiatives.ended_at < reach.data_end_at then initiatives.ended_at '
            ~ 'else reach.data_end_at end'
        ) }} / 86400 as days_after
    from initiatives
    left join reach
        on initiatives.initiative_id = reach.initiative_id
),

sized as (
    select
        initiative_id,
        touchpoint_id,
        scope_journey_id,
        started_at,
        ended_at,
        case
            when data_end_at is null then 0
            else
                greatest(
                    0,
                    floor(least({{ var('initiative_window_days') }}, days_before, days_after))
                )
        end as window_days
    from available
),

final as (
    select
        initiative_id,
        touchpoint_id,
        scope_journey_id,
        started_at,
        ended_at,
        cast(window_days as {{ dbt.type_bigint() }}) as window_days,
        {{ dbt.dateadd('day', '-1 * cast(window_days as integer)', 'started_at') }} as before_start_at,
        {{ dbt.dateadd('day', 'cast(window_days as integer)', 'started_at') }} as after_end_at
    from sized
)

select * from final
