{#-
    Incremental models on Spark's Parquet tables, which have no DELETE, UPDATE or
    MERGE (Delta and Iceberg have them; their jars are not installed here). A
    change to stored rows is made by writing the table's next version beside it
    (`<table>__dbt_next`) and renaming it into place: the rows an incremental run
    computed are still computed for the touched keys only (the expensive part:
    sessionisation windows, fx conversion, rule matching), and the rewrite is a
    scan of the stored table with an anti-join on the key, no sort. Spark cannot
    overwrite a table in the same query that reads it, hence the new table and
    the rename (a managed table's folder is moved, not copied). If the run stops
    between dropping the old table and the rename, the next run finds no table
    and builds it whole (dbt's table materialization on Parquet drops first too).
-#}

{#- dbt-spark's validation and incremental SQL (dbt-spark 1.11: its
    materialization calls these two by name, so the project's definitions take
    their place), with delete+insert added for Parquet; the other strategies
    as dbt-spark has them. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'delete+insert' and file_format == 'parquet' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] -%}
        {%- do exceptions.raise_compiler_error(
            'Invalid incremental strategy provided: ' ~ raw_strategy
            ~ ". Expected one of: 'append', 'merge', 'insert_overwrite', 'microbatch', "
            ~ "'delete+insert' (Parquet)") -%}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {%- do exceptions.raise_compiler_error(
            'Invalid incremental strategy provided: merge. You can only choose this strategy '
            ~ "when file_format is set to 'delta' or 'iceberg' or 'hudi'") -%}
    {%- endif -%}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint -%}
        {%- do exceptions.raise_compiler_error(
            'Invalid incremental strategy provided: ' ~ raw_strategy
            ~ '. You cannot use this strategy when connecting via endpoint') -%}
    {%- endif -%}
    {{ return(raw_strategy) }}
{%- endmacro %}

{#- delete+insert: the stored rows whose key is in the run's result are replaced
    by the result's rows (dbt-core's delete+insert: a stored row with a null key
    part is kept). Returns the last statement (the rename); the others run first.
    An empty result (nothing new) leaves the table unwritten. -#}
{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy == 'append' -%}
        {{ return(get_insert_into_sql(source, target)) }}
    {%- elif strategy in ['insert_overwrite', 'microbatch'] -%}
        {%- if strategy == 'microbatch' and not config.get('partition_by') -%}
            {%- do exceptions.raise_compiler_error(
                "dbt-spark 'microbatch' incremental strategy requires a `partition_by` config.") -%}
        {%- endif -%}
        {{ return(get_insert_overwrite_sql(source, target, existing)) }}
    {%- elif strategy == 'merge' -%}
        {{ return(get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates)) }}
    {%- elif strategy != 'delete+insert' -%}
        {%- do exceptions.raise_compiler_error('No known SQL for the incremental strategy provided: ' ~ strategy) -%}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set computed = spark_sibling(target, '__dbt_computed') -%}
    {#- The result once (its view reads the stored table, which is about to change). -#}
    {%- do run_query('drop table if exists ' ~ computed) -%}
    {%- do run_query('create table ' ~ computed ~ ' using parquet as select * from ' ~ source) -%}
    {%- if run_query('select count(*) from ' ~ computed).rows[0][0] == 0 -%}
        {#- Nothing recomputed (unchanged input): the table stays as it is. -#}
        {%- do run_query('drop table if exists ' ~ computed) -%}
        {{ return(spark_no_op()) }}
    {%- endif -%}
    {%- set kept_condition -%}
        not exists (
            select 1 from {{ computed }} as computed
            where
            {%- for key in keys %}
                {% if not loop.first %}and {% endif %}computed.{{ key }} = stored.{{ key }}
            {%- endfor %}
        )
    {%- endset -%}
    {%- set statement = spark_rewrite(target, kept_condition, also=computed) -%}
    {%- do run_query('drop table if exists ' ~ computed) -%}
    {{ return(statement) }}
{%- endmacro %}

{% macro spark_sibling(relation, suffix) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ suffix})) }}
{%- endmacro %}

{#- Write `relation` again with the stored rows (alias `stored`) that meet
    `kept_condition`, plus every row of `also` (a relation with the same columns,
    or none). Every statement but the last runs here; the last is returned
    (empty outside execution: nothing runs while dbt parses or compiles). -#}
{% macro spark_rewrite(relation, kept_condition, also=none) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set next = spark_sibling(relation, '__dbt_next') -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='quoted') | join(', ') -%}
    {%- do run_query('drop table if exists ' ~ next) -%}
    {%- set create_next -%}
        create table {{ next }} using parquet as
        select {{ columns }} from {{ relation }} as stored
        where {{ kept_condition }}
        {%- if also is not none %}
        union all
        select {{ columns }} from {{ also }}
        {%- endif %}
    {%- endset -%}
    {%- do run_query(create_next) -%}
    {%- do run_query('drop table ' ~ relation) -%}
    {{ return('alter table ' ~ next ~ ' rename to ' ~ relation) }}
{%- endmacro %}

{#- `delete from relation where condition`, as one statement where the target has
    DELETE, else (Spark) the statements of a rewrite keeping the other rows, all
    run here but the last, which is returned (none when no row meets it: a count
    instead of writing the same rows again). A row where `condition` is null is
    kept, as DELETE keeps it. -#}
{% macro delete_where(relation, condition) -%}
    {%- if on_spark() -%}
        {%- if execute and run_query(
            'select count(*) from ' ~ relation ~ ' where coalesce((' ~ condition ~ '), false)'
        ).rows[0][0] == 0 -%}
            {{ return(spark_no_op()) }}
        {%- endif -%}
        {{ return(spark_rewrite(relation, 'not coalesce((' ~ condition ~ '), false)')) }}
    {%- endif -%}
    {{ return('delete from ' ~ relation ~ ' where ' ~ condition) }}
{%- endmacro %}

{#- The statement left to run when a rewrite finds nothing to change. -#}
{% macro spark_no_op() -%}
    {{ return('select 1 as nothing_to_change') }}
{%- endmacro %}

{#- One statement of a hook that runs several: returned with its `;` where the
    target takes them together in a transaction, run now on Spark (one statement
    per call, no transaction), which then leaves nothing in the hook. -#}
{% macro hook_statement(sql) -%}
    {%- if not on_spark() -%}
        {{ return(sql ~ ';') }}
    {%- endif -%}
    {%- if execute and sql | trim -%}
        {%- do run_query(sql) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- `using parquet` for a table the project creates itself on Spark. -#}
{% macro spark_using() -%}
    {{ return(' using parquet' if on_spark() else '') }}
{%- endmacro %}
