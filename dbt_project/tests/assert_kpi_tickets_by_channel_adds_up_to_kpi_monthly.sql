-- The channels of a month add up to the company's ticket metrics of kpi_monthly:
-- tickets created, tickets with a first response (the median's n) and tickets
-- solved (the average's n). A row returned is a month where they differ.
with

channels as (
    select
        month,
        sum(tickets_created) as tickets_created,
        sum(responded_tickets) as responded_tickets,
        sum(solved_tickets) as solved_tickets
    from {{ ref('kpi_tickets_by_channel') }}
    group by month
),

company as (
    select
        month,
        sum(case when metric = 'tickets_created' then n else 0 end) as tickets_created,
        sum(case when metric = 'median_first_response_minutes' then n else 0 end) as responded_tickets,
        sum(case when metric = 'avg_resolution_hours' then n else 0 end) as solved_tickets
    from {{ ref('kpi_monthly') }}
    where
        level = 'company'
        and metric in ('tickets_created', 'median_first_response_minutes', 'avg_resolution_hours')
    group by month
)

select
    coalesce(channels.month, company.month) as month,
    channels.tickets_created as channel_tickets_created,
    company.tickets_created as company_tickets_created,
    channels.responded_tickets as channel_responded_tickets,
    company.responded_tickets as company_responded_tickets,
    channels.solved_tickets as channel_solved_tickets,
    company.solved_tickets as company_solved_tickets
from channels
full outer join company on channels.month = company.month
where
    coalesce(channels.tickets_created, 0) <> coalesce(company.tickets_created, 0)
    or coalesce(channels.responded_tickets, 0) <> coalesce(company.responded_tickets, 0)
    or coalesce(channels.solved_tickets, 0) <> coalesce(company.solved_tickets, 0)
