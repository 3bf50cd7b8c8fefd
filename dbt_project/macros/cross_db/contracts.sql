{#-
    Contracts are written once, in DuckDB's type names (the yml data_type of
    every mart column). On other engines, dbt's contract check and the table
    DDL it writes read the same names through contract_type(), so `double`
    becomes `double precision` on PostgreSQL and `varchar` `string` on Spark.
-#}
{% macro contract_columns(columns) -%}
    {%- set translated = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() -%}
        {%- if column.get('data_type') -%}
            {%- do copy.update({'data_type': contract_type(column['data_type']) | trim}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(translated) }}
{%- endmacro %}

{% macro postgres__get_empty_schema_sql(columns) -%}
    {{ return(dbt.default__get_empty_schema_sql(contract_columns(columns))) }}
{%- endmacro %}

{% macro spark__get_empty_schema_sql(columns) -%}
    {{ return(dbt.default__get_empty_schema_sql(contract_columns(columns))) }}
{%- endmacro %}

{% macro postgres__get_table_columns_and_constraints() -%}
    {%- set columns = adapter.render_raw_columns_constraints(
        raw_columns=contract_columns(model['columns'])) -%}
    {%- set constraints = adapter.render_raw_model_constraints(raw_constraints=model['constraints']) -%}
    (
    {% for c in columns + constraints -%}
        {{ c }}{{ "," if not loop.last }}
    {% endfor %}
    )
{%- endmacro %}

{#-
    PostgreSQL plans a query on a table dbt has just created without statistics
    (autovacuum's ANALYZE comes later): a post-hook of every table model gathers
    them at once, so the next model's joins are planned on real row counts.
-#}
{% macro analyze_table() -%}
    {%- if target.type == 'postgres' and model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#-
    Every model reads whole tables (no index lookups), but PostgreSQL estimates
    a CTE read twice, or a join on a range, at a handful of rows and then picks
    nested loops over tens of thousands (int_driver_statistics_aggregated: over
    10 minutes instead of 4 s on the sample). Within each model's transaction
    only, the planner is told to use hash and merge joins.
-#}
{% macro bulk_joins() -%}
    {%- if target.type == 'postgres' and model.config.materialized in ('table', 'incremental') -%}
        set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}

{#-
    DuckDB picks each hash join's build side from its cardinality estimates,
    and it estimates a CTE built by a group-by over a union (the groups an
    incremental run touched: 47 k rows at 1 M customers) at about 100 M rows:
    it then builds the hash table on the other side, e.g. the 50 M web events
    with every column (int_events_sessionised's incremental query: 24 s
    against 7 s with the sides as written). A model whose every join has its
    smaller input on the right calls this as a pre-hook (`true`) and a
    post-hook (`false`, the optimizer back for the models after it on the
    same connection). Other engines: nothing.
-#}
{% macro duckdb_joins_build_as_written(enabled=true) -%}
    {%- if target.type == 'duckdb' -%}
        {%- if enabled -%}
            set disabled_optimizers = 'build_side_probe_side'
        {%- else -%}
            reset disabled_optimizers
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
