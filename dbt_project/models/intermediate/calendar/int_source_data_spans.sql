-- The span of observed data per source: the first and the last observed
-- instant of feedback (submitted_at), tickets (created_at, solved_at), web
-- (occurred_at) and crm (invoices issued_at, subscriptions started_at). A
-- subscription's ended_at is not an observation: one after the last observed
-- event is a scheduled cancellation (interface.md). One row per source with
-- data. The month spine (int_months_spanned) and each month's completeness
-- (dim_month) read it.
with

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

events as (
    select * from {{ ref('stg_web__events') }}
),

invoices as (
    select * from {{ ref('stg_crm__invoices') }}
),

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
),

observed_instants as (
    select
        'feedback' as source,
        min(submitted_at) as first_data_at,
        max(submitted_at) as last_data_at
    from responses
    union all
    select
        'tickets' as source,
        least(min(created_at), min(solved_at)) as first_data_at,
        greatest(max(created_at), max(solved_at)) as last_data_at
    from tickets
    union all
    select
        'web' as source,
        min(occurred_at) as first_data_at,
        max(occurred_at) as last_data_at
    from events
    union all
    select
        'crm' as source,
        min(data_at) as first_data_at,
        max(data_at) as last_data_at
    from (
        select issued_at as data_at from invoices
        union all
        select started_at as data_at from subscriptions
    ) as crm_instants
),

final as (
    select
        source,
        first_data_at,
        last_data_at
    from observed_instants
    where last_data_at is not null
)

select * from final
