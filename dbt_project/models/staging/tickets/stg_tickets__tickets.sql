with

source as (
    select * from {{ source('tickets', 'tickets') }}
),

renamed as (
    select
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(status as {{ dbt.type_string() }}) as ticket_status,
        cast(first_response_at as {{ dbt.type_timestamp() }}) as first_response_at,
        cast(solved_at as {{ dbt.type_timestamp() }}) as solved_at,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(agent_id as {{ dbt.type_string() }}) as agent_id,
        cast(satisfaction as {{ dbt.type_string() }}) as satisfaction,
        _gated_at
    from source
)

select * from renamed
