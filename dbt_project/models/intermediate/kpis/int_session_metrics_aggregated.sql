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

levels as (
    {{ kpi_levels() }}
),

sessions_by_level as (
    select
        classified_sessions.month_start_date,
        classified_sessions.has_purchase,
        classified_sessions.has_add_to_cart,
        classified_sessions.is_bounce,
        classified_sessions.is_cart_abandoned,
        {{ kpi_segment_scope('levels', 'classified_sessions') }} as segment_scope,
        levels.level,
        {{ kpi_level_id('levels', 'classified_sessions') }} as level_id
    from classified_sessions
    cross join levels
),

level_counts as (
    select
        month_start_date,
        segment_scope,
        level,
        level_id,
        count(*) as session_count,
        sum(case when has_purchase then 1 else 0 end) as converted_sessions,
        sum(case when is_bounce then 1 else 0 end) as bounced_sessions,
        sum(case when has_add_to_cart then 1 else 0 end) as cart_sessions,
        sum(case when is_cart_abandoned then 1 else 0 end) as abandoned_cart_sessions
    from sessions_by_level
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
