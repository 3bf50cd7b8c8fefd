-- The churn model's backtest (one row): fitted on the snapshots whose outcome
-- was known at T (the latest month start whose 3-month outcome lies inside
-- the data), scored on the customers active at T, AUC with its 95 % interval
-- for churn within the same 3 months, against a simple baseline rule.
-- Computed in the Python model int_churn_models_backtested; this model fixes
-- the contract.
with

backtests as (
    select * from {{ ref('int_churn_models_backtested') }}
),

final as (
    select
        cast(as_of_date as date) as as_of_date,
        cast(training_from_date as date) as training_from_date,
        cast(training_to_date as date) as training_to_date,
        cast(label_horizon_months as {{ dbt.type_bigint() }}) as label_horizon_months,
        cast(test_horizon_months as {{ dbt.type_bigint() }}) as test_horizon_months,
        cast(training_n as {{ dbt.type_bigint() }}) as training_n,
        cast(training_churners as {{ dbt.type_bigint() }}) as training_churners,
        cast(n as {{ dbt.type_bigint() }}) as n,
        cast(churners as {{ dbt.type_bigint() }}) as churners,
        cast(auc as {{ type_double() }}) as auc,
        cast(auc_ci_low as {{ type_double() }}) as auc_ci_low,
        cast(auc_ci_high as {{ type_double() }}) as auc_ci_high,
        cast(is_model_reliable as {{ dbt.type_boolean() }}) as is_model_reliable,
        cast(baseline_rule as {{ dbt.type_string() }}) as baseline_rule,
        cast(baseline_auc as {{ type_double() }}) as baseline_auc,
        cast(baseline_auc_ci_low as {{ type_double() }}) as baseline_auc_ci_low,
        cast(baseline_auc_ci_high as {{ type_double() }}) as baseline_auc_ci_high,
        cast(auc_lift_over_baseline as {{ type_double() }}) as auc_lift_over_baseline,
        cast(features as {{ dbt.type_string() }}) as features,
        cast(coefficients as {{ dbt.type_string() }}) as coefficients,
        cast(is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from backtests
)

select * from final
