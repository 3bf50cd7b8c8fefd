{#-
    Seconds from `start_at` to `end_at` as a double, with the fractional part.
    The portable default counts whole seconds (dbt.datediff); DuckDB is exact
    to the microsecond.
-#}
{% macro seconds_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('seconds_between', 'cx_insights')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__seconds_between(start_at, end_at) -%}
    cast({{ dbt.datediff(start_at, end_at, 'second') }} as {{ type_double() }})
{%- endmacro %}

{% macro duckdb__seconds_between(start_at, end_at) -%}
    (cast(epoch_us({{ end_at }}) - epoch_us({{ start_at }}) as {{ type_double() }}) / 1000000)
{%- endmacro %}

{% macro postgres__seconds_between(start_at, end_at) -%}
    cast(extract(epoch from ({{ end_at }} - {{ start_at }})) as {{ type_double() }})
{%- endmacro %}
