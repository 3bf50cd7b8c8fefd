-- One row per customer and month in which the customer had MRR at the
-- month's start or end (kpis.md's instants): how the MRR moved, classified as
-- in dbt_stripe's MRR model / the SaaS MRR playbook, in the reporting
-- currency. A currency's rate that moved between the two instants changes
-- the converted MRR of an unchanged subscription: that part is
-- fx_revaluation (subscriptions active at both instants with a rate at both),
-- and the movement is classified on what remains. Per row and summed per
-- month: mrr_start + new + expansion - contraction - churned + reactivation
-- + fx_revaluation = mrr_end, and the company sums are kpi_monthly's
-- mrr_start and mrr_end.
--
-- Incremental by customer (macros/incremental/customer_digests.sql): a run
-- recomputes the customers whose subscriptions, customer-months, CRM segment
-- or monthly NPS categories changed in any way (every customer when the months
-- spine or the fx rates change). On Spark too (macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ customer_digests_before(
        [
            subscriptions_digest_input(),
            customer_months_digest_input(),
            ('customer', ref('stg_crm__customers'), ['segment']),
            ('nps_month', ref('fct_customer_months'), ['month_start_date', 'latest_nps_category']),
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

months as (
    select * from {{ ref('int_months_spanned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

evaluated_months as (
    select * from {{ ref('int_customer_months_evaluated') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

customer_months as (
    select * from {{ ref('fct_customer_months') }}
    {%- if is_incremental() %}
    where customer_id in ({{ touched_customers() }})
    {%- endif %}
),

-- subscriptions active at both instants of a month, in a currency other than the reporting one
held_subscription_months as (
    select
        subscriptions.customer_id,
        subscriptions.currency,
        subscriptions.mrr,
        months.month_start_date,
        months.next_month_start_date
    from subscriptions
    inner join months
        on
            subscriptions.started_at <= months.month_start_at
            and coalesce(
                subscriptions.ended_at, cast({{ far_future_date() }} as {{ dbt.type_timestamp() }})
            ) > months.next_month_start_at
    where subscriptions.currency <> {{ reporting_currency() }}
),

revaluations as (
    select
        held_subscription_months.customer_id,
        held_subscription_months.month_start_date,
        sum(
            held_subscription_months.mrr * (end_rates.rate_to_reporting - start_rates.rate_to_reporting)
        ) as fx_revaluation
    from held_subscription_months
    inner join fx_rates as start_rates
        on {{ fx_rate_applies(
            'start_rates', 'held_subscription_months.currency', 'held_subscription_months.month_start_date'
        ) }}
    inner join fx_rates as end_rates
        on {{ fx_rate_applies(
            'end_rates', 'held_subscription_months.currency', 'held_subscription_months.next_month_start_date'
        ) }}
    group by
        held_subscription_months.customer_id,
        held_subscription_months.month_start_date
),

categories_at_start as (
    select
        customer_id,
        month_start_date,
        coalesce(
            lag(latest_nps_category) over (partition by customer_id order by month_start_date),
            'no_answer'
        ) as nps_category_at_start
    from customer_months
),

histories as (
    select
        customer_id,
        month_start_date,
        is_active_start,
        is_active_end,
        mrr_start,
        mrr_end,
        -- active at some instant of an earlier month: a return is a reactivation
        coalesce(
            max(case when is_active_in_month then 1 else 0 end) over (
                partition by customer_id
                order by month_start_date
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) = 1 as was_active_before
    from evaluated_months
),

changes as (
    select
        histories.customer_id,
        histories.month_start_date,
        histories.is_active_start,
        histories.is_active_end,
        histories.was_active_before,
        histories.mrr_start,
        histories.mrr_end,
        coalesce(revaluations.fx_revaluation, 0) as fx_revaluation,
        histories.mrr_end - histories.mrr_start - coalesce(revaluations.fx_revaluation, 0) as underlying_change
    from histories
    left join revaluations
        on
            histories.customer_id = revaluations.customer_id
            and histories.month_start_date = revaluations.month_start_date
    where histories.is_active_start or histories.is_active_end
),

classified as (
    select
        *,
        case
            when not is_active_start and was_active_before then 'reactivation'
            when not is_active_start then 'new'
            when not is_active_end then 'churned'
            when underlying_change > 0 then 'expansion'
            when underlying_change < 0 then 'contraction'
            else 'unchanged'
        end as movement
    from changes
),

final as (
    select
        classified.customer_id,
        classified.month_start_date,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(categories_at_start.nps_category_at_start, 'no_answer') as nps_category_at_start,
        classified.movement,
        cast(classified.mrr_start as {{ type_converted_money() }}) as mrr_start,
        cast(classified.mrr_end as {{ type_converted_money() }}) as mrr_end,
        cast(classified.mrr_end - classified.mrr_start as {{ type_converted_money() }}) as mrr_change,
        cast(
            case when classified.movement = 'new' then classified.underlying_change else 0 end
            as {{ type_converted_money() }}
        ) as new_mrr,
        cast(
            case when classified.movement = 'expansion' then classified.underlying_change else 0 end
            as {{ type_converted_money() }}
        ) as expansion_mrr,
        cast(
            case when classified.movement = 'contraction' then -classified.underlying_change else 0 end
            as {{ type_converted_money() }}
        ) as contraction_mrr,
        cast(
            case when classified.movement = 'churned' then -classified.underlying_change else 0 end
            as {{ type_converted_money() }}
        ) as churned_mrr,
        cast(
            case when classified.movement = 'reactivation' then classified.underlying_change else 0 end
            as {{ type_converted_money() }}
        ) as reactivation_mrr,
        cast(classified.fx_revaluation as {{ type_converted_money() }}) as fx_revaluation_mrr,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency
    from classified
    left join customers
        on classified.customer_id = customers.customer_id
    left join categories_at_start
        on
            classified.customer_id = categories_at_start.customer_id
            and classified.month_start_date = categories_at_start.month_start_date
)

select * from final
