-- One row per customer and month, from the customer's first month (sign-up
-- or first activity, whichever is earlier, but not before the first month of
-- the spine) to the last month of the spine.
--
-- Incremental by customer (macros/incremental/customer_digests.sql): a run
-- recomputes the customers whose CRM row, customer-months, tickets, web
-- sessions or survey answers changed in any way, including the customer a
-- ticket, session or response moved away from (every customer when the
-- months spine changes). On Spark too (macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ customer_digests_before(
        [
            ('customer', ref('dim_customer'), ['segment', 'signed_up_at']),
            customer_months_digest_input(),
            ('ticket', ref('stg_tickets__tickets'), ['ticket_id', 'created_at']),
            ('session', ref('int_sessions_aggregated'), ['session_id', 'started_at']),
            ('answer', ref('int_answers_scored'), [
                'response_id', 'question_id', 'submitted_at', 'submitted_month_start_date',
                'value_number', 'nps_category',
            ]),
        ],
        [months_digest_input()],
    ) }}",
    post_hook="{{ customer_digests_after() }}",
) }}

with

customers as (
    select * from {{ ref('dim_customer') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

months as (
    select * from {{ ref('int_months_spanned') }}
),

customer_months as (
    select * from {{ ref('int_customer_months_evaluated') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

answers as (
    select * from {{ ref('int_answers_scored') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

customer_ticket_months as (
    select
        customer_id,
        {{ month_start('created_at') }} as month_start_date,
        count(*) as tickets_created
    from tickets
    where customer_id is not null
    group by
        customer_id,
        {{ month_start('created_at') }}
),

customer_session_months as (
    select
        customer_id,
        {{ month_start('started_at') }} as month_start_date,
        count(*) as sessions_started
    from sessions
    where customer_id is not null
    group by
        customer_id,
        {{ month_start('started_at') }}
),

customer_first_months as (
    select
        customer_id,
        min(month_start_date) as first_month_start_date
    from (
        select
            customer_id,
            {{ month_start('signed_up_at') }} as month_start_date
        from customers
        union all
        select
            customer_id,
            month_start_date
        from customer_months
        union all
        select
            customer_id,
            month_start_date
        from customer_ticket_months
        union all
        select
            customer_id,
            month_start_date
        from customer_session_months
        union all
        select
            customer_id,
            submitted_month_start_date as month_start_date
        from answers
        where customer_id is not null
    ) as customer_activity_months
    group by customer_id
),

customer_month_grid as (
    select
        customer_first_months.customer_id,
        months.month_start_date
    from customer_first_months
    inner join months
        on customer_first_months.first_month_start_date <= months.month_start_date
),

monthly_latest_nps as (
    select
        customer_id,
        submitted_month_start_date as month_start_date,
        value_number as nps_score,
        nps_category,
        row_number() over (
            partition by customer_id, submitted_month_start_date
            order by submitted_at desc, response_id desc, question_id desc
        ) as recency_number
    from answers
    where
        nps_category is not null
        and customer_id is not null
),

latest_nps_spans as (
    -- The latest NPS answer of a month holds until a month with a newer one.
    select
        customer_id,
        month_start_date,
        coalesce(
            lead(month_start_date) over (
                partition by customer_id
                order by month_start_date
            ),
            {{ far_future_date() }}
        ) as superseded_month_start_date,
        nps_score,
        nps_category
    from monthly_latest_nps
    where recency_number = 1
),

final as (
    select
        customer_month_grid.customer_id,
        customer_month_grid.month_start_date,
        customers.segment,
        coalesce(customer_months.is_active_start, false) as is_active_start,
        coalesce(customer_months.is_active_end, false) as is_active_end,
        coalesce(customer_months.is_active_in_month, false) as is_active,
        coalesce(customer_months.is_new, false) as is_new,
        coalesce(customer_months.is_churned, false) as is_churned,
        cast(coalesce(customer_months.mrr_start, 0) as {{ type_converted_money() }}) as mrr_start,
        cast(coalesce(customer_months.mrr_end, 0) as {{ type_converted_money() }}) as mrr_end,
        cast(coalesce(customer_months.revenue, 0) as {{ type_converted_money() }}) as revenue,
        coalesce(customer_months.paid_invoice_count, 0) as paid_invoice_count,
        coalesce(customer_ticket_months.tickets_created, 0) as tickets_created,
        coalesce(customer_session_months.sessions_started, 0) as sessions_started,
        latest_nps_spans.nps_score as latest_nps_score,
        coalesce(latest_nps_spans.nps_category, 'no_answer') as latest_nps_category
    from customer_month_grid
    inner join customers
        on customer_month_grid.customer_id = customers.customer_id
    left join customer_months
        on
            customer_month_grid.customer_id = customer_months.customer_id
            and customer_month_grid.month_start_date = customer_months.month_start_date
    left join customer_ticket_months
        on
            customer_month_grid.customer_id = customer_ticket_months.customer_id
            and customer_month_grid.month_start_date = customer_ticket_months.month_start_date
    left join customer_session_months
        on
            customer_month_grid.customer_id = customer_session_months.customer_id
            and customer_month_grid.month_start_date = customer_session_months.month_start_date
    left join latest_nps_spans
        on
            customer_month_grid.customer_id = latest_nps_spans.customer_id
            and customer_month_grid.month_start_date >= latest_nps_spans.month_start_date
            and customer_month_grid.month_start_date < latest_nps_spans.superseded_month_start_date
)

select * from final
