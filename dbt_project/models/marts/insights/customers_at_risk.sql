-- Every customer active at the end of the data with the churn risk score of
-- the Python model int_churn_risks_scored, its band, its reasons in words and
-- the MRR at stake; this model fixes the contract.
with

churn_risks as (
    select * from {{ ref('int_churn_risks_scored') }}
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(as_of_date as date) as as_of_date,
        cast(churn_risk_score as {{ type_double() }}) as churn_risk_score,
        cast(risk_band as {{ dbt.type_string() }}) as risk_band,
        cast(risk_lift as {{ type_double() }}) as risk_lift,
        cast(reasons as {{ dbt.type_string() }}) as reasons,
        cast(mrr as {{ type_double() }}) as mrr_at_risk,
        cast(churn_risk_score * mrr as {{ type_double() }}) as expected_mrr_loss,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast(latest_nps_category as {{ dbt.type_string() }}) as latest_nps_category,
        cast(latest_nps_score as {{ type_double() }}) as latest_nps_score,
        cast(latest_nps_month_start_date as date) as latest_nps_month_start_date,
        cast(detractor_answers_6m as {{ dbt.type_bigint() }}) as detractor_answers_6m,
        cast(survey_rating as {{ type_double() }}) as survey_rating,
        cast(survey_answers as {{ dbt.type_bigint() }}) as survey_answers,
        cast(tickets_3m as {{ dbt.type_bigint() }}) as tickets_3m,
        cast(unresolved_tickets as {{ dbt.type_bigint() }}) as unresolved_tickets,
        cast(slow_tickets_3m as {{ dbt.type_bigint() }}) as slow_tickets_3m,
        cast(bad_rated_tickets_6m as {{ dbt.type_bigint() }}) as bad_rated_tickets_6m,
        cast(sessions_last_month as {{ dbt.type_bigint() }}) as sessions_last_month,
        cast(sessions_last_3m as {{ dbt.type_bigint() }}) as sessions_last_3m,
        cast(sessions_prev_3m as {{ dbt.type_bigint() }}) as sessions_prev_3m,
        cast(tenure_days as {{ dbt.type_bigint() }}) as tenure_days,
        cast(model_n as {{ dbt.type_bigint() }}) as model_n,
        cast(model_churners as {{ dbt.type_bigint() }}) as model_churners,
        cast(model_base_rate as {{ type_double() }}) as model_base_rate,
        cast(is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from churn_risks
)

select * from final
