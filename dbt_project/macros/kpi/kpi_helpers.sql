{#- 100 x numerator / denominator as a double; null when the denominator is 0 or null. -#}
{% macro percentage(numerator, denominator) -%}
    case
        when {{ denominator }} <> 0
            then 100 * cast({{ numerator }} as {{ type_double() }}) / cast({{ denominator }} as {{ type_double() }})
    end
{%- endmacro %}

{#- kpis.md's standard error of an NPS from its promoter and detractor shares (0..1)
    and its answers: se = 100 x sqrt((p + d - (p - d)^2) / n). -#}
{% macro nps_standard_error(promoter_share, detractor_share, n) -%}
    100 * sqrt(
        (
            {{ promoter_share }} + {{ detractor_share }}
            - ({{ promoter_share }} - {{ detractor_share }}) * ({{ promoter_share }} - {{ detractor_share }})
        ) / {{ n }}
    )
{%- endmacro %}

{#- The roll-up levels of kpi_monthly for survey, ticket and web metrics, each
    twice: over every customer (is_segment_scoped false: kpi_monthly) and within
    the customer's current segment (true: kpi_monthly_by_segment; the segment
    level itself only once, it is its own scope). -#}
{% macro kpi_levels() -%}
    select 'company' as level, false as is_segment_scoped
    union all
    select 'journey' as level, false as is_segment_scoped
    union all
    select 'job' as level, false as is_segment_scoped
    union all
    select 'touchpoint' as level, false as is_segment_scoped
    union all
    select 'segment' as level, false as is_segment_scoped
    union all
    select 'company' as level, true as is_segment_scoped
    union all
    select 'journey' as level, true as is_segment_scoped
    union all
    select 'job' as level, true as is_segment_scoped
    union all
    select 'touchpoint' as level, true as is_segment_scoped
{%- endmacro %}

{#- The segment a row of `levels` x `row` is counted within: 'all' over every
    customer, else the row's segment (column segment of `row`). -#}
{% macro kpi_segment_scope(levels, row) -%}
    case when {{ levels }}.is_segment_scoped then {{ row }}.segment else 'all' end
{%- endmacro %}

{#-
    The level_id of a row at a level: 'all' for company, else the row's id at
    that level (columns journey_id, job_id, touchpoint_id, segment of `row`).
-#}
{% macro kpi_level_id(levels, row) -%}
    case {{ levels }}.level
        when 'company' then 'all'
        when 'journey' then {{ row }}.journey_id
        when 'job' then {{ row }}.job_id
        when 'touchpoint' then {{ row }}.touchpoint_id
        when 'segment' then {{ row }}.segment
    end
{%- endmacro %}

{#-
    One kpi_monthly-shaped row per (month, segment_scope, level, level_id) and
    metric, as a union over `metrics`, from `relation` (a CTE with
    month_start_date, segment_scope, level, level_id). Each metric is a dict:
      metric       the metric's name (kpis.md);
      measure      a count or amount: value = measure, no numerator/denominator;
      ratio        (numerator, denominator): value = 100 x numerator / denominator;
      value        any other value expression (numerator/denominator optional);
      n            the sample size expression;
      where        an optional filter (e.g. the metric needs n > 0);
      from         an optional other relation;
      ci           (low, high) expressions when with_ci (null otherwise).
-#}
{% macro kpi_metric_rows(relation, metrics, with_ci=false) -%}
    {%- for m in metrics %}
    select
        month_start_date,
        segment_scope,
        level,
        level_id,
        '{{ m.metric }}' as metric,
        {%- if m.ratio is defined %}
        {{ percentage(m.ratio[0], m.ratio[1]) }} as metric_value,
        cast({{ m.ratio[0] }} as {{ type_double() }}) as numerator,
        cast({{ m.ratio[1] }} as {{ type_double() }}) as denominator,
        {%- else %}
        cast({{ m.measure if m.measure is defined else m.value }} as {{ type_double() }}) as metric_value,
        cast({{ m.numerator | default('null') }} as {{ type_double() }}) as numerator,
        cast({{ m.denominator | default('null') }} as {{ type_double() }}) as denominator,
        {%- endif %}
        {{ m.n }} as sample_size
        {%- if with_ci %},
        cast({{ m.ci[0] if m.ci is defined else 'null' }} as {{ type_double() }}) as ci_low,
        cast({{ m.ci[1] if m.ci is defined else 'null' }} as {{ type_double() }}) as ci_high
        {%- endif %}
    from {{ m.from | default(relation) }}
    {%- if m.where is defined %}
    where {{ m.where }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- Mean of an hours column over the group's rows, summed as exact decimal seconds
    (microsecond precision): a float sum would depend on the order parallel threads
    add in, and reruns must not change (kpis.md's avg_resolution_hours). -#}
{% macro exact_mean_hours(hours_expression) -%}
    cast(
        sum(cast({{ hours_expression }} * 3600 as decimal(38, 6)))
        as {{ type_double() }}
    ) / count(*) / 3600
{%- endmacro %}

{#- The help desk's satisfaction of a group of tickets: rated_good and rated
    (good or bad; offered, unoffered and missing ratings are not rated). -#}
{% macro ticket_rating_counts(satisfaction_expression='satisfaction') -%}
    sum(case when {{ satisfaction_expression }} = 'good' then 1 else 0 end) as rated_good,
    sum(case when {{ satisfaction_expression }} in ('good', 'bad') then 1 else 0 end) as rated
{%- endmacro %}

{#- The share of rated tickets rated good, in percent (null when none was rated). -#}
{% macro ticket_good_share(rated_good, rated) -%}
    case when {{ rated }} > 0 then 100.0 * {{ rated_good }} / {{ rated }} end
{%- endmacro %}

{#- Where an answer falls on its question's scale, 0 (scale_min) to 1 (scale_max),
    as a double: the rating the driver and churn models compare across scales. -#}
{% macro answer_position(value_expression, scale_min, scale_max) -%}
    (cast({{ value_expression }} as {{ type_double() }}) - {{ scale_min }})
    / cast({{ scale_max }} - {{ scale_min }} as {{ type_double() }})
{%- endmacro %}

{#- A sum of doubles that does not depend on the order threads add in: each term
    rounded to 18 decimal places (so for magnitudes below 1e20), summed as an
    exact decimal, returned as a double. A plain float sum over many rows changed
    in its last bits between two runs on the same data (churn snapshots, revenue
    at risk, the calibration table on a 100k-customer drop). as_double=false keeps
    the exact decimal, for sums summed again (window sums over months). -#}
{% macro exact_sum(expression, as_double=true) -%}
    {%- if as_double -%}
        cast(sum(cast({{ expression }} as decimal(38, 18))) as {{ type_double() }})
    {%- else -%}
        sum(cast({{ expression }} as decimal(38, 18)))
    {%- endif -%}
{%- endmacro %}

{#- The last observed event of any source: the latest of dim_month's per-source
    data ends (a query with one row, column data_end_at). -#}
{% macro data_end_query() -%}
    select max(data_end_at) as data_end_at
    from (
        select feedback_data_end_at as data_end_at from {{ ref('dim_month') }}
        union all
        select tickets_data_end_at as data_end_at from {{ ref('dim_month') }}
        union all
        select web_data_end_at as data_end_at from {{ ref('dim_month') }}
        union all
        select crm_data_end_at as data_end_at from {{ ref('dim_month') }}
    ) as source_ends
{%- endmacro %}

{#- The month of the first NPS answer with a value and a customer (a query with
    one row, column first_nps_month_start_date): before it, no customer-month
    can know an NPS category. -#}
{% macro first_nps_month_query() -%}
    select min({{ month_start('submitted_at') }}) as first_nps_month_start_date
    from {{ ref('fct_survey_answers') }}
    where
        metric = 'nps'
        and value_number is not null
        and customer_id is not null
{%- endmacro %}

{#- A customer-month's NPS category known at the month's start: the previous
    month's latest_nps_category, no_answer without one. -#}
{% macro nps_category_at_start() -%}
    coalesce(
        lag(latest_nps_category) over (partition by customer_id order by month_start_date),
        'no_answer'
    )
{%- endmacro %}

{#- Whether the financial link pools a customer-month: active at its start, after
    the first month with an NPS answer, and wholly observed (ending at or before
    the last observed event: a later churn may be a cancellation only scheduled). -#}
{% macro is_pooled_nps_month(months, nps_bounds, data_end) -%}
    {{ months }}.is_active_start
    and {{ months }}.month_start_date > {{ nps_bounds }}.first_nps_month_start_date
    and cast(
        {{ dbt.dateadd('month', 1, months ~ '.month_start_date') }} as {{ dbt.type_timestamp() }}
    ) <= {{ data_end }}.data_end_at
{%- endmacro %}

{#- kpi_monthly's columns from a row of int_kpi_metrics_unioned (`relation`). -#}
{% macro kpi_mart_columns(relation) -%}
        cast({{ relation }}.month_start_date as date) as month,
        cast({{ relation }}.level as {{ dbt.type_string() }}) as level,
        cast({{ relation }}.level_id as {{ dbt.type_string() }}) as level_id,
        cast({{ relation }}.metric as {{ dbt.type_string() }}) as metric,
        cast({{ relation }}.metric_value as {{ type_double() }}) as value,
        cast({{ relation }}.numerator as {{ type_double() }}) as numerator,
        cast({{ relation }}.denominator as {{ type_double() }}) as denominator,
        cast({{ relation }}.sample_size as {{ dbt.type_bigint() }}) as n,
        cast({{ relation }}.ci_low as {{ type_double() }}) as ci_low,
        cast({{ relation }}.ci_high as {{ type_double() }}) as ci_high,
        {{ relation }}.sample_size < {{ var('low_sample_n') }} as is_low_sample
{%- endmacro %}

{#- A sum of counts that were summed once already (the second stage of a two-stage
    aggregation), as the type one stage gives: PostgreSQL sums a bigint to numeric
    (DuckDB to hugeint, as its one-stage sums of integers; Spark to bigint). -#}
{% macro sum_of_counts(expression) -%}
    {{ return(adapter.dispatch('sum_of_counts', 'cx_insights')(expression)) }}
{%- endmacro %}

{% macro default__sum_of_counts(expression) -%}
    sum({{ expression }})
{%- endmacro %}

{% macro postgres__sum_of_counts(expression) -%}
    cast(sum({{ expression }}) as bigint)
{%- endmacro %}

{#- The finest grain the survey and web metrics are counted at before the roll-up
    levels add the counts up: every column a level's id or segment scope reads. -#}
{% macro kpi_grain() -%}
    month_start_date,
    touchpoint_id,
    job_id,
    journey_id,
    segment
{%- endmacro %}

{#- Every row of `relation` (counts at kpi_grain()) once per roll-up level, with
    the level's segment_scope, level and level_id. -#}
{% macro kpi_grain_by_level(relation) -%}
    select
        {{ relation }}.*,
        {{ kpi_segment_scope('levels', relation) }} as segment_scope,
        levels.level,
        {{ kpi_level_id('levels', relation) }} as level_id
    from {{ relation }}
    cross join ({{ kpi_levels() }}) as levels
{%- endmacro %}
