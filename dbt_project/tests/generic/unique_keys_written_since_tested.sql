{#-
    The primary key test of an incremental model: fails with every key that
    occurs more than once, looking only at the keys of the rows written since
    its tests last passed. `written_at` is a column every run stamps on each
    row it writes (`run_marker()`: the start of that dbt run). A duplicate
    needs at least one row written after the latest run whose tests read every
    key and passed, so the keys of those rows, each counted over the whole
    table, find it: a duplicate of a new row and an old one included. At 1 M
    customers the full test of the sessionised events groups 50 M keys (10 s
    per drop); this one probes them with the few written keys.
    `CX_TESTS_WRITTEN_SINCE` is the end of the latest successful run that
    built every incremental model with the same tests (`cx-insights run`
    sets it from its run log, cx_insights/report/status.py); unset or empty
    (a first build, `dbt build` by hand, `make dev`) every key is tested. A
    full refresh stamps every row with its run's start: every key is tested.

    An incremental mart has no marker column (its contract leaves no room for
    one): it rewrites the rows of the upstream rows written after its
    watermark (stored_watermark()), so `written_upstream` says where its
    written keys come from instead, a list of
    `{model: ref(...), select: [expressions named as the mart's key columns],
    where: optional condition}`, each read where its `_written_at` is after
    `since`. When `select` names only part of the key (a response whose
    touchpoint changed rewrites all its answers), the mart's keys that match
    it are the written keys. Every upstream row the mart read after the
    latest tested run has a `_written_at` after it: that run built the mart
    and recorded its watermark at the upstream's latest marker. A mart built
    whole since then (first build, full refresh, a stored table of an older
    version) is tested whole: record_built_whole() notes when.
-#}
{% test unique_keys_written_since_tested(model, columns, written_at=none, written_upstream=none) %}
{%- set since = env_var('CX_TESTS_WRITTEN_SINCE', '') %}
{%- if since and written_upstream and execute and built_whole_since(model, since) %}
    {%- set since = '' %}
{%- endif %}
{%- set since_literal = "cast(" ~ dbt.string_literal(since) ~ " as " ~ dbt.type_timestamp() ~ ")" %}

{%- if since and written_upstream %}
with

{% for upstream in written_upstream -%}
{%- set upstream_keys -%}
    select distinct {{ upstream.select | join(', ') }}
    from {{ upstream.model }}
    where _written_at > {{ since_literal }}
    {%- if upstream.where %} and {{ upstream.where }}{% endif %}
{%- endset %}
written_{{ loop.index }} as (
    {%- if upstream.select | length == columns | length %}
    {{ upstream_keys }}
    {%- else %}
    {%- set matched = [] %}
    {%- for expression in upstream.select %}
        {%- do matched.append(expression.split(' as ')[-1] | trim) %}
    {%- endfor %}
    select distinct
        {%- for column in columns %}
        mart.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ model }} as mart
    inner join ({{ upstream_keys }}) as upstream_keys
        on
        {%- for column in matched %}
            {% if not loop.first %}and {% endif %}mart.{{ column }} = upstream_keys.{{ column }}
        {%- endfor %}
    {%- endif %}
),

{% endfor -%}
written as (
    {%- for upstream in written_upstream %}
    select * from written_{{ loop.index }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
)

{% endif -%}
select
    {% for column in columns -%}
    tested.{{ column }},
    {% endfor -%}
    count(*) as row_count
from {{ model }} as tested
{%- if since and written_upstream %}
inner join written
    on
    {%- for column in columns %}
        {% if not loop.first %}and {% endif %}tested.{{ column }} = written.{{ column }}
    {%- endfor %}
{%- elif since %}
-- A join to the distinct written keys, not `exists (... written.k = tested.k)`:
-- DuckDB runs a correlated subquery as a join to the distinct keys of the
-- whole table, which cost more than the plain test (17-27 s per model at 1 M).
inner join (
    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where {{ written_at }} > {{ since_literal }}
) as written
    on
    {%- for column in columns %}
        {% if not loop.first %}and {% endif %}tested.{{ column }} = written.{{ column }}
    {%- endfor %}
{%- endif %}
group by
    {% for column in columns -%}
    tested.{{ column }}{% if not loop.last %},{% endif %}
    {% endfor %}
having count(*) > 1

{% endtest %}
