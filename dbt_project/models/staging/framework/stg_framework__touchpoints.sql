with

source as (
    select * from {{ source('framework', 'touchpoints') }}
),

renamed as (
    select
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        cast(touchpoint_name as {{ dbt.type_string() }}) as touchpoint_name,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(is_controllable as {{ dbt.type_boolean() }}) as is_controllable
    from source
)

select * from renamed
