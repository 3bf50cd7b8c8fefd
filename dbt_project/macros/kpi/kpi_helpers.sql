{#- 100 x numerator / denominator as a double; null when the denominator is 0 or null. -#}
{% macro percentage(numerator, denominator) -%}
    case
        when {{ denominator }} <> 0
            then 100 * cast({{ numerator }} as {{ type_double() }}) / cast({{ denominator }} as {{ type_double() }})
    end
{%- endmacro %}

{#- The roll-up levels of kpi_monthly for survey, ticket and web metrics. -#}
{% macro kpi_levels() -%}
    select 'company' as level
    union all
    select 'journey' as level
    union all
    select 'job' as level
    union all
    select 'touchpoint' as level
    union all
    select 'segment' as level
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
