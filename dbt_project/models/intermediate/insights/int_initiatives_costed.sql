-- One row per initiative with the scope it acts on (its touchpoint, or its
-- journey) and its cost in the reporting currency, converted at the latest
-- rate on or before the date of started_at (no such rate: cost null).
with

initiatives as (
    select * from {{ ref('stg_framework__initiatives') }}
),

touchpoints as (
    select * from {{ ref('dim_touchpoint') }}
),

journeys as (
    select * from {{ ref('dim_journey') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

final as (
    select
        initiatives.initiative_id,
        initiatives.initiative_name,
        initiatives.owner_name,
        initiatives.touchpoint_id,
        initiatives.journey_id,
        case when initiatives.touchpoint_id is not null then 'touchpoint' else 'journey' end as scope_level,
        coalesce(touchpoints.journey_id, initiatives.journey_id) as scope_journey_id,
        coalesce(touchpoints.touchpoint_name, journeys.journey_name) as scope_name,
        initiatives.started_at,
        initiatives.ended_at,
        cast(initiatives.cost as {{ type_double() }}) as cost_original,
        initiatives.currency as cost_currency,
        cast(initiatives.cost * fx_rates.rate_to_reporting as {{ type_double() }}) as cost,
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        initiatives.target_metric,
        cast(initiatives.target_value as {{ type_double() }}) as target_value
    from initiatives
    left join touchpoints
        on initiatives.touchpoint_id = touchpoints.touchpoint_id
    left join journeys
        on initiatives.journey_id = journeys.journey_id
    left join fx_rates
        on {{ fx_rate_applies('fx_rates', 'initiatives.currency', 'cast(initiatives.started_at as date)') }}
)

select * from final
