{#-
    The parents' keys as they were when their relationship tests last passed
    (tests/generic/relationships_written_since_tested.sql): one table per
    parent and field, `intermediate._tested_keys__<parent>__<field>`. Not on
    Spark (its tests read every row).
-#}
{% macro tested_parent_keys_relation(parent_identifier, field) -%}
    {{- return(intermediate_relation('_tested_keys__' ~ parent_identifier ~ '__' ~ field)) -}}
{%- endmacro %}

{#- The stored keys of `parent`.`field` that the parent has lost since, as a select. -#}
{% macro tested_parent_keys_gone(stored, parent, field) -%}
    select stored.parent_key
    from {{ stored }} as stored
    where not exists (
        select 1 from {{ parent }} as parent where parent.{{ field }} = stored.parent_key
    )
{%- endmacro %}

{#- `CX_TESTS_WRITTEN_SINCE` if the parent still has every key it had when its
    tests last passed; else '' (every row is tested). -#}
{% macro tested_parent_keys_since(parent, field) -%}
    {%- set since = env_var('CX_TESTS_WRITTEN_SINCE', '') -%}
    {%- set stored = tested_parent_keys_relation(parent.identifier, field) -%}
    {%- if not since or on_spark()
        or adapter.get_relation(stored.database, stored.schema, stored.identifier) is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set gone = run_query(
        'select count(*) from (' ~ tested_parent_keys_gone(stored, parent, field) ~ ') as gone'
    ).rows[0][0] -%}
    {{ return('' if gone > 0 else since) }}
{%- endmacro %}

{#- `on-run-end`: for each parent whose every relationships_written_since_tested
    test (in the project, not only this run's selection) passed in this run,
    its distinct keys replace the stored ones if they differ (an unchanged
    parent writes nothing: a re-run on unchanged input changes nothing). -#}
{% macro record_tested_parent_keys(results) -%}
    {%- if not execute or on_spark() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set passed = results | selectattr('status', 'equalto', 'pass')
        | map(attribute='node') | map(attribute='unique_id') | list -%}
    {%- set parents = {} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'test' and node.test_metadata
        and node.test_metadata.name == 'relationships_written_since_tested' -%}
        {%- set found = modules.re.search("ref\\(\\s*['\"]([^'\"]+)['\"]\\s*\\)", node.test_metadata.kwargs.to) -%}
        {%- set parent = found.group(1) ~ '|' ~ node.test_metadata.kwargs.field -%}
        {%- do parents.setdefault(parent, []).append(node.unique_id in passed) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for parent, tests_passed in parents.items() if tests_passed | select | list | length == tests_passed | length -%}
        {%- set name, field = parent.split('|') -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
            {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
            {%- set stored = tested_parent_keys_relation(node.alias, field) -%}
            {%- set keys = 'select distinct ' ~ field ~ ' as parent_key from ' ~ relation
                ~ ' where ' ~ field ~ ' is not null' -%}
            {%- set unchanged = adapter.get_relation(stored.database, stored.schema, stored.identifier) is not none
                and run_query(
                    'select (select count(*) from ' ~ stored ~ ') = (select count(*) from (' ~ keys ~ ') as now)'
                    ~ ' and not exists (' ~ tested_parent_keys_gone(stored, relation, field) ~ ')'
                ).rows[0][0] -%}
            {%- if not unchanged -%}
                {%- do statements.append('drop table if exists ' ~ stored) -%}
                {%- do statements.append('create table ' ~ stored ~ ' as ' ~ keys) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
