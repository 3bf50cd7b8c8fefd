{#-
    The distinct keys (`columns`) of the rows of `model` written after
    `since_literal` (a timestamp expression), as one select: the key tests of
    the incremental models read them (tests/generic/*_written_since_tested.sql).
    `written_at`: the model's own marker column. `written_upstream` (an
    incremental mart, whose contract leaves no room for a marker): a list of
    `{model: ref(...), select: [expressions named as the mart's key columns],
    where: optional condition}`, each read where its `_written_at` is after
    `since`. When `select` names only part of the key (a response whose
    touchpoint changed rewrites all its answers), the mart's keys that match
    it are the written keys.
-#}
{% macro written_keys_select(model, columns, written_at, written_upstream, since_literal) -%}
{%- if not written_upstream %}
    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where {{ written_at }} > {{ since_literal }}
{%- else %}
{%- for upstream in written_upstream %}
{%- set upstream_keys -%}
    select distinct {{ upstream.select | join(', ') }}
    from {{ upstream.model }}
    where _written_at > {{ since_literal }}
    {%- if upstream.where %} and {{ upstream.where }}{% endif %}
{%- endset %}
    select * from (
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
    ) as written_{{ loop.index }}
    {%- if not loop.last %}
    union
    {%- endif %}
{%- endfor %}
{%- endif %}
{%- endmacro %}

{#- `tested` joined to the written keys: `inner join (...) as written on ...`. A
    join to the distinct written keys, not `exists (... written.k = tested.k)`:
    DuckDB runs a correlated subquery as a join to the distinct keys of the
    whole table, which cost more than the plain test (17-27 s per model at 1 M). -#}
{% macro join_written_keys(model, columns, written_at, written_upstream, since_literal) -%}
inner join (
    {{ written_keys_select(model, columns, written_at, written_upstream, since_literal) }}
) as written
    on
    {%- for column in columns %}
        {% if not loop.first %}and {% endif %}tested.{{ column }} = written.{{ column }}
    {%- endfor %}
{%- endmacro %}
