{#- Column types the cross-database `dbt.type_*` macros do not cover exactly. -#}

{#- An IEEE double (dbt.type_float() is a 4-byte REAL on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'cx_insights')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- A landed amount, exactly as the contract types it (never a bare decimal). -#}
{% macro type_money() -%}
    decimal(38, 9)
{%- endmacro %}

{#- An amount times an fx rate, kept exact: (38, 9) x (38, 9) has scale 18. -#}
{% macro type_converted_money() -%}
    decimal(38, 18)
{%- endmacro %}
