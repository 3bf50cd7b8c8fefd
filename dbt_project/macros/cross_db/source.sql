{#-
    On Spark the landed rows (and the Python statistics' tables) are Parquet
    folders written beside the warehouse (cx_insights.spark), read in place as
    parquet.`<folder>`: no process but dbt's touches Spark's metastore. The
    lineage is dbt's own (builtins.source records the dependency).
-#}
{% macro source(source_name, table_name) -%}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if on_spark() -%}
        {%- set folder = env_var('CX_SPARK_FILES', '') or '../warehouse/spark/files' -%}
        {{ return('parquet.`' ~ folder ~ '/' ~ relation.schema ~ '/' ~ relation.identifier ~ '`') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
