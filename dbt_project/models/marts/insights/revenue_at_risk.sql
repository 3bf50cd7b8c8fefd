-- Customers, MRR and expected MRR loss per segment and churn-risk band as of
-- the end of the data, with 'all' rows for the whole company. Two different
-- amounts, named for what they are: band_mrr (the MRR of the band's
-- customers; for 'high', the revenue at risk of kpis.md) and
-- expected_mrr_loss (the sum of churn probability x MRR, the MRR expected to
-- leave within the score's 3 months; all of it for scheduled_to_end).
-- Customers the model could not score are in band 'unscored'.
with

customers_at_risk as (
    select * from {{ ref('customers_at_risk') }}
),

banded as (
    select
        as_of_date,
        segment,
        coalesce(risk_band, 'unscored') as risk_band,
        mrr_at_risk,
        expected_mrr_loss
    from customers_at_risk
),

by_level as (
    select
        as_of_date,
        coalesce(segment, 'unknown') as segment,
        risk_band,
        mrr_at_risk,
        expected_mrr_loss
    from banded
    union all
    select
        as_of_date,
        'all' as segment,
        risk_band,
        mrr_at_risk,
        expected_mrr_loss
    from banded
),

bands as (
    select
        as_of_date,
        segment,
        risk_band,
        count(*) as customers,
        {{ exact_sum('mrr_at_risk') }} as band_mrr,
        {{ exact_sum('expected_mrr_loss') }} as expected_mrr_loss
    from by_level
    group by
        as_of_date,
        segment,
        risk_band
),

totals as (
    select
        as_of_date,
        segment,
        {{ exact_sum('band_mrr') }} as total_mrr
    from bands
    group by
        as_of_date,
        segment
),

final as (
    select
        bands.as_of_date,
        cast(bands.segment as {{ dbt.type_string() }}) as segment,
        cast(bands.risk_band as {{ dbt.type_string() }}) as risk_band,
        cast(bands.customers as {{ dbt.type_bigint() }}) as customers,
        cast(bands.band_mrr as {{ type_double() }}) as band_mrr,
        -- deprecated: the old name of band_mrr, kept for BI readers until the next release
        cast(bands.band_mrr as {{ type_double() }}) as mrr,
        cast(bands.expected_mrr_loss as {{ type_double() }}) as expected_mrr_loss,
        cast({{ percentage('bands.band_mrr', 'totals.total_mrr') }} as {{ type_double() }}) as share_of_mrr,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast(bands.customers as {{ dbt.type_bigint() }}) as n,
        bands.customers < {{ var('low_sample_n') }} as is_low_sample
    from bands
    inner join totals
        on
            bands.as_of_date = totals.as_of_date
            and bands.segment = totals.segment
)

select * from final
