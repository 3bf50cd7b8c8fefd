-- Customers and MRR per churn-risk band as of the end of the data; revenue at
-- risk is the row of the high band (kpis.md: the MRR of customers in the
-- high-risk band).
with

customers_at_risk as (
    select * from {{ ref('customers_at_risk') }}
),

bands as (
    select
        as_of_date,
        risk_band,
        count(*) as customers,
        sum(mrr_at_risk) as mrr,
        sum(expected_mrr_loss) as expected_mrr_loss
    from customers_at_risk
    group by
        as_of_date,
        risk_band
),

totals as (
    select
        as_of_date,
        sum(mrr) as total_mrr
    from bands
    group by as_of_date
),

final as (
    select
        bands.as_of_date,
        cast(bands.risk_band as {{ dbt.type_string() }}) as risk_band,
        cast(bands.customers as {{ dbt.type_bigint() }}) as customers,
        cast(bands.mrr as {{ type_double() }}) as mrr,
        cast(bands.expected_mrr_loss as {{ type_double() }}) as expected_mrr_loss,
        cast({{ percentage('bands.mrr', 'totals.total_mrr') }} as {{ type_double() }}) as share_of_mrr,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast(bands.customers as {{ dbt.type_bigint() }}) as n,
        bands.customers < 30 as is_low_sample
    from bands
    inner join totals
        on bands.as_of_date = totals.as_of_date
)

select * from final
