with

source as (
    select * from {{ source('crm', 'customers') }}
),

renamed as (
    -- full_name is dropped and email pseudonymised: PII never leaves raw.
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast({{ pii_email_hash('email') }} as {{ dbt.type_string() }}) as email_hash,
        cast(signed_up_at as {{ dbt.type_timestamp() }}) as signed_up_at,
        cast(country_code as {{ dbt.type_string() }}) as country_code,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(age_band as {{ dbt.type_string() }}) as age_band,
        cast(acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel
    from source
)

select * from renamed
