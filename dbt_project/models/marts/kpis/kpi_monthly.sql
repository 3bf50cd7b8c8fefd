-- Every metric of kpis.md, one row per (month, level, level_id, metric), over
-- every customer.
with

all_metrics as (
    select * from {{ ref('int_kpi_metrics_unioned') }}
    where segment_scope = 'all'
),

final as (
    select {{ kpi_mart_columns('all_metrics') }}
    from all_metrics
)

select * from final
