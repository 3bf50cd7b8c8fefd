-- CRM customers (e-mail pseudonymised, no name) plus inferred members for
-- customer ids that facts reference but the CRM has not delivered.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
),

invoices as (
    select * from {{ ref('stg_crm__invoices') }}
),

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

referenced_customers as (
    select customer_id from subscriptions
    union
    select customer_id from invoices
    union
    select customer_id from responses
    union
    select customer_id from tickets
    union
    select customer_id from sessions
),

inferred_customers as (
    select referenced_customers.customer_id
    from referenced_customers
    left join customers
        on referenced_customers.customer_id = customers.customer_id
    where
        referenced_customers.customer_id is not null
        and customers.customer_id is null
),

crm_members as (
    select
        customer_id,
        email_hash,
        signed_up_at,
        cast(signed_up_at as date) as signed_up_date,
        country_code,
        coalesce(segment, 'unknown') as segment,
        age_band,
        acquisition_channel,
        false as is_inferred
    from customers
),

inferred_members as (
    select
        customer_id,
        cast(null as {{ dbt.type_string() }}) as email_hash,
        cast(null as {{ dbt.type_timestamp() }}) as signed_up_at,
        cast(null as date) as signed_up_date,
        cast(null as {{ dbt.type_string() }}) as country_code,
        'unknown' as segment,
        cast(null as {{ dbt.type_string() }}) as age_band,
        cast(null as {{ dbt.type_string() }}) as acquisition_channel,
        true as is_inferred
    from inferred_customers
),

final as (
    select * from crm_members
    union all
    select * from inferred_members
)

select * from final
