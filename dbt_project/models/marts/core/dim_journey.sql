with

journeys as (
    select * from {{ ref('stg_framework__journeys') }}
),

known_journeys as (
    select
        journey_id,
        journey_name,
        stage_order,
        false as is_unknown_member
    from journeys
    where journey_id <> 'unknown'
),

unknown_member as (
    select
        'unknown' as journey_id,
        'Unknown' as journey_name,
        cast(null as {{ dbt.type_bigint() }}) as stage_order,
        true as is_unknown_member
),

final as (
    select * from known_journeys
    union all
    select * from unknown_member
)

select * from final
