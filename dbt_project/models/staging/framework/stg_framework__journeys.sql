with

source as (
    select * from {{ source('framework', 'journeys') }}
),

renamed as (
    select
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(journey_name as {{ dbt.type_string() }}) as journey_name,
        cast(stage_order as {{ dbt.type_bigint() }}) as stage_order
    from source
)

select * from renamed
