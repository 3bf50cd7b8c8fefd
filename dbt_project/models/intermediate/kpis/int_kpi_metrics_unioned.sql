-- Every metric of kpis.md, one row per (month, segment_scope, level, level_id,
-- metric): the union of the four metric families, over every customer
-- (segment_scope 'all': kpi_monthly) and within each segment
-- (kpi_monthly_by_segment).
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
        segment_scope,
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
        segment_scope,
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
)

select * from all_metrics
