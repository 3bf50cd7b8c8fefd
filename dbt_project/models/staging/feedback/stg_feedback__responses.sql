with

source as (
    select * from {{ source('feedback', 'responses') }}
),

renamed as (
    select
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(survey_id as {{ dbt.type_string() }}) as survey_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(submitted_at as {{ dbt.type_timestamp() }}) as submitted_at,
        _gated_at
    from source
)

select * from renamed
