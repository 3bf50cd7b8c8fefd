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

{#-
    MD5 (hex) of a set of rows, whatever their order: each row's columns as text
    (null as ''), joined by '|', the rows' texts sorted and joined by ';' (no
    rows: the MD5 of ''). Use in
    a select over the rows; an incremental model stores it to notice that a small
    input every row depends on (fx rates, touchpoint rules) changed.
-#}
{% macro rows_digest(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first %}{% do parts.append("'|'") %}{% endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    coalesce(md5({{ sorted_string_agg(dbt.concat(parts), "';'") }}), md5(''))
{%- endmacro %}
