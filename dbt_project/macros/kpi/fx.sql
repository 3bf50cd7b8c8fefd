{#-
    Join condition picking, from int_fx_rates_spanned aliased `rates`, the
    latest rate on or before `on_date` for `currency` (identity for the
    reporting currency). No such rate: no match, never a default of 1.
    The open end is a far date rather than an `or`, which would keep
    engines (DuckDB among them) from a hash or range join.
-#}
{% macro fx_rate_applies(rates, currency, on_date) -%}
    {{ rates }}.currency = {{ currency }}
    and {{ rates }}.valid_from_date <= {{ on_date }}
    and {{ on_date }} < coalesce({{ rates }}.valid_to_date, {{ far_future_date() }})
{%- endmacro %}

{#- A date after any data, to close open-ended spans without an `or`. -#}
{% macro far_future_date() -%}
    cast('9999-12-31' as date)
{%- endmacro %}

{#- First day (a date) of the UTC calendar month of a timestamp. -#}
{% macro month_start(timestamp_expression) -%}
    cast({{ dbt.date_trunc('month', timestamp_expression) }} as date)
{%- endmacro %}
