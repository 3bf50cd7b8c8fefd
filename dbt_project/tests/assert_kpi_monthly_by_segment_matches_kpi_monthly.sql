{%- set summed_metrics -%}
    'nps', 'csat', 'ces', 'tickets_created', 'avg_resolution_hours',
    'median_first_response_minutes', 'sessions', 'cart_abandonment_rate'
{%- endset -%}

-- kpi_monthly_by_segment counts within a segment what kpi_monthly's segment
-- level counts: its company row of a segment is kpi_monthly's row at level
-- segment (same value, n and interval), every metric and month, both ways;
-- and at journey, job and touchpoint level the segments' samples add up to
-- kpi_monthly's (for the metrics whose n counts answers, tickets or sessions).
with

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

by_segment as (
    select * from {{ ref('kpi_monthly_by_segment') }}
),

segment_rows as (
    select
        month,
        level_id as segment,
        metric,
        value,
        n,
        ci_low,
        ci_high
    from kpis
    where level = 'segment'
),

scoped_company_rows as (
    select
        month,
        segment,
        metric,
        value,
        n,
        ci_low,
        ci_high
    from by_segment
    where level = 'company'
),

company_mismatches as (
    select
        coalesce(segment_rows.month, scoped_company_rows.month) as month,
        coalesce(segment_rows.segment, scoped_company_rows.segment) as segment,
        coalesce(segment_rows.metric, scoped_company_rows.metric) as metric,
        'company row differs from the segment level' as problem
    from segment_rows
    full outer join scoped_company_rows
        on
            segment_rows.month = scoped_company_rows.month
            and segment_rows.segment = scoped_company_rows.segment
            and segment_rows.metric = scoped_company_rows.metric
    where
        segment_rows.month is null
        or scoped_company_rows.month is null
        or segment_rows.n <> scoped_company_rows.n
        or (segment_rows.value is null) <> (scoped_company_rows.value is null)
        or abs(segment_rows.value - scoped_company_rows.value)
        > 1e-9 * greatest(1, abs(segment_rows.value))
        or (segment_rows.ci_low is null) <> (scoped_company_rows.ci_low is null)
        or abs(segment_rows.ci_low - scoped_company_rows.ci_low) > 1e-9
),

level_sums as (
    select
        month,
        level,
        level_id,
        metric,
        sum(n) as n
    from by_segment
    where level <> 'company' and metric in ({{ summed_metrics }})
    group by
        month,
        level,
        level_id,
        metric
),

level_mismatches as (
    select
        coalesce(kpis.month, level_sums.month) as month,
        coalesce(kpis.level_id, level_sums.level_id) as segment,
        coalesce(kpis.metric, level_sums.metric) as metric,
        'segments do not add up at ' || coalesce(kpis.level, level_sums.level) as problem
    from (
        select * from kpis
        where
            level in ('journey', 'job', 'touchpoint')
            and metric in ({{ summed_metrics }})
    ) as kpis
    full outer join level_sums
        on
            kpis.month = level_sums.month
            and kpis.level = level_sums.level
            and kpis.level_id = level_sums.level_id
            and kpis.metric = level_sums.metric
    where
        kpis.month is null
        or level_sums.month is null
        or kpis.n <> level_sums.n
)

select * from company_mismatches
union all
select * from level_mismatches
