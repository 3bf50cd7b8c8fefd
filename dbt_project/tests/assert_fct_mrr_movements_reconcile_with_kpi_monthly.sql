-- Per month, the MRR bridge of fct_mrr_movements closes to the cent:
-- mrr_start + new + expansion - contraction - churned + reactivation
-- + fx_revaluation = mrr_end, and its start and end are kpi_monthly's company
-- mrr_start and mrr_end (a month without MRR movements has both at 0).
with

movements as (
    select * from {{ ref('fct_mrr_movements') }}
),

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

bridges as (
    select
        month_start_date,
        sum(mrr_start) as mrr_start,
        sum(mrr_end) as mrr_end,
        sum(new_mrr) as new_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churned_mrr) as churned_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(fx_revaluation_mrr) as fx_revaluation_mrr
    from movements
    group by month_start_date
),

company as (
    select
        month as month_start_date,
        sum(case when metric = 'mrr_start' then value end) as kpi_mrr_start,
        sum(case when metric = 'mrr_end' then value end) as kpi_mrr_end
    from kpis
    where
        level = 'company'
        and metric in ('mrr_start', 'mrr_end')
    group by month
),

compared as (
    select
        company.month_start_date,
        company.kpi_mrr_start,
        company.kpi_mrr_end,
        coalesce(bridges.mrr_start, 0) as mrr_start,
        coalesce(bridges.mrr_end, 0) as mrr_end,
        coalesce(
            bridges.mrr_start + bridges.new_mrr + bridges.expansion_mrr - bridges.contraction_mrr
            - bridges.churned_mrr + bridges.reactivation_mrr + bridges.fx_revaluation_mrr,
            0
        ) as bridged_mrr_end
    from company
    left join bridges
        on company.month_start_date = bridges.month_start_date
)

select *
from compared
where
    abs(cast(mrr_start as {{ type_double() }}) - kpi_mrr_start) >= 0.005
    or abs(cast(mrr_end as {{ type_double() }}) - kpi_mrr_end) >= 0.005
    or abs(cast(bridged_mrr_end - mrr_end as {{ type_double() }})) >= 0.005
