-- Every customer active at the end of the data with the churn risk score of
-- the Python model int_churn_risks_scored, its band, its reasons in words and
-- the MRR at stake; whether the backtest vouches for the score; this model
-- fixes the contract. A customer with a cancellation scheduled after the end
-- of the data is in band scheduled_to_end and expected to lose all of it.
with

churn_risks as (
    select * from {{ computed('int_churn_risks_scored') }}
),

backtests as (
    select * from {{ ref('churn_model_backtest') }}
),

reliability as (
    select coalesce(bool_or(is_model_reliable), false) as is_model_reliable
    from backtests
),

final as (
    select
        cast(churn_risks.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(churn_risks.segment as {{ dbt.type_string() }}) as segment,
        cast(churn_risks.as_of_date as date) as as_of_date,
        cast(churn_risks.churn_risk_score as {{ type_double() }}) as churn_risk_score,
        cast(churn_risks.risk_band as {{ dbt.type_string() }}) as risk_band,
        cast(churn_risks.risk_lift as {{ type_double() }}) as risk_lift,
        cast(churn_risks.reasons as {{ dbt.type_string() }}) as reasons,
        cast(churn_risks.reason_codes as {{ dbt.type_string() }}) as reason_codes,
        cast(churn_risks.scheduled_end_at as {{ dbt.type_timestamp() }}) as scheduled_end_at,
        cast(churn_risks.mrr as {{ type_double() }}) as mrr_at_risk,
        cast(
            case
                when churn_risks.scheduled_end_at is not null then churn_risks.mrr
                else churn_risks.churn_risk_score * churn_risks.mrr
            end as {{ type_double() }}
        ) as expected_mrr_loss,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast(churn_risks.latest_nps_category as {{ dbt.type_string() }}) as latest_nps_category,
        cast(churn_risks.latest_nps_score as {{ type_double() }}) as latest_nps_score,
        cast(churn_risks.latest_nps_month_start_date as date) as latest_nps_month_start_date,
        cast(churn_risks.detractor_answers_6m as {{ dbt.type_bigint() }}) as detractor_answers_6m,
        cast(churn_risks.survey_rating as {{ type_double() }}) as survey_rating,
        cast(churn_risks.survey_answers as {{ dbt.type_bigint() }}) as survey_answers,
        cast(churn_risks.tickets_3m as {{ dbt.type_bigint() }}) as tickets_3m,
        cast(churn_risks.unresolved_tickets as {{ dbt.type_bigint() }}) as unresolved_tickets,
        cast(churn_risks.slow_tickets_3m as {{ dbt.type_bigint() }}) as slow_tickets_3m,
        cast(churn_risks.bad_rated_tickets_6m as {{ dbt.type_bigint() }}) as bad_rated_tickets_6m,
        cast(churn_risks.sessions_last_month as {{ dbt.type_bigint() }}) as sessions_last_month,
        cast(churn_risks.sessions_last_3m as {{ dbt.type_bigint() }}) as sessions_last_3m,
        cast(churn_risks.sessions_prev_3m as {{ dbt.type_bigint() }}) as sessions_prev_3m,
        cast(churn_risks.tenure_days as {{ dbt.type_bigint() }}) as tenure_days,
        cast(churn_risks.model_n as {{ dbt.type_bigint() }}) as model_n,
        cast(churn_risks.model_churners as {{ dbt.type_bigint() }}) as model_churners,
        cast(churn_risks.model_base_rate as {{ type_double() }}) as model_base_rate,
        reliability.is_model_reliable,
        cast(churn_risks.is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample
    from churn_risks
    cross join reliability
)

select * from final
