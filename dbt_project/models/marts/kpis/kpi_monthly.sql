-- Every metric of kpis.md, one row per (month, level, level_id, metric).
with

survey_metrics as (
    select * from {{ ref('int_survey_metrics_aggregated') }}
),

ticket_metrics as (
    select * from {{ ref('int_ticket_metrics_aggregated') }}
),

session_metrics as (
    select * from {{ ref('int_session_metrics_aggregated') }}
),

customer_metrics as (
    select * from {{ ref('int_customer_metrics_aggregated') }}
),

all_metrics as (
    select
        month_start_date,
        level,
        level_id,
        metric,
        metric_value,
        numerator,
        denominator,
        sample_size,
        ci_low,
        ci_high
    from survey_metrics
    {%- for family in ['ticket_metrics', 'session_metrics', 'customer_metrics'] %}
    union all
    select
        month_start_date,
        level,
        level_id,
        metric,
        metric_value,
        numerator,
        denominator,
        sample_size,
        cast(null as {{ type_double() }}) as ci_low,
        cast(null as {{ type_double() }}) as ci_high
    from {{ family }}
    {%- endfor %}
),

final as (
    select
        cast(month_start_date as date) as month,
        cast(level as {{ dbt.type_string() }}) as level,
        cast(level_id as {{ dbt.type_string() }}) as level_id,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(metric_value as {{ type_double() }}) as value,
        cast(numerator as {{ type_double() }}) as numerator,
        cast(denominator as {{ type_double() }}) as denominator,
        cast(sample_size as {{ dbt.type_bigint() }}) as n,
        cast(ci_low as {{ type_double() }}) as ci_low,
        cast(ci_high as {{ type_double() }}) as ci_high,
        sample_size < {{ var('low_sample_n') }} as is_low_sample
    from all_metrics
)

select * from final
