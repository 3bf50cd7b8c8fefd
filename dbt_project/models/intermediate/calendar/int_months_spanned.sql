-- One row per calendar month (UTC) from the first to the last month that has
-- an observed event (int_source_data_spans: survey submissions, tickets
-- created or solved, web events, invoices issued, subscriptions started; a
-- scheduled ended_at adds no month).
with

spans as (
    select * from {{ ref('int_source_data_spans') }}
),

bounds as (
    select
        {{ month_start('min(first_data_at)') }} as first_month_start_date,
        {{ month_start('max(last_data_at)') }} as last_month_start_date
    from spans
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
