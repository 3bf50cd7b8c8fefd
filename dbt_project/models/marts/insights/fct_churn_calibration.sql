-- Reliability of the churn score: the customers the backtest scored at T in
-- ten equal groups by score (decile 1 = lowest), each group's mean predicted
-- 3-month churn probability beside the share that did churn within those 3
-- months (with its Wilson 95 % interval). A calibrated score has the two
-- close in every decile. Empty when the backtest could not run.
{%- set z = 1.96 %}

with

backtest_scores as (
    select * from {{ computed('int_churn_backtest_scored') }}
),

scored as (
    select
        as_of_date,
        churn_risk_score,
        case when is_churned then 1 else 0 end as churned,
        ntile(10) over (order by churn_risk_score, customer_id) as decile
    from backtest_scores
    where churn_risk_score is not null
),

deciles as (
    select
        as_of_date,
        decile,
        count(*) as customers,
        sum(churned) as churners,
        min(churn_risk_score) as min_predicted_churn,
        max(churn_risk_score) as max_predicted_churn,
        {{ exact_sum('churn_risk_score') }} / count(*) as mean_predicted_churn,
        sum(churned) / cast(count(*) as {{ type_double() }}) as observed_churn_rate
    from scored
    group by
        as_of_date,
        decile
),

final as (
    select
        cast(as_of_date as date) as as_of_date,
        cast(decile as {{ dbt.type_bigint() }}) as decile,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(churners as {{ dbt.type_bigint() }}) as churners,
        cast(min_predicted_churn as {{ type_double() }}) as min_predicted_churn,
        cast(max_predicted_churn as {{ type_double() }}) as max_predicted_churn,
        cast(mean_predicted_churn as {{ type_double() }}) as mean_predicted_churn,
        cast(observed_churn_rate as {{ type_double() }}) as observed_churn_rate,
        cast(
            (
                observed_churn_rate + {{ z }} * {{ z }} / (2 * customers)
                - {{ z }} * sqrt(
                    observed_churn_rate * (1 - observed_churn_rate) / customers
                    + {{ z }} * {{ z }} / (4 * customers * customers)
                )
            ) / (1 + {{ z }} * {{ z }} / customers) as {{ type_double() }}
        ) as observed_ci_low,
        cast(
            (
                observed_churn_rate + {{ z }} * {{ z }} / (2 * customers)
                + {{ z }} * sqrt(
                    observed_churn_rate * (1 - observed_churn_rate) / customers
                    + {{ z }} * {{ z }} / (4 * customers * customers)
                )
            ) / (1 + {{ z }} * {{ z }} / customers) as {{ type_double() }}
        ) as observed_ci_high,
        cast(observed_churn_rate - mean_predicted_churn as {{ type_double() }}) as calibration_gap,
        customers < {{ var('low_sample_n') }} as is_low_sample
    from deciles
)

select * from final
