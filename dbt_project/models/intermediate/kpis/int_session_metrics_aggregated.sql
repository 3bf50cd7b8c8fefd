-- sessions, conversion_rate, bounce_rate and cart_abandonment_rate per month
-- of the session's first event, at every roll-up level. A row exists where
-- the metric's sample is not empty: sessions for the first three, sessions
-- with add_to_cart for cart_abandonment_rate.
with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'web_session'
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

classified_sessions as (
    select
        {{ month_start('sessions.started_at') }} as month_start_date,
        sessions.has_purchase,
        sessions.has_add_to_cart,
        sessions.is_bounce,
        sessions.is_cart_abandoned,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.job_id, 'unknown') as job_id,
        coalesce(assignments.journey_id, 'unknown') as journey_id,
        coalesce(customers.segment, 'unknown') as segment
    from sessions
    left join assignments
        on sessions.session_id = assignments.subject_id
    left join customers
        on sessions.customer_id = customers.customer_id
),

-- One pass over the sessions into their finest grain; every level below adds
-- these counts up (integers: exact in any grouping), instead of repeating each
-- session once per level.
grain_counts as (
    select
        {{ kpi_grain() }},
        count(*) as session_count,
        sum(case when has_purchase then 1 else 0 end) as converted_sessions,
        sum(case when is_bounce then 1 else 0 end) as bounced_sessions,
        sum(case when has_add_to_cart then 1 else 0 end) as cart_sessions,
        sum(case when is_cart_abandoned then 1 else 0 end) as abandoned_cart_sessions
    from classified_sessions
    group by {{ kpi_grain() }}
),

grain_counts_by_level as (
    {{ kpi_grain_by_level('grain_counts') }}
),

level_counts as (
    select
        month_start_date,
        segment_scope,
        level,
        level_id,
        {{ sum_of_counts('session_count') }} as session_count,
        {{ sum_of_counts('converted_sessions') }} as converted_sessions,
        {{ sum_of_counts('bounced_sessions') }} as bounced_sessions,
        {{ sum_of_counts('cart_sessions') }} as cart_sessions,
        {{ sum_of_counts('abandoned_cart_sessions') }} as abandoned_cart_sessions
    from grain_counts_by_level
    group by
        month_start_date,
        segment_scope,
        level,
        level_id
),

final as (
    {{ kpi_metric_rows('level_counts', [
        {'metric': 'sessions', 'measure': 'session_count', 'n': 'session_count'},
        {'metric': 'conversion_rate', 'ratio': ('converted_sessions', 'session_count'), 'n': 'session_count'},
        {'metric': 'bounce_rate', 'ratio': ('bounced_sessions', 'session_count'), 'n': 'session_count'},
        {
            'metric': 'cart_abandonment_rate',
            'ratio': ('abandoned_cart_sessions', 'cart_sessions'),
            'n': 'cart_sessions',
            'where': 'cart_sessions > 0',
        },
    ]) }}
)

select * from final
