-- One row per NPS category (promoter, passive, detractor, no_answer) with the
-- sums the financial link is computed from. Unit: the customer-month. A
-- customer active at a month's start belongs, that month, to the category of
-- their latest NPS answer submitted before the month started (the previous
-- month's latest_nps_category; no_answer without one). Months up to the first
-- month with an NPS answer cannot know a category and are left out, and so are
-- months not wholly observed (ending after the last observed event: their
-- churn may be a cancellation only scheduled). The
-- current_* columns count the customers active at the end of the data by
-- their latest category then.
with

customer_months as (
    select * from {{ ref('fct_customer_months') }}
),

nps_bounds as (
    {{ first_nps_month_query() }}
),

data_end as (
    {{ data_end_query() }}
),

spine_bounds as (
    select max(month_start_date) as last_month_start_date
    from customer_months
),

categorised_months as (
    select
        customer_id,
        month_start_date,
        is_active_start,
        is_active_end,
        is_churned,
        mrr_start,
        mrr_end,
        revenue,
        latest_nps_category,
        {{ nps_category_at_start() }} as nps_category_at_start
    from customer_months
),

pooled as (
    select
        categorised_months.nps_category_at_start as nps_category,
        min(categorised_months.month_start_date) as first_month_start_date,
        max(categorised_months.month_start_date) as last_month_start_date,
        count(distinct categorised_months.customer_id) as customers,
        count(*) as customer_months,
        sum(case when categorised_months.is_churned then 1 else 0 end) as churned_customer_months,
        cast(sum(categorised_months.mrr_start) as {{ type_double() }}) as mrr_start_total,
        cast(
            sum(case when categorised_months.is_churned then categorised_months.mrr_start end)
            as {{ type_double() }}
        ) as churned_mrr_start_total,
        cast(sum(categorised_months.revenue) as {{ type_double() }}) as revenue_total
    from categorised_months
    cross join nps_bounds
    cross join data_end
    where
        {{ is_pooled_nps_month('categorised_months', 'nps_bounds', 'data_end') }}
    group by categorised_months.nps_category_at_start
),

current_customers as (
    select
        categorised_months.latest_nps_category as nps_category,
        count(*) as current_customers,
        cast(sum(categorised_months.mrr_end) as {{ type_double() }}) as current_mrr
    from categorised_months
    inner join spine_bounds
        on categorised_months.month_start_date = spine_bounds.last_month_start_date
    where categorised_months.is_active_end
    group by categorised_months.latest_nps_category
),

categories as (
    select
        'promoter' as nps_category,
        1 as category_order
    union all
    select
        'passive' as nps_category,
        2 as category_order
    union all
    select
        'detractor' as nps_category,
        3 as category_order
    union all
    select
        'no_answer' as nps_category,
        4 as category_order
),

final as (
    select
        categories.nps_category,
        categories.category_order,
        pooled.first_month_start_date,
        pooled.last_month_start_date,
        coalesce(pooled.customers, 0) as customers,
        coalesce(pooled.customer_months, 0) as customer_months,
        coalesce(pooled.churned_customer_months, 0) as churned_customer_months,
        coalesce(pooled.mrr_start_total, 0) as mrr_start_total,
        coalesce(pooled.churned_mrr_start_total, 0) as churned_mrr_start_total,
        coalesce(pooled.revenue_total, 0) as revenue_total,
        coalesce(current_customers.current_customers, 0) as current_customers,
        coalesce(current_customers.current_mrr, 0) as current_mrr
    from categories
    left join pooled
        on categories.nps_category = pooled.nps_category
    left join current_customers
        on categories.nps_category = current_customers.nps_category
)

select * from final
