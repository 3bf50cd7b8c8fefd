with

source as (
    select * from {{ source('web', 'events') }}
),

renamed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(session_id as {{ dbt.type_string() }}) as source_session_id,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        cast(page_path as {{ dbt.type_string() }}) as page_path,
        cast(revenue as {{ type_money() }}) as revenue,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(_gated_at as {{ dbt.type_timestamp() }}) as _gated_at
    from source
)

select * from renamed
