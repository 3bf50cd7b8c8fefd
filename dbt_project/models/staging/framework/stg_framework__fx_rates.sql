with

source as (
    select * from {{ source('framework', 'fx_rates') }}
),

renamed as (
    select
        cast(rate_date as date) as rate_date,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(rate_to_reporting as {{ type_money() }}) as rate_to_reporting
    from source
)

select * from renamed
