-- What explains the NPS answer, per journey and for the company: one row per
-- (level, level_id, window_name, element_type, element_id). The statistics come from the
-- Python model int_driver_importances_computed; this model names the levels
-- and elements and fixes the contract.
with

driver_importances as (
    select * from {{ computed('int_driver_importances_computed') }}
),

journeys as (
    select * from {{ ref('dim_journey') }}
),

touchpoints as (
    select * from {{ ref('dim_touchpoint') }}
),

windows as (
    select * from {{ ref('int_driver_windows') }}
),

topics as (
    select
        topic_id,
        max(topic_label) as topic_label
    from {{ ref('fct_verbatim_topics') }}
    where topic_id is not null
    group by topic_id
),

final as (
    select
        cast(driver_importances.level as {{ dbt.type_string() }}) as level,
        cast(driver_importances.level_id as {{ dbt.type_string() }}) as level_id,
        cast(
            case when driver_importances.level = 'company' then 'Company' else journeys.journey_name end
            as {{ dbt.type_string() }}
        ) as level_name,
        cast(driver_importances.window_name as {{ dbt.type_string() }}) as window_name,
        windows.window_start_date,
        windows.window_end_date,
        cast(driver_importances.element_type as {{ dbt.type_string() }}) as element_type,
        cast(driver_importances.element_id as {{ dbt.type_string() }}) as element_id,
        cast(
            case
                when driver_importances.element_type = 'touchpoint' then touchpoints.touchpoint_name
                when driver_importances.element_type = 'topic' then topics.topic_label
                else driver_importances.element_id
            end
            as {{ dbt.type_string() }}
        ) as element_name,
        cast(driver_importances.pairing as {{ dbt.type_string() }}) as pairing,
        cast(driver_importances.n as {{ dbt.type_bigint() }}) as n,
        cast(driver_importances.pearson_r as {{ type_double() }}) as pearson_r,
        cast(driver_importances.pearson_r_ci_low as {{ type_double() }}) as pearson_r_ci_low,
        cast(driver_importances.pearson_r_ci_high as {{ type_double() }}) as pearson_r_ci_high,
        cast(driver_importances.relative_weight as {{ type_double() }}) as relative_weight,
        cast(driver_importances.relative_weight_share as {{ type_double() }}) as relative_weight_share,
        cast(
            driver_importances.relative_weight_share_ci_low as {{ type_double() }}
        ) as relative_weight_share_ci_low,
        cast(
            driver_importances.relative_weight_share_ci_high as {{ type_double() }}
        ) as relative_weight_share_ci_high,
        cast(driver_importances.is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(driver_importances.importance_rank as {{ dbt.type_bigint() }}) as importance_rank,
        cast(driver_importances.model_r_squared as {{ type_double() }}) as model_r_squared,
        cast(driver_importances.model_n as {{ dbt.type_bigint() }}) as model_n,
        cast(driver_importances.performance_mean as {{ type_double() }}) as performance_mean,
        cast(driver_importances.performance_scale_min as {{ type_double() }}) as performance_scale_min,
        cast(driver_importances.performance_scale_max as {{ type_double() }}) as performance_scale_max,
        cast(driver_importances.performance_top_2_box_pct as {{ type_double() }}) as performance_top_2_box_pct,
        cast(driver_importances.performance_n as {{ dbt.type_bigint() }}) as performance_n,
        cast(driver_importances.quadrant as {{ dbt.type_string() }}) as quadrant,
        cast(driver_importances.is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from driver_importances
    left join journeys
        on driver_importances.level_id = journeys.journey_id
    left join touchpoints
        on driver_importances.element_id = touchpoints.touchpoint_id
    left join windows
        on driver_importances.window_name = windows.window_name
    left join topics
        on
            driver_importances.element_type = 'topic'
            and driver_importances.element_id = topics.topic_id
)

select * from final
