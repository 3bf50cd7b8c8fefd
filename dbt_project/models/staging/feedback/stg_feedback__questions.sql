with

source as (
    select * from {{ source('feedback', 'questions') }}
),

renamed as (
    select
        cast(question_id as {{ dbt.type_string() }}) as question_id,
        cast(survey_id as {{ dbt.type_string() }}) as survey_id,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(driver as {{ dbt.type_string() }}) as driver,
        cast(scale_min as {{ dbt.type_bigint() }}) as scale_min,
        cast(scale_max as {{ dbt.type_bigint() }}) as scale_max,
        cast(question_text as {{ dbt.type_string() }}) as question_text
    from source
)

select * from renamed
