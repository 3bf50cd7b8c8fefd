-- Churn and revenue by the customer's latest NPS category, and the 12-month
-- value of moving one detractor (within segment, MRR-weighted churn,
-- bootstrap interval): one row per category. Computed in the Python
-- model int_nps_financial_links_computed; this model fixes the contract.
with

financial_links as (
    select * from {{ ref('int_nps_financial_links_computed') }}
),

final as (
    select
        cast(nps_category as {{ dbt.type_string() }}) as nps_category,
        cast(first_month_start_date as date) as first_month_start_date,
        cast(last_month_start_date as date) as last_month_start_date,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(customer_months as {{ dbt.type_bigint() }}) as customer_months,
        cast(churned_customer_months as {{ dbt.type_bigint() }}) as churned_customer_months,
        cast(monthly_churn_rate as {{ type_double() }}) as monthly_churn_rate,
        cast(annual_churn_rate as {{ type_double() }}) as annual_churn_rate,
        cast(revenue_churn_rate as {{ type_double() }}) as revenue_churn_rate,
        cast(average_mrr as {{ type_double() }}) as average_mrr,
        cast(revenue_per_customer_month as {{ type_double() }}) as revenue_per_customer_month,
        cast(expected_months_paid_12m as {{ type_double() }}) as expected_months_paid_12m,
        cast(expected_revenue_12m as {{ type_double() }}) as expected_revenue_12m,
        cast(value_of_moving_one_detractor_here as {{ type_double() }}) as value_of_moving_one_detractor_here,
        cast(value_ci_low as {{ type_double() }}) as value_ci_low,
        cast(value_ci_high as {{ type_double() }}) as value_ci_high,
        cast(value_n as {{ dbt.type_bigint() }}) as value_n,
        cast(is_value_significant as {{ dbt.type_boolean() }}) as is_value_significant,
        cast(value_n < {{ var('low_sample_n') }} as {{ dbt.type_boolean() }}) as is_value_low_sample,
        cast(value_segments as {{ dbt.type_string() }}) as value_segments,
        cast(current_customers as {{ dbt.type_bigint() }}) as current_customers,
        cast(current_mrr as {{ type_double() }}) as current_mrr,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast(n as {{ dbt.type_bigint() }}) as n,
        cast(is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from financial_links
)

select * from final
