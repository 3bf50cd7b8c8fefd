-- nps, csat and ces per month of submitted_at, at every roll-up level.
-- A row exists where the metric has at least one answer (n > 0).
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

levels as (
    {{ kpi_levels() }}
),

answers_by_level as (
    select
        scored_answers.month_start_date,
        levels.level,
        {{ kpi_level_id('levels', 'scored_answers') }} as level_id,
        scored_answers.metric,
        scored_answers.nps_category,
        scored_answers.is_top_2_box,
        scored_answers.ces_score
    from scored_answers
    cross join levels
),

level_counts as (
    select
        month_start_date,
        level,
        level_id,
        sum(case when metric = 'nps' then 1 else 0 end) as nps_answers,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as promoters,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as detractors,
        sum(case when metric = 'csat' then 1 else 0 end) as csat_answers,
        sum(case when metric = 'csat' and is_top_2_box then 1 else 0 end) as csat_top_2_box_answers,
        sum(case when metric = 'ces' then 1 else 0 end) as ces_answers,
        -- Exact decimal sum, so the mean does not depend on the order of addition.
        cast(
            sum(case when metric = 'ces' then cast(ces_score as decimal(38, 18)) end)
            as {{ type_double() }}
        ) / nullif(sum(case when metric = 'ces' then 1 else 0 end), 0) as ces_mean
    from answers_by_level
    group by
        month_start_date,
        level,
        level_id
),

nps_shares as (
    select
        month_start_date,
        level,
        level_id,
        nps_answers,
        promoters - detractors as net_promoters,
        {{ percentage('promoters - detractors', 'nps_answers') }} as nps,
        cast(promoters as {{ type_double() }}) / nps_answers as promoter_share,
        cast(detractors as {{ type_double() }}) / nps_answers as detractor_share
    from level_counts
    where nps_answers > 0
),

nps_intervals as (
    -- se = 100 x sqrt((p + d - (p - d)^2) / n); the interval is nps +- 1.96 x se.
    select
        *,
        100 * sqrt(
            (
                promoter_share + detractor_share
                - (promoter_share - detractor_share) * (promoter_share - detractor_share)
            ) / nps_answers
        ) as nps_standard_error
    from nps_shares
),

final as (
    {{ kpi_metric_rows('level_counts', [
        {
            'metric': 'nps',
            'value': 'nps',
            'numerator': 'net_promoters',
            'denominator': 'nps_answers',
            'n': 'nps_answers',
            'ci': ('nps - 1.96 * nps_standard_error', 'nps + 1.96 * nps_standard_error'),
            'from': 'nps_intervals',
        },
        {
            'metric': 'csat',
            'ratio': ('csat_top_2_box_answers', 'csat_answers'),
            'n': 'csat_answers',
            'where': 'csat_answers > 0',
        },
        {'metric': 'ces', 'value': 'ces_mean', 'n': 'ces_answers', 'where': 'ces_answers > 0'},
    ], with_ci=true) }}
)

select * from final
