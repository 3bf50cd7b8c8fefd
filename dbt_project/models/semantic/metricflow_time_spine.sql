-- The day-grain time spine MetricFlow joins to (declared in _semantic__models.yml):
-- the days of dim_date, the months that have data.
{{ config(materialized='view', schema='intermediate') }}

with

dates as (
    select * from {{ ref('dim_date') }}
),

final as (
    select date_day
    from dates
)

select * from final
