{#-
    A table of cx_insights.insights.computed: the dbt Python model on DuckDB,
    the table its Dagster asset writes on targets without Python models
    (source `computed`, in schema intermediate).
-#}
{% macro computed(name) -%}
    {%- if target.type == 'duckdb' -%}
        {{ return(ref(name)) }}
    {%- else -%}
        {{ return(source('computed', name)) }}
    {%- endif -%}
{%- endmacro %}
