-- Each fx rate with the dates it applies to: from its rate_date up to (not
-- including) the next rate_date of the same currency, so that an amount
-- takes the latest rate on or before its date. The reporting currency always
-- converts at exactly 1 (identity), whatever fx_rates says about it.
with

fx_rates as (
    select * from {{ ref('stg_framework__fx_rates') }}
),

foreign_rates as (
    select * from fx_rates
    where currency <> {{ reporting_currency() }}
),

spanned_rates as (
    select
        currency,
        rate_date as valid_from_date,
        lead(rate_date) over (partition by currency order by rate_date) as valid_to_date,
        rate_to_reporting
    from foreign_rates
),

identity_rate as (
    select
        cast({{ reporting_currency() }} as {{ dbt.type_string() }}) as currency,
        cast('0001-01-01' as date) as valid_from_date,
        cast(null as date) as valid_to_date,
        cast(1 as {{ type_money() }}) as rate_to_reporting
),

final as (
    select * from spanned_rates
    union all
    select * from identity_rate
)

select * from final
