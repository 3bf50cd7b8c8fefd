{#-
    dbt's get_where_subquery (the `where` config of a data test), with one
    placeholder: `__rows_gated_since_tested__` keeps the rows gated since the
    last build whose tests passed. The staging tests re-prove what the quality
    gate guarantees of every accepted row (one row per key, required columns
    set, values in their lists, answers of known responses); a row passed them
    when it was gated, so a build tests the rows gated since the previous
    successful full build ended (`CX_TESTS_GATED_SINCE`, which `cx-insights
    run` sets from its run log), not all of them again: at 1 M customers that is
    tens of millions of rows per run. Every row is tested when the variable is
    unset (a first build, `dbt build` by hand, `make dev`), when the relation has
    no `_gated_at`, on Spark, or after a complete re-gate (every row then gets a
    new `_gated_at`).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__rows_gated_since_tested__' in where -%}
        {%- set since = env_var('CX_TESTS_GATED_SINCE', '') -%}
        {#- Spark reads sources as Parquet paths (macros/cross_db/source.sql): every row there. -#}
        {%- set has_gated_at = execute and since and not on_spark() and (
            adapter.get_columns_in_relation(relation)
            | map(attribute='name') | map('lower') | select('equalto', '_gated_at') | list
        ) -%}
        {%- if has_gated_at -%}
            {%- set where = where | replace(
                '__rows_gated_since_tested__',
                '_gated_at >= cast(' ~ dbt.string_literal(since) ~ ' as ' ~ dbt.type_timestamp() ~ ')'
            ) -%}
        {%- else -%}
            {%- set where = where | replace('__rows_gated_since_tested__', '1 = 1') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
