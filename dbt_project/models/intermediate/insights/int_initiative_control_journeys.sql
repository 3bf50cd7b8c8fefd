-- One row per (initiative, control journey): the known journeys other than
-- the initiative's own that no other initiative touched while its windows
-- ran ([before_start_at, after_end_at) overlaps [started_at, ended_at) of the
-- other); every other known journey when none is left untouched. What would
-- have happened anyway is measured on them (difference in differences).
with

windows as (
    select * from {{ ref('int_initiative_windows') }}
),

journeys as (
    select journey_id from {{ ref('dim_journey') }}
    where not is_unknown_member
),

others as (
    select
        windows.initiative_id,
        journeys.journey_id
    from windows
    cross join journeys
    where windows.scope_journey_id is null or journeys.journey_id <> windows.scope_journey_id
),

touched as (
    select distinct
        windows.initiative_id,
        other_initiatives.scope_journey_id as journey_id
    from windows
    inner join windows as other_initiatives
        on
            windows.initiative_id <> other_initiatives.initiative_id
            and other_initiatives.scope_journey_id is not null
            and windows.after_end_at > other_initiatives.started_at
            and (
                other_initiatives.ended_at is null
                or windows.before_start_at < other_initiatives.ended_at
            )
),

untouched as (
    select
        others.initiative_id,
        others.journey_id
    from others
    left join touched
        on
            others.initiative_id = touched.initiative_id
            and others.journey_id = touched.journey_id
    where touched.journey_id is null
),

final as (
    select
        initiative_id,
        journey_id
    from untouched
    union all
    select
        initiative_id,
        journey_id
    from others
    where initiative_id not in (select untouched.initiative_id from untouched)
)

select * from final
