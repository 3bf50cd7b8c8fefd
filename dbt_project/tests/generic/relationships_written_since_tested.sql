{#-
    dbt's `relationships` test (every non-null `column_name` of `model` is a
    `field` of `to`) for an incremental model, reading only the rows written
    since the latest successful run, probed into the parent it has now. At 1 M customers
    the full tests probe tens of millions of fact rows into their dimensions
    on every daily drop (about 20 s for the marts' relationships).

    A child row can lose its parent in two ways: it is written with a key the
    parent lacks, or its parent key leaves the parent. The first is found by
    the rows written since the latest successful run (`CX_TESTS_WRITTEN_SINCE`;
    `columns`, `written_at`, `written_upstream`: the arguments of the model's
    unique_keys_written_since_tested, shared by a YAML anchor;
    macros/tests/written_keys.sql). The second by the parent's keys when
    every test of this kind on that parent last passed, which `on-run-end`
    stores (record_tested_parent_keys, macros/tests/tested_parent_keys.sql):
    that run was the latest successful one or later, and every row it kept
    had a parent among them. If one of those keys is gone from the parent,
    every row is tested. So is every row when there is no stored copy, when
    `CX_TESTS_WRITTEN_SINCE` is unset (a first build, `dbt build` by hand,
    `make dev`), on Spark, and when the model was built whole since
    (record_built_whole()).
-#}
{% test relationships_written_since_tested(
    model, column_name, to, field, columns, written_at=none, written_upstream=none
) %}
{%- set since = tested_parent_keys_since(to, field) if execute else '' %}
{%- if since and written_upstream and built_whole_since(model, since) %}
    {%- set since = '' %}
{%- endif %}
{%- set since_literal = "cast(" ~ dbt.string_literal(since) ~ " as " ~ dbt.type_timestamp() ~ ")" %}
select tested.{{ column_name }} as from_field
from {{ model }} as tested
{%- if since %}
{{ join_written_keys(model, columns, written_at, written_upstream, since_literal) }}
{%- endif %}
left join {{ to }} as parent
    on tested.{{ column_name }} = parent.{{ field }}
where
    tested.{{ column_name }} is not null
    and parent.{{ field }} is null

{% endtest %}
