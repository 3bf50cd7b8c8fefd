-- Every ratio row is 100 x numerator / denominator, and null exactly when
-- its denominator is 0.
with

kpis as (
    select * from {{ ref('kpi_monthly') }}
),

ratio_rows as (
    select * from kpis
    where metric in (
            'nps', 'csat', 'churn_rate', 'revenue_churn_rate',
            'conversion_rate', 'bounce_rate', 'cart_abandonment_rate'
        )
)

select *
from ratio_rows
where
    numerator is null
    or denominator is null
    or (denominator = 0 and value is not null)
    or (denominator <> 0 and value is null)
    or (denominator <> 0 and abs(value - 100 * numerator / denominator) > 1e-9 * greatest(1, abs(value)))
