with

source as (
    select * from {{ source('framework', 'jobs') }}
),

renamed as (
    select
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(job_statement as {{ dbt.type_string() }}) as job_statement
    from source
)

select * from renamed
