-- The ticket metrics of kpis.md by channel, per calendar month (UTC), with the
-- same definitions as kpi_monthly: tickets_created and
-- median_first_response_minutes in the month of created_at,
-- avg_resolution_hours (exact decimal sum) and the help desk's satisfaction
-- in the month of solved_at. One row per (month, channel) with any ticket.
with

tickets as (
    select
        coalesce(channel, 'unknown') as channel,
        {{ month_start('created_at') }} as created_month,
        {{ month_start('solved_at') }} as solved_month,
        first_response_minutes,
        resolution_hours,
        satisfaction
    from {{ ref('fct_tickets') }}
),

created_counts as (
    select
        created_month as month_start_date,
        channel,
        count(*) as tickets_created,
        count(first_response_minutes) as responded_tickets,
        {{ median('first_response_minutes') }} as median_first_response_minutes
    from tickets
    group by created_month, channel
),

solved_counts as (
    select
        solved_month as month_start_date,
        channel,
        count(*) as solved_tickets,
        {{ exact_mean_hours('resolution_hours') }} as avg_resolution_hours,
        {{ ticket_rating_counts('satisfaction') }}
    from tickets
    where solved_month is not null
    group by solved_month, channel
),

final as (
    select
        cast(coalesce(created_counts.month_start_date, solved_counts.month_start_date) as date)
            as month,
        cast(coalesce(created_counts.channel, solved_counts.channel) as {{ dbt.type_string() }})
            as channel,
        cast(coalesce(created_counts.tickets_created, 0) as bigint) as tickets_created,
        cast(created_counts.median_first_response_minutes as {{ type_double() }})
            as median_first_response_minutes,
        cast(coalesce(created_counts.responded_tickets, 0) as bigint) as responded_tickets,
        cast(coalesce(solved_counts.solved_tickets, 0) as bigint) as solved_tickets,
        cast(solved_counts.avg_resolution_hours as {{ type_double() }}) as avg_resolution_hours,
        cast(coalesce(solved_counts.rated_good, 0) as bigint) as rated_good,
        cast(coalesce(solved_counts.rated, 0) as bigint) as rated,
        cast(
            {{ ticket_good_share('solved_counts.rated_good', 'solved_counts.rated') }}
            as {{ type_double() }}
        ) as satisfaction_good_share
    from created_counts
    full outer join solved_counts
        on
            created_counts.month_start_date = solved_counts.month_start_date
            and created_counts.channel = solved_counts.channel
)

select * from final
