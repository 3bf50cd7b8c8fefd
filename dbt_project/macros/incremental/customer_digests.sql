{#-
    Incremental by customer, for the models whose rows of a customer depend on
    many inputs of that customer (int_customer_months_evaluated,
    fct_customer_months, fct_mrr_movements): a run recomputes the customers
    whose inputs changed, found by comparing digests, not markers.

    A customer's digest is the sum of a 64-bit hash of each of their input rows
    (tagged with the input it comes from) plus a hash of the inputs every
    customer depends on (the months spine, the fx rates): any change of an
    input row changes it, whatever the change was (a row added, corrected,
    gone, or moved to another customer: the old and the new owner both change).
    No marker needs to say which rows changed, so the rows of the customer a
    ticket, an invoice or a session left are recomputed too, which `_gated_at`
    and `_written_at` cannot tell (they carry the new owner only).

    The hooks, around the model's own SQL (in the model's transaction):
    * pre-hook `customer_digests_before(inputs, shared)`: every customer's digest now,
      into `intermediate._customer_digests_<model>__new`; on an incremental
      run, the customers whose digest differs from the stored one (new, gone,
      changed) into `..._touched`, and their stored rows deleted. The model's
      incremental branch reads only the touched customers' inputs
      (`touched_customers()`) and its rows are appended.
    * post-hook `customer_digests_after()`: the new digests become the stored
      ones (`intermediate._customer_digests_<model>`), the work tables go.
    Each stored digest keeps the marker of the run that last changed it
    (`_written_at`, run_marker()): the customers a run recomputed, which the
    model's key test reads (tests/generic/unique_keys_written_since_tested.sql).
    No stored digests (a first incremental run after this logic arrived) means
    every stored row is deleted and every customer recomputed. A full refresh
    computes and stores the digests too. Re-running on unchanged input touches
    no customer and writes nothing. The hash is the engine's own (DuckDB
    `hash`, PostgreSQL `hashtextextended`): two different sets of input rows
    with the same sum are as unlikely as a 64-bit collision, and an engine
    whose hash changes recomputes every customer once. On Spark each statement
    runs on its own (hook_statement) and the delete is a rewrite
    (macros/incremental/spark_rewrite.sql).
-#}

{#- A 64-bit hash of the expressions, as an exact number a sum cannot overflow. -#}
{% macro row_hash(expressions) -%}
    {{ return(adapter.dispatch('row_hash', 'cx_insights')(expressions)) }}
{%- endmacro %}

{% macro duckdb__row_hash(expressions) -%}
    cast(hash({{ expressions | join(', ') }}) as hugeint)
{%- endmacro %}

{#- Spark: xxhash64 of the values as text, as on PostgreSQL (Spark's own hash of
    several arguments skips nulls, so (a, null) and (null, a) would be equal). -#}
{% macro spark__row_hash(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as string), '\\\\N')") -%}
    {%- endfor -%}
    cast(xxhash64(concat_ws('|', {{ parts | join(', ') }})) as decimal(38, 0))
{%- endmacro %}

{% macro default__row_hash(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as " ~ dbt.type_string() ~ "), '\\N')") -%}
    {%- endfor -%}
    cast(hashtextextended({{ parts | join(" || '|' || ") }}, 0) as numeric)
{%- endmacro %}

{% macro customer_digests_relation(suffix='') -%}
    {{- return(intermediate_relation('_customer_digests_' ~ this.identifier ~ suffix)) -}}
{%- endmacro %}

{#- The customers an incremental run recomputes (a subquery's select; a
    stand-in name when nothing runs: dbt's parse, sqlfluff's lint). -#}
{% macro touched_customers() -%}
    {%- if execute -%}
        select customer_id from {{ customer_digests_relation('__touched') }}
    {%- else -%}
        select customer_id from intermediate._customer_digests__touched
    {%- endif -%}
{%- endmacro %}

{#-
    `inputs`: a list of (tag, relation, [expressions]) of the per-customer
    inputs (rows with a customer_id) and `shared`: a list of (tag, relation,
    [expressions]) of inputs every customer depends on.
-#}
{% macro customer_digests_select(inputs, shared) -%}
    with
    shared_digest as (
        select coalesce(sum(row_hash), 0) as digest
        from (
            {%- for tag, relation, expressions in shared %}
            select {{ row_hash([dbt.string_literal(tag)] + expressions) }} as row_hash
            from {{ relation }}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ) as shared_rows
    ),
    customer_rows as (
        {%- for tag, relation, expressions in inputs %}
        select customer_id, {{ row_hash([dbt.string_literal(tag)] + expressions) }} as row_hash
        from {{ relation }}
        where customer_id is not null
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    )
    select
        customer_rows.customer_id,
        sum(customer_rows.row_hash) + max(shared_digest.digest) as digest
    from customer_rows
    cross join shared_digest
    group by customer_rows.customer_id
{%- endmacro %}

{#- The digest inputs more than one of these models reads, defined once. -#}
{% macro subscriptions_digest_input() -%}
    {{ return(('subscription', ref('stg_crm__subscriptions'),
        ['subscription_id', 'currency', 'mrr', 'started_at', 'ended_at'])) }}
{%- endmacro %}

{#- An upstream model incremental by customer stands in for its rows with its
    stored digests (one row per customer, not one per customer and month): its
    rows of a customer are a function of the inputs its digest sums, so they
    change only when that digest does. `rows_input`: (tag, upstream relation,
    [expressions]), what is hashed where the upstream keeps no digests (not
    configured incremental, or never built so). dbt's relation cache answers
    whether the table exists: the upstream's post-hook adds it there
    (customer_digests_after), or a first build would hash rows and every later
    run read digests, and an unchanged re-run would rewrite every customer. At
    1 M customers, after a daily drop: fct_customer_months 17.6 -> 14.4 s and
    fct_mrr_movements 9.9 -> 7.3 s (16 M customer-months no longer read and
    hashed by each). The first run after this change recomputes both models'
    customers once (their stored digests were sums of rows). -#}
{% macro upstream_digests_input(rows_input) -%}
    {%- set tag, upstream = rows_input[0], rows_input[1] -%}
    {%- if execute -%}
        {%- set incremental = graph.nodes.values()
            | selectattr('resource_type', 'equalto', 'model')
            | selectattr('alias', 'equalto', upstream.identifier)
            | map(attribute='config.materialized') | select('equalto', 'incremental') | list -%}
        {%- set stored = intermediate_relation('_customer_digests_' ~ upstream.identifier) -%}
        {%- if incremental and adapter.get_relation(stored.database, stored.schema, stored.identifier) is not none -%}
            {{ return((tag, stored, ['digest'])) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(rows_input) }}
{%- endmacro %}

{% macro customer_months_digest_input() -%}
    {{ return(upstream_digests_input(('customer_month', ref('int_customer_months_evaluated'), [
        'month_start_date', 'is_active_start', 'is_active_end', 'is_active_in_month',
        'mrr_start', 'mrr_end', 'revenue', 'paid_invoice_count',
    ]))) }}
{%- endmacro %}

{% macro months_digest_input() -%}
    {{ return(('month', ref('int_months_spanned'), ['month_start_date'])) }}
{%- endmacro %}

{% macro fx_rates_digest_input() -%}
    {{ return(('fx_rate', ref('int_fx_rates_spanned'),
        ['currency', 'valid_from_date', 'valid_to_date', 'rate_to_reporting'])) }}
{%- endmacro %}

{% macro customer_digests_before(inputs, shared) -%}
    {%- if execute and model.config.materialized == 'incremental' -%}
        {%- set stored = customer_digests_relation() -%}
        {%- set new = customer_digests_relation('__new') -%}
        {%- set touched = customer_digests_relation('__touched') -%}
        {%- set stored_exists = adapter.get_relation(stored.database, stored.schema, stored.identifier) is not none -%}
        {#- A stored table of an older version has no `_written_at`: every customer
            counts as written by this run (their key tests read every key once). -#}
        {%- set keep_markers = stored_exists and is_incremental() and '_written_at' in (
            adapter.get_columns_in_relation(stored) | map(attribute='name') | map('lower') | list) -%}
        {{ hook_statement('drop table if exists ' ~ new) }}
        {%- set create_new %}
        create table {{ new }}{{ spark_using() }} as
        with computed as (
            {{ customer_digests_select(inputs, shared) }}
        )
        select
            computed.customer_id,
            computed.digest,
            {%- if keep_markers %}
            case
                when computed.digest = stored_digests.digest then stored_digests._written_at
                else {{ run_marker() }}
            end as _written_at
        from computed
        left join {{ stored }} as stored_digests
            on computed.customer_id = stored_digests.customer_id
            {%- else %}
            {{ run_marker() }} as _written_at
        from computed
            {%- endif %}
        {%- endset %}
        {{ hook_statement(create_new) }}
        {%- if is_incremental() %}
        {{ hook_statement('drop table if exists ' ~ touched) }}
        {%- if stored_exists %}
        {%- set create_touched %}
        create table {{ touched }}{{ spark_using() }} as
        select coalesce(new_digests.customer_id, stored_digests.customer_id) as customer_id
        from {{ new }} as new_digests
        full outer join {{ stored }} as stored_digests
            on new_digests.customer_id = stored_digests.customer_id
        where new_digests.digest is distinct from stored_digests.digest
        {%- endset %}
        {{ hook_statement(create_touched) }}
        {{ hook_statement(delete_where(this, 'customer_id in (select customer_id from ' ~ touched ~ ')')) }}
        {%- else %}
        {{ hook_statement('create table ' ~ touched ~ spark_using() ~ ' as select customer_id from ' ~ new) }}
        {{ hook_statement(delete_where(this, '1 = 1')) }}
        {%- endif %}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{% macro customer_digests_after() -%}
    {%- if execute and model.config.materialized == 'incremental' -%}
        {{ hook_statement('drop table if exists ' ~ customer_digests_relation()) }}
        {#- Spark names the renamed table's schema too; DuckDB and PostgreSQL keep it. -#}
        {%- set renamed = customer_digests_relation() if on_spark() else customer_digests_relation().identifier %}
        {{ hook_statement('alter table ' ~ customer_digests_relation('__new') ~ ' rename to ' ~ renamed) }}
        {#- Into dbt's relation cache: a downstream model asks it whether the
            stored digests exist (upstream_digests_input), and on a first build
            the cache, filled when the run began, does not know this table. -#}
        {%- do adapter.cache_added(customer_digests_relation().incorporate(type='table')) -%}
        {{ hook_statement('drop table if exists ' ~ customer_digests_relation('__touched')) }}
    {%- endif -%}
{%- endmacro %}
