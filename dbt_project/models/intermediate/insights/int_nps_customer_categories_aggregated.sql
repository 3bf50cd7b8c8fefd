-- One row per (segment, customer_id, nps_category): the customer's
-- customer-months in that category (the category known at the month's start,
-- as in int_nps_categories_aggregated) with their MRR at the start and the
-- MRR of those in which they churned. Only months wholly observed (ending at
-- or before the last observed event) from the month after the first NPS
-- answer count. The unit the value of moving a detractor is bootstrapped on.
with

customer_months as (
    select * from {{ ref('fct_customer_months') }}
),

data_end as (
    {{ data_end_query() }}
),

nps_bounds as (
    {{ first_nps_month_query() }}
),

categorised_months as (
    select
        customer_id,
        segment,
        month_start_date,
        is_active_start,
        is_churned,
        mrr_start,
        {{ nps_category_at_start() }} as nps_category_at_start
    from customer_months
),

final as (
    select
        coalesce(categorised_months.segment, 'unknown') as segment,
        categorised_months.customer_id,
        categorised_months.nps_category_at_start as nps_category,
        count(*) as customer_months,
        sum(case when categorised_months.is_churned then 1 else 0 end) as churned_customer_months,
        cast(sum(categorised_months.mrr_start) as {{ type_double() }}) as mrr_start_total,
        cast(
            coalesce(sum(case when categorised_months.is_churned then categorised_months.mrr_start end), 0)
            as {{ type_double() }}
        ) as churned_mrr_start_total
    from categorised_months
    cross join nps_bounds
    cross join data_end
    where
        {{ is_pooled_nps_month('categorised_months', 'nps_bounds', 'data_end') }}
    group by
        coalesce(categorised_months.segment, 'unknown'),
        categorised_months.customer_id,
        categorised_months.nps_category_at_start
)

select * from final
