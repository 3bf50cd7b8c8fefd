-- Touchpoints with their job and journey, plus the `unknown` member that
-- takes everything no touchpoint is assigned to. A job or journey the
-- framework does not define resolves to `unknown`.
with

touchpoints as (
    select * from {{ ref('stg_framework__touchpoints') }}
),

jobs as (
    select * from {{ ref('stg_framework__jobs') }}
),

journeys as (
    select * from {{ ref('stg_framework__journeys') }}
),

known_touchpoints as (
    select
        touchpoints.touchpoint_id,
        touchpoints.touchpoint_name,
        touchpoints.channel,
        touchpoints.is_controllable,
        coalesce(jobs.job_id, 'unknown') as job_id,
        jobs.job_statement,
        coalesce(journeys.journey_id, 'unknown') as journey_id,
        journeys.journey_name,
        journeys.stage_order,
        false as is_unknown_member
    from touchpoints
    left join jobs
        on touchpoints.job_id = jobs.job_id
    left join journeys
        on jobs.journey_id = journeys.journey_id
),

unknown_member as (
    select
        'unknown' as touchpoint_id,
        'Unknown' as touchpoint_name,
        cast(null as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_boolean() }}) as is_controllable,
        'unknown' as job_id,
        cast(null as {{ dbt.type_string() }}) as job_statement,
        'unknown' as journey_id,
        cast(null as {{ dbt.type_string() }}) as journey_name,
        cast(null as {{ dbt.type_bigint() }}) as stage_order,
        true as is_unknown_member
),

final as (
    select * from known_touchpoints
    where touchpoint_id <> 'unknown'
    union all
    select * from unknown_member
)

select * from final
