with

source as (
    select * from {{ source('crm', 'invoices') }}
),

renamed as (
    select
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(issued_at as {{ dbt.type_timestamp() }}) as issued_at,
        cast(amount as {{ type_money() }}) as amount,
        cast(upper(trim(currency)) as {{ dbt.type_string() }}) as currency,
        cast(status as {{ dbt.type_string() }}) as invoice_status,
        _gated_at
    from source
)

select * from renamed
