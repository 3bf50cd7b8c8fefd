with

source as (
    select * from {{ source('framework', 'initiatives') }}
),

renamed as (
    select
        cast(initiative_id as {{ dbt.type_string() }}) as initiative_id,
        cast(name as {{ dbt.type_string() }}) as initiative_name,
        cast(owner as {{ dbt.type_string() }}) as owner_name,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        cast(cost as {{ type_money() }}) as cost,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(target_metric as {{ dbt.type_string() }}) as target_metric,
        cast(target_value as {{ type_money() }}) as target_value
    from source
)

select * from renamed
