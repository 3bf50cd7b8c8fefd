-- MRR that kpis.md leaves out for lack of an fx rate: one row per currency
-- with a month instant (month_start or next_month_start of a month in the
-- spine) at which a subscription in that currency was active and no rate on
-- or before the instant's date existed. Such a subscription still counts as
-- active; its MRR adds nothing at that instant (landing-contract.md). Rates
-- apply from their date onwards, so a currency's gap is the run of instants
-- before its first rate.
with

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
),

months as (
    select * from {{ ref('int_months_spanned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

instants as (
    select month_start_at as instant_at from months
    union
    select next_month_start_at as instant_at from months
),

subscription_instants as (
    select
        subscriptions.subscription_id,
        subscriptions.currency,
        subscriptions.mrr,
        instants.instant_at
    from subscriptions
    inner join instants
        on
            subscriptions.started_at <= instants.instant_at
            and (subscriptions.ended_at is null or subscriptions.ended_at > instants.instant_at)
),

unconverted as (
    select subscription_instants.*
    from subscription_instants
    left join fx_rates
        on {{ fx_rate_applies(
            'fx_rates', 'subscription_instants.currency', 'cast(subscription_instants.instant_at as date)'
        ) }}
    where fx_rates.currency is null
),

per_instant as (
    select
        currency,
        instant_at,
        sum(mrr) as native_mrr
    from unconverted
    group by
        currency,
        instant_at
),

per_currency as (
    select
        currency,
        min(instant_at) as first_instant_at,
        max(instant_at) as last_instant_at,
        count(distinct instant_at) as instants,
        count(distinct subscription_id) as subscriptions
    from unconverted
    group by currency
),

peaks as (
    select
        currency,
        max(native_mrr) as native_mrr_left_out
    from per_instant
    group by currency
),

final as (
    select
        cast(per_currency.currency as {{ dbt.type_string() }}) as currency,
        cast(per_currency.first_instant_at as {{ dbt.type_timestamp() }}) as first_instant_at,
        cast(per_currency.last_instant_at as {{ dbt.type_timestamp() }}) as last_instant_at,
        cast(per_currency.instants as {{ dbt.type_bigint() }}) as instants,
        cast(per_currency.subscriptions as {{ dbt.type_bigint() }}) as subscriptions,
        cast(peaks.native_mrr_left_out as {{ type_money() }}) as native_mrr_left_out
    from per_currency
    inner join peaks on per_currency.currency = peaks.currency
)

select * from final
