-- kpi_monthly within each segment: the same metrics at company, journey, job
-- and touchpoint level, counted over the customers of one segment (the
-- customer's current segment; 'unknown' for rows without a customer or
-- segment), one row per (month, segment, level, level_id, metric). What the
-- dashboard's segment filter reads.
with

segment_metrics as (
    select * from {{ ref('int_kpi_metrics_unioned') }}
    where segment_scope <> 'all'
),

final as (
    select
        cast(segment_metrics.segment_scope as {{ dbt.type_string() }}) as segment,
        {{ kpi_mart_columns('segment_metrics') }}
    from segment_metrics
)

select * from final
