with

touchpoints as (
    select * from {{ ref('int_touchpoints_flattened') }}
),

final as (
    select
        touchpoint_id,
        touchpoint_name,
        channel,
        is_controllable,
        job_id,
        job_statement,
        journey_id,
        journey_name,
        stage_order,
        is_unknown_member
    from touchpoints
)

select * from final
