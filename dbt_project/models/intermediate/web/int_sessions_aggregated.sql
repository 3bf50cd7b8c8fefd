-- One row per web session: its landing page (first event), customer (first
-- event that carries one), the events it holds, and its revenue in the
-- reporting currency (each event converted at its occurred_at date).
with

events as (
    select * from {{ ref('int_events_sessionised') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

converted_events as (
    select
        events.session_id,
        events.event_name,
        events.occurred_at,
        cast(events.revenue * fx_rates.rate_to_reporting as {{ type_converted_money() }}) as revenue_reporting
    from events
    left join fx_rates
        on {{ fx_rate_applies('fx_rates', 'events.currency', 'cast(events.occurred_at as date)') }}
),

landing_events as (
    select
        session_id,
        session_id_origin,
        anonymous_id,
        occurred_at as started_at,
        page_path as landing_page_path,
        event_name as landing_event_name
    from events
    where event_number_in_session = 1
),

identified_events as (
    select
        session_id,
        customer_id,
        row_number() over (
            partition by session_id
            order by occurred_at asc, event_id asc
        ) as identified_event_number
    from events
    where customer_id is not null
),

session_customers as (
    select
        session_id,
        customer_id
    from identified_events
    where identified_event_number = 1
),

session_activity as (
    select
        session_id,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        cast(sum(case when event_name = 'page_view' then 1 else 0 end) as {{ dbt.type_bigint() }}) as page_view_count,
        bool_or(event_name = 'add_to_cart') as has_add_to_cart,
        bool_or(event_name = 'purchase') as has_purchase,
        sum(revenue_reporting) as revenue_reporting
    from converted_events
    group by session_id
),

final as (
    select
        landing_events.session_id,
        landing_events.session_id_origin,
        landing_events.anonymous_id,
        session_customers.customer_id,
        landing_events.started_at,
        session_activity.ended_at,
        landing_events.landing_page_path,
        session_activity.event_count,
        session_activity.page_view_count,
        session_activity.has_add_to_cart,
        session_activity.has_purchase,
        session_activity.event_count = 1 and landing_events.landing_event_name = 'page_view' as is_bounce,
        session_activity.has_add_to_cart and not session_activity.has_purchase as is_cart_abandoned,
        session_activity.revenue_reporting
    from landing_events
    inner join session_activity
        on landing_events.session_id = session_activity.session_id
    left join session_customers
        on landing_events.session_id = session_customers.session_id
)

select * from final
