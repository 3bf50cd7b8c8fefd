-- Roll-up completeness: every answer, ticket and session belongs to exactly
-- one journey, job, touchpoint and segment (possibly 'unknown'), so at each
-- of those levels the samples of a month add up to the company's.
with

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

company as (
    select
        month,
        metric,
        n
    from kpis
    where level = 'company'
),

level_totals as (
    select
        month,
        level,
        metric,
        sum(n) as n
    from kpis
    where
        level in ('journey', 'job', 'touchpoint', 'segment')
        and metric in (
            'nps', 'csat', 'ces', 'tickets_created', 'avg_resolution_hours',
            'median_first_response_minutes', 'sessions', 'cart_abandonment_rate'
        )
    group by
        month,
        level,
        metric
)

select
    level_totals.month,
    level_totals.level,
    level_totals.metric,
    level_totals.n as level_n,
    company.n as company_n
from level_totals
left join company
    on
        level_totals.month = company.month
        and level_totals.metric = company.metric
where company.n is null or company.n <> level_totals.n
