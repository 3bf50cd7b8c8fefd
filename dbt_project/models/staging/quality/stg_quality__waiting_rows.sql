with

source as (
    select * from {{ source('quality', 'waiting_rows') }}
),

renamed as (
    select
        cast(entity as {{ dbt.type_string() }}) as entity_name,
        cast(month_start_date as date) as month_start_date,
        cast(rule as {{ dbt.type_string() }}) as rule_name,
        cast(rows as {{ dbt.type_bigint() }}) as waiting_rows
    from source
)

select * from renamed
