-- The answers behind nps, csat and ces per month of submitted_at, at every
-- roll-up level: counts per category and the exact CES sum. The metrics
-- (int_survey_metrics_aggregated) and the pooling components mart
-- (kpi_pooling_components) both read it. A row exists where the level has
-- at least one numeric nps, csat or ces answer in the month.
with

answers as (
    select * from {{ ref('int_answers_scored') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'survey_response'
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

scored_answers as (
    select
        answers.submitted_month_start_date as month_start_date,
        answers.metric,
        answers.nps_category,
        answers.is_top_2_box,
        answers.ces_score,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.job_id, 'unknown') as job_id,
        coalesce(assignments.journey_id, 'unknown') as journey_id,
        coalesce(customers.segment, 'unknown') as segment
    from answers
    left join assignments
        on answers.response_id = assignments.subject_id
    left join customers
        on answers.customer_id = customers.customer_id
    where
        answers.metric in ('nps', 'csat', 'ces')
        and answers.value_number is not null
),

-- One pass over the answers into their finest grain; every level below adds
-- these up (integer counts and an exact decimal sum: the same in any grouping),
-- instead of repeating each answer once per level.
grain_counts as (
    select
        {{ kpi_grain() }},
        sum(case when metric = 'nps' then 1 else 0 end) as nps_answers,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as promoters,
        sum(case when nps_category = 'passive' then 1 else 0 end) as passives,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as detractors,
        sum(case when metric = 'csat' then 1 else 0 end) as csat_answers,
        sum(case when metric = 'csat' and is_top_2_box then 1 else 0 end) as csat_top_2_box_answers,
        sum(case when metric = 'ces' then 1 else 0 end) as ces_answers,
        -- Exact decimal sum, so a mean does not depend on the order of addition.
        sum(case when metric = 'ces' then cast(ces_score as decimal(38, 18)) end) as ces_sum
    from scored_answers
    group by {{ kpi_grain() }}
),

grain_counts_by_level as (
    {{ kpi_grain_by_level('grain_counts') }}
),

final as (
    select
        month_start_date,
        segment_scope,
        level,
        level_id,
        {{ sum_of_counts('nps_answers') }} as nps_answers,
        {{ sum_of_counts('promoters') }} as promoters,
        {{ sum_of_counts('passives') }} as passives,
        {{ sum_of_counts('detractors') }} as detractors,
        {{ sum_of_counts('csat_answers') }} as csat_answers,
        {{ sum_of_counts('csat_top_2_box_answers') }} as csat_top_2_box_answers,
        {{ sum_of_counts('ces_answers') }} as ces_answers,
        sum(ces_sum) as ces_sum
    from grain_counts_by_level
    group by
        month_start_date,
        segment_scope,
        level,
        level_id
)

select * from final
