-- One row per calendar month (UTC) from the first to the last month that has
-- an observed event: survey submissions, tickets created or solved, web
-- events, invoices issued, subscriptions started. A subscription's ended_at is
-- not an observation: one after the last observed event is a scheduled
-- cancellation (interface.md), and adds no month.
with

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

events as (
    select * from {{ ref('stg_web__events') }}
),

invoices as (
    select * from {{ ref('stg_crm__invoices') }}
),

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
),

data_instants as (
    select submitted_at as data_at from responses
    union all
    select created_at as data_at from tickets
    union all
    select solved_at as data_at from tickets
    union all
    select occurred_at as data_at from events
    union all
    select issued_at as data_at from invoices
    union all
    select started_at as data_at from subscriptions
),

bounds as (
    select
        {{ month_start('min(data_at)') }} as first_month_start_date,
        {{ month_start('max(data_at)') }} as last_month_start_date
    from data_instants
),

month_numbers as (
    -- 1..12000: a thousand years of months, far more than any data spans.
    {{ dbt.generate_series(12000) }}
),

months as (
    select
        cast(
            {{ dbt.dateadd('month', 'month_numbers.generated_number - 1', 'bounds.first_month_start_date') }} as date
        ) as month_start_date
    from bounds
    inner join month_numbers
        on month_numbers.generated_number - 1
            <= {{ dbt.datediff('bounds.first_month_start_date', 'bounds.last_month_start_date', 'month') }}
),

final as (
    select
        month_start_date,
        cast({{ dbt.dateadd('month', 1, 'month_start_date') }} as date) as next_month_start_date,
        cast(month_start_date as {{ dbt.type_timestamp() }}) as month_start_at,
        cast(
            cast({{ dbt.dateadd('month', 1, 'month_start_date') }} as date) as {{ dbt.type_timestamp() }}
        ) as next_month_start_at
    from months
)

select * from final
