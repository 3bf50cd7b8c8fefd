with

source as (
    select * from {{ source('feedback', 'answers') }}
),

renamed as (
    select
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(question_id as {{ dbt.type_string() }}) as question_id,
        cast(value_number as {{ type_money() }}) as value_number,
        cast({{ mask_pii_text('value_text') }} as {{ dbt.type_string() }}) as value_text,
        _gated_at
    from source
)

select * from renamed
