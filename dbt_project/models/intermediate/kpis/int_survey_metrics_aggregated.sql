-- nps, csat and ces per month of submitted_at, at every roll-up level, over
-- every customer and within each segment (segment_scope).
-- A row exists where the metric has at least one answer (n > 0).
with

level_counts as (
    select
        *,
        cast(ces_sum as {{ type_double() }}) / nullif(ces_answers, 0) as ces_mean
    from {{ ref('int_survey_answers_counted') }}
),

nps_shares as (
    select
        month_start_date,
        segment_scope,
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
        {{ nps_standard_error('promoter_share', 'detractor_share', 'nps_answers') }} as nps_standard_error
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
