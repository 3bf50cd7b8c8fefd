with

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'ticket'
),

final as (
    select
        tickets.ticket_id,
        tickets.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.assignment_method, 'unknown') as touchpoint_assignment_method,
        assignments.matched_rule_id,
        tickets.created_at,
        cast(tickets.created_at as date) as created_date,
        tickets.channel,
        tickets.category,
        tickets.priority,
        tickets.ticket_status,
        tickets.first_response_at,
        tickets.solved_at,
        tickets.solved_at is not null as is_solved,
        {{ seconds_between('tickets.created_at', 'tickets.first_response_at') }} / 60 as first_response_minutes,
        {{ seconds_between('tickets.created_at', 'tickets.solved_at') }} / 3600 as resolution_hours,
        tickets.agent_id,
        tickets.satisfaction
    from tickets
    left join assignments
        on tickets.ticket_id = assignments.subject_id
)

select * from final
