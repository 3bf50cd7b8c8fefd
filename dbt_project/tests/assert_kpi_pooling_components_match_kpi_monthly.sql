-- Each month's components give kpi_monthly's nps, csat and ces (and their n)
-- at every level, so pooling them over months pools the same answers.
with

components as (
    select * from {{ ref('kpi_pooling_components') }}
),

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

recomputed as (
    select
        month,
        level,
        level_id,
        'nps' as metric,
        100.0 * (promoters - detractors) / nps_answers as value,
        nps_answers as n
    from components
    where nps_answers > 0
    union all
    select
        month,
        level,
        level_id,
        'csat' as metric,
        100.0 * csat_top2 / csat_answers as value,
        csat_answers as n
    from components
    where csat_answers > 0
    union all
    select
        month,
        level,
        level_id,
        'ces' as metric,
        ces_sum / ces_answers as value,
        ces_answers as n
    from components
    where ces_answers > 0
),

survey_kpis as (
    select * from kpis
    where metric in ('nps', 'csat', 'ces')
)

select
    coalesce(recomputed.month, survey_kpis.month) as month,
    coalesce(recomputed.level, survey_kpis.level) as level,
    coalesce(recomputed.level_id, survey_kpis.level_id) as level_id,
    coalesce(recomputed.metric, survey_kpis.metric) as metric,
    recomputed.value as recomputed_value,
    survey_kpis.value as kpi_value
from recomputed
full outer join survey_kpis
    on
        recomputed.month = survey_kpis.month
        and recomputed.level = survey_kpis.level
        and recomputed.level_id = survey_kpis.level_id
        and recomputed.metric = survey_kpis.metric
where
    recomputed.metric is null
    or survey_kpis.metric is null
    or recomputed.n <> survey_kpis.n
    or abs(recomputed.value - survey_kpis.value) > 1e-9
