with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'web_session'
),

final as (
    select
        sessions.session_id,
        sessions.session_id_origin,
        sessions.anonymous_id,
        sessions.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.assignment_method, 'unknown') as touchpoint_assignment_method,
        assignments.matched_rule_id,
        sessions.started_at,
        cast(sessions.started_at as date) as started_date,
        sessions.ended_at,
        sessions.landing_page_path,
        sessions.event_count,
        sessions.page_view_count,
        sessions.has_add_to_cart,
        sessions.has_purchase,
        sessions.is_bounce,
        sessions.is_cart_abandoned,
        sessions.revenue_reporting
    from sessions
    left join assignments
        on sessions.session_id = assignments.subject_id
)

select * from final
