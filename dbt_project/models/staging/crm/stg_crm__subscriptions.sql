with

source as (
    select * from {{ source('crm', 'subscriptions') }}
),

renamed as (
    select
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(plan as {{ dbt.type_string() }}) as plan_name,
        cast(mrr as {{ type_money() }}) as mrr,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        _gated_at
    from source
)

select * from renamed
