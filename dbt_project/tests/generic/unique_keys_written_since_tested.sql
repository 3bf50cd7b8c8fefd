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
-#}
{% test unique_keys_written_since_tested(model, columns, written_at) %}
{%- set since = env_var('CX_TESTS_WRITTEN_SINCE', '') %}

select
    {% for column in columns -%}
    tested.{{ column }},
    {% endfor -%}
    count(*) as row_count
from {{ model }} as tested
{%- if since %}
-- A join to the distinct written keys, not `exists (... written.k = tested.k)`:
-- DuckDB runs a correlated subquery as a join to the distinct keys of the
-- whole table, which cost more than the plain test (17-27 s per model at 1 M).
inner join (
    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where {{ written_at }} > cast({{ dbt.string_literal(since) }} as {{ dbt.type_timestamp() }})
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
