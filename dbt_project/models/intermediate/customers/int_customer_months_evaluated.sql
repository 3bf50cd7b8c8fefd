-- One row per customer and month in which the customer had a subscription
-- active at month_start, at next_month_start or at some instant in between,
-- or a paid invoice. A subscription is active at instant t when
-- started_at <= t and (ended_at is null or ended_at > t); it is active at some
-- instant of [month_start, next_month_start) when started_at <
-- next_month_start and (ended_at is null or ended_at > greatest(started_at,
-- month_start)). MRR converts with the latest rate on or before the
-- instant's date; revenue is paid invoices (credit notes included) in the
-- reporting currency, in the month of issued_at.
--
-- Incremental by customer (macros/incremental/customer_digests.sql): a run
-- recomputes the customers whose subscriptions or invoices changed in any way
-- (every customer when the months spine or the fx rates change). On Spark
-- too (macros/incremental/spark_rewrite.sql). Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ customer_digests_before(
        [
            subscriptions_digest_input(),
            ('invoice', ref('int_invoices_converted'),
                ['invoice_id', 'is_paid', 'issued_month_start_date', 'amount_reporting']),
        ],
        [months_digest_input(), fx_rates_digest_input()],
    ) }}",
    post_hook="{{ customer_digests_after() }}",
) }}

with

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

invoices as (
    select * from {{ ref('int_invoices_converted') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

months as (
    select * from {{ ref('int_months_spanned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

subscription_spans as (
    -- An open subscription ends at a far date: the joins below stay range
    -- joins (an `or` would force a nested loop).
    select
        customer_id,
        currency,
        mrr,
        started_at,
        coalesce(ended_at, cast({{ far_future_date() }} as {{ dbt.type_timestamp() }})) as ends_at
    from subscriptions
),

subscription_months as (
    select
        subscription_spans.customer_id,
        subscription_spans.currency,
        subscription_spans.mrr,
        months.month_start_date,
        months.next_month_start_date,
        (
            subscription_spans.started_at <= months.month_start_at
            and subscription_spans.ends_at > months.month_start_at
        ) as is_active_start,
        (
            subscription_spans.started_at <= months.next_month_start_at
            and subscription_spans.ends_at > months.next_month_start_at
        ) as is_active_end,
        (
            subscription_spans.started_at < months.next_month_start_at
            and subscription_spans.ends_at > greatest(subscription_spans.started_at, months.month_start_at)
        ) as is_active_in_month
    from subscription_spans
    inner join months
        on
            subscription_spans.started_at <= months.next_month_start_at
            and subscription_spans.ends_at > months.month_start_at
),

subscription_months_converted as (
    select
        subscription_months.customer_id,
        subscription_months.month_start_date,
        subscription_months.is_active_start,
        subscription_months.is_active_end,
        subscription_months.is_active_in_month,
        case
            when subscription_months.is_active_start
                then subscription_months.mrr * start_rates.rate_to_reporting
        end as mrr_start,
        case
            when subscription_months.is_active_end
                then subscription_months.mrr * end_rates.rate_to_reporting
        end as mrr_end
    from subscription_months
    left join fx_rates as start_rates
        on {{ fx_rate_applies(
            'start_rates', 'subscription_months.currency', 'subscription_months.month_start_date'
        ) }}
    left join fx_rates as end_rates
        on {{ fx_rate_applies(
            'end_rates', 'subscription_months.currency', 'subscription_months.next_month_start_date'
        ) }}
),

customer_subscription_months as (
    select
        customer_id,
        month_start_date,
        bool_or(is_active_start) as is_active_start,
        bool_or(is_active_end) as is_active_end,
        bool_or(is_active_in_month) as is_active_in_month,
        coalesce(sum(mrr_start), 0) as mrr_start,
        coalesce(sum(mrr_end), 0) as mrr_end
    from subscription_months_converted
    group by
        customer_id,
        month_start_date
),

customer_invoice_months as (
    select
        customer_id,
        issued_month_start_date as month_start_date,
        sum(amount_reporting) as revenue,
        count(*) as paid_invoice_count
    from invoices
    where is_paid
    group by
        customer_id,
        issued_month_start_date
),

combined as (
    select
        coalesce(subscription_months.customer_id, invoice_months.customer_id) as customer_id,
        coalesce(subscription_months.month_start_date, invoice_months.month_start_date) as month_start_date,
        coalesce(subscription_months.is_active_start, false) as is_active_start,
        coalesce(subscription_months.is_active_end, false) as is_active_end,
        coalesce(subscription_months.is_active_in_month, false) as is_active_in_month,
        coalesce(subscription_months.mrr_start, 0) as mrr_start,
        coalesce(subscription_months.mrr_end, 0) as mrr_end,
        coalesce(invoice_months.revenue, 0) as revenue,
        coalesce(invoice_months.paid_invoice_count, 0) as paid_invoice_count
    from customer_subscription_months as subscription_months
    full outer join customer_invoice_months as invoice_months
        on
            subscription_months.customer_id = invoice_months.customer_id
            and subscription_months.month_start_date = invoice_months.month_start_date
),

final as (
    select
        customer_id,
        month_start_date,
        is_active_start,
        is_active_end,
        is_active_in_month,
        is_active_in_month and not is_active_start as is_new,
        is_active_start and not is_active_end as is_churned,
        cast(mrr_start as {{ type_converted_money() }}) as mrr_start,
        cast(mrr_end as {{ type_converted_money() }}) as mrr_end,
        cast(revenue as {{ type_converted_money() }}) as revenue,
        cast(paid_invoice_count as {{ dbt.type_bigint() }}) as paid_invoice_count
    from combined
)

select * from final
