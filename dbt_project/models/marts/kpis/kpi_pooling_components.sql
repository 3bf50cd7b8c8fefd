-- The counts and sums behind kpi_monthly's survey metrics, per (month, level,
-- level_id) with the same levels and level ids, so that NPS, CSAT and CES
-- pooled over any months (a quarter, a year) and their intervals are one
-- query: sum the components over the months, then apply kpis.md's formulas
-- (README, "Pooling months"). A row exists where the level has at least one
-- nps, csat or ces answer in the month.
with

counted as (
    select * from {{ ref('int_survey_answers_counted') }}
    where segment_scope = 'all'
),

final as (
    select
        cast(month_start_date as date) as month,
        level,
        level_id,
        cast(promoters as {{ dbt.type_bigint() }}) as promoters,
        cast(passives as {{ dbt.type_bigint() }}) as passives,
        cast(detractors as {{ dbt.type_bigint() }}) as detractors,
        cast(nps_answers as {{ dbt.type_bigint() }}) as nps_answers,
        cast(csat_top_2_box_answers as {{ dbt.type_bigint() }}) as csat_top2,
        cast(csat_answers as {{ dbt.type_bigint() }}) as csat_answers,
        cast(coalesce(ces_sum, 0) as {{ type_double() }}) as ces_sum,
        cast(ces_answers as {{ dbt.type_bigint() }}) as ces_answers
    from counted
)

select * from final
