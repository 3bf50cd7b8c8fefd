{#-
    Whether the target runs on Spark: dbt-spark, or Databricks through
    dbt-databricks, which dispatches to the `spark__` macros (its adapter
    declares dbt-spark as its parent). Both build the incremental models as
    tables rebuilt whole, as on Parquet (cx_insights.spark), so the two give the
    same SQL; Delta's MERGE could make them incremental on Databricks, untested
    here.
-#}
{% macro on_spark() -%}
    {{ return(target.type in ['spark', 'databricks']) }}
{%- endmacro %}

{#-
    dbt's `is_incremental()`, answering false without asking the warehouse when
    the model is not materialized incrementally (dbt's own asks for the stored
    relation first, then checks the materialization): on Spark and Databricks,
    where those models are tables, the project then compiles without a
    connection (`make databricks-check`). Same answer everywhere.
-#}
{% macro is_incremental() -%}
    {%- if model.config.materialized != 'incremental' -%}
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
