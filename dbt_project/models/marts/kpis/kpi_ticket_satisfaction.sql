-- The help desk's satisfaction of solved tickets per touchpoint and calendar
-- month (UTC) of solved_at: rated good, rated, and the share rated good, as
-- kpi_tickets_by_channel counts them per channel. One row per (month,
-- touchpoint_id) with a solved ticket; touchpoint 'unknown' for tickets with
-- none assigned.
with

solved_tickets as (
    select
        {{ month_start('solved_at') }} as solved_month,
        coalesce(touchpoint_id, 'unknown') as touchpoint_id,
        satisfaction
    from {{ ref('fct_tickets') }}
    where solved_at is not null
),

counted as (
    select
        solved_month,
        touchpoint_id,
        count(*) as solved_tickets,
        {{ ticket_rating_counts('satisfaction') }}
    from solved_tickets
    group by solved_month, touchpoint_id
),

final as (
    select
        cast(solved_month as date) as month,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(solved_tickets as {{ dbt.type_bigint() }}) as solved_tickets,
        cast(rated_good as {{ dbt.type_bigint() }}) as rated_good,
        cast(rated as {{ dbt.type_bigint() }}) as rated,
        cast({{ ticket_good_share('rated_good', 'rated') }} as {{ type_double() }}) as satisfaction_good_share
    from counted
)

select * from final
