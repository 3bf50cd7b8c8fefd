{#-
    A mart that only fixes the contract of what a helper computed: one
    `cast(<column> as <type>) as <column>` per column of the model's yml, in
    the yml's order, each yml data_type turned into the engine's type by
    contract_type(). `expressions` replaces the column of the same name by an
    expression (still cast to the column's type), for the few columns a mart
    derives rather than passes on.
-#}
{% macro select_as_contract(relation, expressions={}) -%}
    select
    {%- for name, column in model.columns.items() %}
        cast({{ expressions.get(name, name) }} as {{ contract_type(column.data_type) }}) as {{ name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    from {{ relation }}
{%- endmacro %}

{#- A yml contract data_type (DuckDB's names) as this engine's type. -#}
{% macro contract_type(data_type) -%}
    {%- set kind = data_type | lower -%}
    {%- if kind == 'varchar' -%}{{ dbt.type_string() }}
    {%- elif kind == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif kind == 'double' -%}{{ type_double() }}
    {%- elif kind == 'boolean' -%}{{ dbt.type_boolean() }}
    {%- elif kind == 'timestamp' -%}{{ dbt.type_timestamp() }}
    {%- elif kind == 'date' -%}date
    {%- elif kind.startswith('decimal(') or kind.startswith('numeric(') -%}{{ kind }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "select_as_contract: no engine type for data_type '" ~ data_type
            ~ "' of model " ~ model.name ~ "; add it to contract_type()") }}
    {%- endif -%}
{%- endmacro %}
