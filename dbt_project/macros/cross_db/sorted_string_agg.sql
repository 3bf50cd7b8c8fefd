{#-
    The strings of a group joined in their own sorted order, the same on
    every engine: a deterministic text of a set of rows (e.g. to digest it).
    dbt's listagg has no order on Spark (it warns and ignores it), hence
    array_sort there.
-#}
{% macro sorted_string_agg(expression, delimiter_text) -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'cx_insights')(expression, delimiter_text)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expression, delimiter_text) -%}
    {{ dbt.listagg(expression, delimiter_text, 'order by ' ~ expression) }}
{%- endmacro %}

{% macro spark__sorted_string_agg(expression, delimiter_text) -%}
    array_join(array_sort(collect_list({{ expression }})), {{ delimiter_text }})
{%- endmacro %}
