-- One row per month of the spine (kpi_monthly's months), saying whether its
-- numbers are final. A month is complete when every source that has data
-- reaches past the month's end (a later observed event) and no row of the
-- month waits in quarantine (an amount waiting for its fx rate). The last
-- month of the data is therefore incomplete unless every source runs past it.
with

months as (
    select * from {{ ref('int_months_spanned') }}
),

waiting as (
    select * from {{ ref('stg_quality__waiting_rows') }}
),

spans as (
    select * from {{ ref('int_source_data_spans') }}
),

source_ends as (
    select
        max(case when source = 'feedback' then last_data_at end) as feedback_data_end_at,
        max(case when source = 'tickets' then last_data_at end) as tickets_data_end_at,
        max(case when source = 'web' then last_data_at end) as web_data_end_at,
        max(case when source = 'crm' then last_data_at end) as crm_data_end_at
    from spans
),

waiting_months as (
    select
        month_start_date,
        sum(waiting_rows) as waiting_rows
    from waiting
    where month_start_date is not null
    group by month_start_date
),

evaluated as (
    select
        months.month_start_date,
        months.next_month_start_date,
        source_ends.feedback_data_end_at,
        source_ends.tickets_data_end_at,
        source_ends.web_data_end_at,
        source_ends.crm_data_end_at,
        coalesce(waiting_months.waiting_rows, 0) as waiting_rows,
        coalesce(source_ends.feedback_data_end_at >= months.next_month_start_at, true)
        and coalesce(source_ends.tickets_data_end_at >= months.next_month_start_at, true)
        and coalesce(source_ends.web_data_end_at >= months.next_month_start_at, true)
        and coalesce(source_ends.crm_data_end_at >= months.next_month_start_at, true)
            as has_data_past_end
    from months
    cross join source_ends
    left join waiting_months
        on months.month_start_date = waiting_months.month_start_date
),

final as (
    select
        month_start_date,
        next_month_start_date,
        has_data_past_end,
        cast(waiting_rows as {{ dbt.type_bigint() }}) as waiting_rows,
        has_data_past_end and waiting_rows = 0 as is_complete,
        feedback_data_end_at,
        tickets_data_end_at,
        web_data_end_at,
        crm_data_end_at
    from evaluated
)

select * from final
