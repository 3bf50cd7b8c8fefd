{#-
    Median of a numeric expression, ignoring nulls; for an even count the mean
    of the two middle values (a continuous percentile).
-#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'cx_insights')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
