-- One row per calendar day of the months kpi_monthly covers.
with

months as (
    select * from {{ ref('int_months_spanned') }}
),

day_numbers as (
    {{ dbt.generate_series(31) }}
),

day_offsets as (
    select generated_number - 1 as day_offset
    from day_numbers
),

month_days as (
    select
        months.month_start_date,
        months.next_month_start_date,
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'months.month_start_date') }} as date) as date_day
    from months
    cross join day_offsets
),

final as (
    select
        date_day,
        month_start_date,
        cast(extract(year from date_day) as {{ dbt.type_bigint() }}) as year_number,
        cast(extract(quarter from date_day) as {{ dbt.type_bigint() }}) as quarter_number,
        cast(extract(month from date_day) as {{ dbt.type_bigint() }}) as month_number,
        cast(extract(day from date_day) as {{ dbt.type_bigint() }}) as day_of_month_number
    from month_days
    where date_day < next_month_start_date
)

select * from final
