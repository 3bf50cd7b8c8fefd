{#- A value as a quoted SQL string literal (single quotes doubled). -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#- The reporting currency (var `reporting_currency`) as an upper-case literal. -#}
{% macro reporting_currency() -%}
    {{ sql_string(var('reporting_currency') | trim | upper) }}
{%- endmacro %}
