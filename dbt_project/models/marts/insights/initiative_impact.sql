-- One row per initiative: its target metric before and after started_at in
-- equal windows, the same change on untouched journeys (difference in
-- differences), the revenue effect through NPS and the financial link, ROI,
-- and the "you said, we did" sentence. Computed in the Python model
-- int_initiative_impacts_computed; this model fixes the contract.
with

initiative_impacts as (
    select * from {{ ref('int_initiative_impacts_computed') }}
),

final as (
    select
        cast(initiative_id as {{ dbt.type_string() }}) as initiative_id,
        cast(initiative_name as {{ dbt.type_string() }}) as initiative_name,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(scope_level as {{ dbt.type_string() }}) as scope_level,
        cast(touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(scope_journey_id as {{ dbt.type_string() }}) as scope_journey_id,
        cast(scope_name as {{ dbt.type_string() }}) as scope_name,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        cast(window_days as {{ dbt.type_bigint() }}) as window_days,
        cast(before_start_at as {{ dbt.type_timestamp() }}) as before_start_at,
        cast(after_end_at as {{ dbt.type_timestamp() }}) as after_end_at,
        cast(target_metric as {{ dbt.type_string() }}) as target_metric,
        cast(target_value as {{ type_double() }}) as target_value,
        cast(value_before as {{ type_double() }}) as value_before,
        cast(value_after as {{ type_double() }}) as value_after,
        cast(change as {{ type_double() }}) as change,
        cast(n_before as {{ dbt.type_bigint() }}) as n_before,
        cast(n_after as {{ dbt.type_bigint() }}) as n_after,
        cast(control_journey_ids as {{ dbt.type_string() }}) as control_journey_ids,
        cast(control_value_before as {{ type_double() }}) as control_value_before,
        cast(control_value_after as {{ type_double() }}) as control_value_after,
        cast(control_change as {{ type_double() }}) as control_change,
        cast(control_n_before as {{ dbt.type_bigint() }}) as control_n_before,
        cast(control_n_after as {{ dbt.type_bigint() }}) as control_n_after,
        cast(did as {{ type_double() }}) as did,
        cast(did_ci_low as {{ type_double() }}) as did_ci_low,
        cast(did_ci_high as {{ type_double() }}) as did_ci_high,
        cast(is_significant as {{ dbt.type_boolean() }}) as is_significant,
        cast(improvement as {{ type_double() }}) as improvement,
        cast(is_improved as {{ dbt.type_boolean() }}) as is_improved,
        cast(is_target_met as {{ dbt.type_boolean() }}) as is_target_met,
        cast(is_low_sample as {{ dbt.type_boolean() }}) as is_low_sample,
        cast(nps_before as {{ type_double() }}) as nps_before,
        cast(nps_after as {{ type_double() }}) as nps_after,
        cast(nps_n_before as {{ dbt.type_bigint() }}) as nps_n_before,
        cast(nps_n_after as {{ dbt.type_bigint() }}) as nps_n_after,
        cast(control_nps_before as {{ type_double() }}) as control_nps_before,
        cast(control_nps_after as {{ type_double() }}) as control_nps_after,
        cast(nps_did as {{ type_double() }}) as nps_did,
        cast(nps_did_ci_low as {{ type_double() }}) as nps_did_ci_low,
        cast(nps_did_ci_high as {{ type_double() }}) as nps_did_ci_high,
        cast(is_nps_significant as {{ dbt.type_boolean() }}) as is_nps_significant,
        cast(is_nps_low_sample as {{ dbt.type_boolean() }}) as is_nps_low_sample,
        cast(customers_reached as {{ dbt.type_bigint() }}) as customers_reached,
        cast(detractors_moved as {{ type_double() }}) as detractors_moved,
        cast(value_per_detractor_moved as {{ type_double() }}) as value_per_detractor_moved,
        cast(is_value_per_detractor_reliable as {{ dbt.type_boolean() }}) as is_value_per_detractor_reliable,
        cast(revenue_effect as {{ type_double() }}) as revenue_effect,
        cast(revenue_effect_ci_low as {{ type_double() }}) as revenue_effect_ci_low,
        cast(revenue_effect_ci_high as {{ type_double() }}) as revenue_effect_ci_high,
        cast(cost_original as {{ type_double() }}) as cost_original,
        cast(cost_currency as {{ dbt.type_string() }}) as cost_currency,
        cast(cost as {{ type_double() }}) as cost,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(roi as {{ type_double() }}) as roi,
        cast(you_said_we_did as {{ dbt.type_string() }}) as you_said_we_did
    from initiative_impacts
)

select * from final
