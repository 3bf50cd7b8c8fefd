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
    written keys come from instead (macros/tests/written_keys.sql). Every
    upstream row the mart read after the latest tested run has a
    `_written_at` after it: that run built the mart and recorded its
    watermark at the upstream's latest marker. A mart built
    whole since then (first build, full refresh, a stored table of an older
    version) is tested whole: record_built_whole() notes when.
-#}
{% test unique_keys_written_since_tested(model, columns, written_at=none, written_upstream=none) %}
{%- set since = env_var('CX_TESTS_WRITTEN_SINCE', '') %}
{%- if since and written_upstream and execute and built_whole_since(model, since) %}
    {%- set since = '' %}
{%- endif %}
{%- set since_literal = "cast(" ~ dbt.string_literal(since) ~ " as " ~ dbt.type_timestamp() ~ ")" %}
select
    {% for column in columns -%}
    tested.{{ column }},
    {% endfor -%}
    count(*) as row_count
from {{ model }} as tested
{%- if since and (written_upstream or written_at) %}
{{ join_written_keys(model, columns, written_at, written_upstream, since_literal) }}
{%- endif %}
group by
    {% for column in columns -%}
    tested.{{ column }}{% if not loop.last %},{% endif %}
    {% endfor %}
having count(*) > 1

{% endtest %}
