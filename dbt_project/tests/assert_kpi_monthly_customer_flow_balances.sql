-- lost_customers = active_customers_start + new_customers - active_customers_end
-- on every (month, level, level_id) that has customer metrics.
with

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

flows as (
    select
        month,
        level,
        level_id,
        sum(case when metric = 'active_customers_start' then value end) as active_start,
        sum(case when metric = 'new_customers' then value end) as new_customers,
        sum(case when metric = 'active_customers_end' then value end) as active_end,
        sum(case when metric = 'lost_customers' then value end) as lost_customers
    from kpis
    where level in ('company', 'segment')
    group by
        month,
        level,
        level_id
)

select *
from flows
where
    -- segments seen only through anonymous tickets or sessions have no customer metrics
    active_start is not null
    and (
        lost_customers is null
        or lost_customers <> active_start + new_customers - active_end
    )
