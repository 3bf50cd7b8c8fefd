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

answers as (
    select * from {{ ref('fct_survey_answers') }}
),

data_months as (
    select * from {{ ref('dim_month') }}
),

data_end as (
    select max(data_end_at) as data_end_at
    from (
        select feedback_data_end_at as data_end_at from data_months
        union all
        select tickets_data_end_at as data_end_at from data_months
        union all
        select web_data_end_at as data_end_at from data_months
        union all
        select crm_data_end_at as data_end_at from data_months
    ) as source_ends
),

nps_bounds as (
    select min({{ month_start('submitted_at') }}) as first_nps_month_start_date
    from answers
    where
        metric = 'nps'
        and value_number is not null
        and customer_id is not null
),

categorised_months as (
    select
        customer_id,
        segment,
        month_start_date,
        is_active_start,
        is_churned,
        mrr_start,
        coalesce(
            lag(latest_nps_category) over (partition by customer_id order by month_start_date),
            'no_answer'
        ) as nps_category_at_start
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
        categorised_months.is_active_start
        and categorised_months.month_start_date > nps_bounds.first_nps_month_start_date
        and cast(
            {{ dbt.dateadd('month', 1, 'categorised_months.month_start_date') }} as {{ dbt.type_timestamp() }}
        ) <= data_end.data_end_at
    group by
        coalesce(categorised_months.segment, 'unknown'),
        categorised_months.customer_id,
        categorised_months.nps_category_at_start
)

select * from final
