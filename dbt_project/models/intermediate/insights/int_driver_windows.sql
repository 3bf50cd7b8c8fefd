-- The windows driver importance is reported for: every answer so far ('all'),
-- and the last 12 and the last 3 complete months (dim_month.is_complete), each
-- ending where the last complete month ends. Without a complete month there is
-- only 'all'. An answer belongs to a window when its response was submitted in
-- [window_start_date, window_end_date).
with

months as (
    select * from {{ ref('dim_month') }}
),

last_complete as (
    select max(next_month_start_date) as window_end_date
    from months
    where is_complete
),

final as (
    select
        'all' as window_name,
        cast(null as date) as window_start_date,
        cast(null as date) as window_end_date
    union all
    select
        'last_12_months' as window_name,
        cast({{ dbt.dateadd('month', -12, 'window_end_date') }} as date) as window_start_date,
        window_end_date
    from last_complete
    where window_end_date is not null
    union all
    select
        'last_3_months' as window_name,
        cast({{ dbt.dateadd('month', -3, 'window_end_date') }} as date) as window_start_date,
        window_end_date
    from last_complete
    where window_end_date is not null
)

select * from final
