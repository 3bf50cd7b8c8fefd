{#-
    Whether the target runs on Spark: dbt-spark, or Databricks through
    dbt-databricks, which dispatches to the `spark__` macros (its adapter
    declares dbt-spark as its parent), so the two give the same SQL. The
    incremental models replace rows by key with a rewrite of the table on
    Spark's Parquet (macros/incremental/spark_rewrite.sql) and with Delta's
    MERGE on Databricks (untested here).
-#}
{% macro on_spark() -%}
    {{ return(target.type in ['spark', 'databricks']) }}
{%- endmacro %}

{#-
    dbt's `is_incremental()`, answering false without asking the warehouse when
    the model is not materialized incrementally (dbt's own asks for the stored
    relation first, then checks the materialization), or when dbt may not ask
    it (`dbt compile --no-introspect`: every model compiles as its first
    build). The project then compiles without a connection (`make
    databricks-check`). Same answer everywhere else.
-#}
{% macro is_incremental() -%}
    {%- if model.config.materialized != 'incremental' or not flags.INTROSPECT -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}

{#-
    On Databricks, date arithmetic as on Spark (dbt-spark's, tested there):
    dbt-databricks' own versions ask the cluster for its runtime version first,
    which a compile without a workspace cannot answer.
-#}
{% macro databricks__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {{ return(spark__dateadd(datepart, interval, from_date_or_timestamp)) }}
{%- endmacro %}

{% macro databricks__datediff(first_date, second_date, datepart) -%}
    {{ return(spark__datediff(first_date, second_date, datepart)) }}
{%- endmacro %}
