-- tickets_created and median_first_response_minutes per month of created_at,
-- avg_resolution_hours per month of solved_at, at every roll-up level.
-- A row exists where the metric has at least one ticket (n > 0).
with

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'ticket'
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

measured_tickets as (
    select
        {{ month_start('tickets.created_at') }} as created_month_start_date,
        {{ month_start('tickets.solved_at') }} as solved_month_start_date,
        {{ seconds_between('tickets.created_at', 'tickets.first_response_at') }} / 60 as first_response_minutes,
        {{ seconds_between('tickets.created_at', 'tickets.solved_at') }} / 3600 as resolution_hours,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.job_id, 'unknown') as job_id,
        coalesce(assignments.journey_id, 'unknown') as journey_id,
        coalesce(customers.segment, 'unknown') as segment
    from tickets
    left join assignments
        on tickets.ticket_id = assignments.subject_id
    left join customers
        on tickets.customer_id = customers.customer_id
),

levels as (
    {{ kpi_levels() }}
),

tickets_by_level as (
    select
        measured_tickets.created_month_start_date,
        measured_tickets.solved_month_start_date,
        measured_tickets.first_response_minutes,
        measured_tickets.resolution_hours,
        {{ kpi_segment_scope('levels', 'measured_tickets') }} as segment_scope,
        levels.level,
        {{ kpi_level_id('levels', 'measured_tickets') }} as level_id
    from measured_tickets
    cross join levels
),

created_counts as (
    select
        created_month_start_date as month_start_date,
        segment_scope,
        level,
        level_id,
        count(*) as tickets_created,
        count(first_response_minutes) as responded_tickets,
        {{ median('first_response_minutes') }} as median_first_response_minutes
    from tickets_by_level
    group by
        created_month_start_date,
        segment_scope,
        level,
        level_id
),

solved_counts as (
    select
        solved_month_start_date as month_start_date,
        segment_scope,
        level,
        level_id,
        count(*) as solved_tickets,
        {{ exact_mean_hours('resolution_hours') }} as avg_resolution_hours
    from tickets_by_level
    where solved_month_start_date is not null
    group by
        solved_month_start_date,
        segment_scope,
        level,
        level_id
),

final as (
    {{ kpi_metric_rows('created_counts', [
        {'metric': 'tickets_created', 'measure': 'tickets_created', 'n': 'tickets_created'},
        {
            'metric': 'median_first_response_minutes',
            'value': 'median_first_response_minutes',
            'n': 'responded_tickets',
            'where': 'responded_tickets > 0',
        },
        {
            'metric': 'avg_resolution_hours',
            'value': 'avg_resolution_hours',
            'n': 'solved_tickets',
            'from': 'solved_counts',
        },
    ]) }}
)

select * from final
