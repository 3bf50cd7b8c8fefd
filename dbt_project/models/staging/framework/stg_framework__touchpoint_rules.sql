with

source as (
    select * from {{ source('framework', 'touchpoint_rules') }}
),

renamed as (
    select
        cast(rule_id as {{ dbt.type_string() }}) as rule_id,
        cast(source as {{ dbt.type_string() }}) as rule_source,
        cast(match_column as {{ dbt.type_string() }}) as match_column,
        cast(pattern as {{ dbt.type_string() }}) as pattern,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(priority as {{ dbt.type_bigint() }}) as priority
    from source
)

select * from renamed
