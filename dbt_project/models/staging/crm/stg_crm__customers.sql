with

source as (
    select * from {{ source('crm', 'customers') }}
),

renamed as (
    -- full_name and email are dropped (the gate pseudonymised email as
    -- email_hash): PII never leaves raw.
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email_hash as {{ dbt.type_string() }}) as email_hash,
        cast(signed_up_at as {{ dbt.type_timestamp() }}) as signed_up_at,
        cast(country_code as {{ dbt.type_string() }}) as country_code,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(age_band as {{ dbt.type_string() }}) as age_band,
        cast(acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel,
        _gated_at
    from source
)

select * from renamed
