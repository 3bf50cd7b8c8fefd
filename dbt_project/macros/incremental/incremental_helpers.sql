{#-
    Helpers of the incremental models, which process the upstream rows gated
    after the latest `_gated_at` they hold (see int_events_sessionised).
-#}

{#-
    The incremental strategy that replaces a model's rows by `unique_key`: the
    rows of the run's result replace the stored rows with the same key, the
    other stored rows stay. DuckDB, Postgres, Redshift and Snowflake do it as
    delete+insert: two plain set statements (delete the keys, insert the
    rows), every column rewritten, no MERGE needed (DuckDB has it only since
    1.4). Spark's Parquet tables have neither: delete+insert there writes the
    table again without the replaced keys (macros/incremental/spark_rewrite.sql).
    BigQuery and Databricks (Delta) offer merge, which on the same key gives the
    same replacement.
-#}
{% macro replace_by_key_strategy() -%}
    {%- if target.type in ['bigquery', 'databricks'] -%}
        {{ return('merge') }}
    {%- else -%}
        {{ return('delete+insert') }}
    {%- endif -%}
{%- endmacro %}

{#-
    Whether an incremental run can trust the rows stored in `relation`: it
    holds every column in `column_names`, e.g. the columns the model's yml
    documents. A model stored by an older version (before `_gated_at`, or
    before a column was added) is recomputed whole; on_schema_change adds the
    new columns. A unit test's `this` is a fixture, not a relation: trusted.
-#}
{% macro relation_has_columns(relation, column_names) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set stored = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for column_name in column_names -%}
        {%- if column_name | lower not in stored -%}
            {{ log(relation ~ ' has no column ' ~ column_name ~ ': recomputing every row', info=true) }}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#-
    Post-hook of an incremental model keyed by `key`: delete the stored rows
    whose key is no longer in `upstream` (a complete re-gate can drop rows; an
    incremental run only adds and replaces rows). It costs two count(*) per
    run; the anti-join (a scan of both tables) runs only when the counts
    differ, i.e. after rows went missing upstream. A count still different
    after that means rows the model never processed (an upstream row written
    with a marker older than the model's latest) or a stale aggregate: the
    run fails and asks for a --full-refresh rather than serve wrong rows.
    `stored_rows` is how the model counts the upstream rows it holds: count(*)
    for one row per upstream row; sum(event_count) for sessions of events,
    where a stale session (its id gone upstream) counts events twice.
-#}
{% macro delete_rows_missing_from(upstream, key, stored_rows='count(*)') -%}
    {%- if execute and not should_full_refresh() and model.config.materialized == 'incremental' -%}
        {%- set count_sql -%}
            select
                (select coalesce({{ stored_rows }}, 0) from {{ this }}) as stored_rows,
                (select count(*) from {{ upstream }}) as upstream_rows
        {%- endset -%}
        {%- set counts = run_query(count_sql).rows[0] -%}
        {%- if counts[0] != counts[1] -%}
            {%- set missing -%}
                {{ key }} not in (
                    select distinct {{ key }} from {{ upstream }}
                    where {{ key }} is not null
                )
            {%- endset -%}
            {%- do run_query(delete_where(this, missing)) -%}
            {%- set counts = run_query(count_sql).rows[0] -%}
            {%- do log(this ~ ': deleted the rows missing from ' ~ upstream, info=true) -%}
        {%- endif -%}
        {%- if counts[0] != counts[1] -%}
            {{ exceptions.raise_compiler_error(
                this ~ ' accounts for ' ~ counts[0] ~ ' rows (' ~ stored_rows ~ ') but '
                ~ upstream ~ ' has ' ~ counts[1]
                ~ ': it missed upstream changes (rows written before its latest marker, or a stale aggregate). '
                ~ 'Rebuild it: dbt build --full-refresh --select ' ~ this.identifier
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    The start of this dbt invocation as a timestamp literal (UTC, zone-less
    like every timestamp here): the marker an incremental model stamps on the
    rows it writes, so that a model downstream can tell which rows this run
    rewrote even when their `_gated_at` did not change. Later runs give later
    markers; a full refresh stamps every row with one marker.
-#}
{% macro run_marker() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    Post-hook of int_touchpoint_assignments_resolved: delete the assignments
    whose subject (ticket, web session, survey response) no longer exists.
-#}
{% macro delete_assignments_of_missing_subjects() -%}
    {%- set subjects -%}
        (
            select 'ticket' as subject_type, ticket_id as subject_id from {{ ref('stg_tickets__tickets') }}
            union all
            select 'web_session' as subject_type, session_id as subject_id from {{ ref('int_sessions_aggregated') }}
            union all
            select 'survey_response' as subject_type, response_id as subject_id
            from {{ ref('stg_feedback__responses') }}
        ) as subjects
    {%- endset -%}
    {{ delete_rows_missing_from(subjects, dbt.concat(['subject_type', "'|'", 'subject_id'])) }}
{%- endmacro %}

{#-
    Post-hook of int_answers_scored: delete the answers no longer upstream (the
    answers that have a known question and response).
-#}
{% macro delete_answers_missing_upstream() -%}
    {%- set answers -%}
        (
            select answers.response_id, answers.question_id
            from {{ ref('stg_feedback__answers') }} as answers
            inner join {{ ref('stg_feedback__questions') }} as questions
                on answers.question_id = questions.question_id
            inner join {{ ref('stg_feedback__responses') }} as responses
                on answers.response_id = responses.response_id
        ) as answers
    {%- endset -%}
    {{ delete_rows_missing_from(answers, dbt.concat(['response_id', "'|'", 'question_id'])) }}
{%- endmacro %}

{#-
    Watermarks of the incremental marts. A mart's columns are its contract, so
    it cannot carry a run marker of its own: the latest `_written_at` of the
    upstream rows its last build read is kept in
    `intermediate._incremental_watermarks`, one row per model, written by the
    model's post-hook `record_watermark(upstreams)` in the same transaction as
    its rows (a failed build keeps the old watermark: the next run does that
    work again). An incremental run reads it with `stored_watermark()` and
    takes the upstream rows written after it: `_written_at` is the start of
    the run that wrote the row, so rows written later carry a later one.
    Unchanged input leaves the same watermark (a rerun changes nothing). None
    (first incremental run, the table emptied, no upstream rows) means every
    row. The table is created by `on-run-start` (dbt_project.yml), once per
    invocation, not by the marts' concurrent hooks.
-#}
{% macro watermarks_relation(model_name=none) -%}
    {{- return(intermediate_relation(
        '_incremental_watermarks' ~ ('__' ~ model_name if on_spark() else '')
    )) -}}
{%- endmacro %}

{#- A working table of the incremental models in schema `intermediate` (Spark's
    relations have no database). -#}
{% macro intermediate_relation(identifier) -%}
    {{- return(api.Relation.create(
        database=(target.database if target.database is defined else none),
        schema='intermediate',
        identifier=identifier,
    )) -}}
{%- endmacro %}

{#- The watermarks table of `model_name`. One table for every model where
    the target has transactions; on Spark one per model, created here on first
    use: a change there writes the table again (no DELETE), which two models'
    hooks running side by side on dbt's threads must not do to one table. -#}
{% macro watermarks_table(model_name) -%}
    {%- set relation = watermarks_relation(model_name) -%}
    {%- if on_spark() and execute -%}
        {%- do run_query(create_watermarks_table(relation)) -%}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- `on-run-start`: the shared table (none on Spark: watermarks_table()). -#}
{% macro create_watermarks_table(relation=none) -%}
    {%- if relation is none and on_spark() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = relation or watermarks_relation() -%}
    {%- if execute -%}
        {%- do adapter.create_schema(relation) -%}
    {%- endif -%}
    create table if not exists {{ relation }} (
        model_name {{ dbt.type_string() }} not null,
        watermark {{ dbt.type_timestamp() }}
    ){% if on_spark() %} using parquet{% endif %}
{%- endmacro %}

{#- The statements that replace `name`'s row of the watermarks table by `select_sql`
    (one row: name, watermark): two where the target has DELETE; on Spark the
    table is written again first, and the insert is the one statement left. -#}
{% macro replace_watermark(name, select_sql) -%}
    {%- set relation = watermarks_table(this.identifier) -%}
    {{ hook_statement(delete_where(relation, 'model_name = ' ~ name)) }}
        insert into {{ relation }} (model_name, watermark)
        {{ select_sql }}
{%- endmacro %}

{#- The watermark of the model being built, as a timestamp literal; none (every
    row) when there is none, the run is not incremental, or the stored table lacks
    a column the model documents (built by an older version: recomputed whole). -#}
{% macro stored_watermark() -%}
    {%- if not execute or not is_incremental()
        or not relation_has_columns(this, model.columns.keys() | list) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        "select max(watermark) from " ~ watermarks_table(this.identifier)
        ~ " where model_name = " ~ dbt.string_literal(this.identifier)
    ).rows[0][0] -%}
    {%- if found is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("cast('" ~ found.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{#- `upstreams`: the models (refs) whose `_written_at` the mart reads. -#}
{% macro record_watermark(upstreams) -%}
    {%- if model.config.materialized == 'incremental' -%}
        {%- set latest -%}
        select {{ dbt.string_literal(this.identifier) }}, max(written_at)
        from (
            {%- for upstream in upstreams %}
            select max(_written_at) as written_at from {{ upstream }}
            {%- if not loop.last %} union all{% endif %}
            {%- endfor %}
        ) as upstream_markers
        {%- endset -%}
        {{ replace_watermark(dbt.string_literal(this.identifier), latest) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of the incremental marts: when this build reads every upstream row
    (no stored watermark: a first build, a full refresh, a stored table of an
    older version), note the run's marker as `<model>:built_whole`, so that the
    key test reads every key of the rows written since
    (tests/generic/unique_keys_written_since_tested.sql). -#}
{% macro record_built_whole() -%}
    {%- if execute and model.config.materialized == 'incremental' and stored_watermark() is none -%}
        {%- set name = dbt.string_literal(this.identifier ~ ':built_whole') -%}
        {{ replace_watermark(name, 'values (' ~ name ~ ', ' ~ run_marker() ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#- Whether `relation` (a model) was built whole after `since`: it is not
    incremental on this target (a table rebuilt every run), or
    record_built_whole() noted a later build. -#}
{% macro built_whole_since(relation, since) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.alias == relation.identifier -%}
        {%- if node.config.materialized != 'incremental' -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set found = run_query(
        "select count(*) from " ~ watermarks_table(relation.identifier)
        ~ " where model_name = " ~ dbt.string_literal(relation.identifier ~ ':built_whole')
        ~ " and watermark > cast(" ~ dbt.string_literal(since) ~ " as " ~ dbt.type_timestamp() ~ ")"
    ) -%}
    {{ return(found.rows[0][0] > 0) }}
{%- endmacro %}
