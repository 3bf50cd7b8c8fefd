-- The churn model's backtest (one row): fitted on snapshots whose label was
-- known at T, scored on the customers active at T, AUC for churn from T to
-- the end of the data. Computed in the Python model
-- int_churn_models_backtested; this model fixes the contract.
with

backtests as (
    select * from {{ ref('int_churn_models_backtested') }}
),

final as (
    select
        cast(as_of_date as date) as as_of_date,
        cast(training_from_date as date) as training_from_date,
        cast(label_horizon_months as {{ dbt.type_bigint() }}) as label_horizon_months,
        cast(test_horizon_months as {{ dbt.type_bigint() }}) as test_horizon_months,
        cast(training_n as {{ dbt.type_bigint() }}) as training_n,
        cast(training_churners as {{ dbt.type_bigint() }}) as training_churners,
        cast(n as {{ dbt.type_bigint() }}) as n,
        cast(churners as {{ dbt.type_bigint() }}) as churners,
        cast(auc as {{ type_double() }}) as auc,
        cast(features as {{ dbt.type_string() }}) as features,
        cast(coefficients as {{ dbt.type_string() }}) as coefficients,
        cast(is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from backtests
)

select * from final
