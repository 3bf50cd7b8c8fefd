-- Invoices with their amount in the reporting currency, converted at the
-- latest rate on or before the issue date (null when there is none).
with

invoices as (
    select * from {{ ref('stg_crm__invoices') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

final as (
    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.issued_at,
        cast(invoices.issued_at as date) as issued_date,
        {{ month_start('invoices.issued_at') }} as issued_month_start_date,
        invoices.invoice_status,
        invoices.invoice_status = 'paid' as is_paid,
        invoices.amount,
        invoices.currency,
        fx_rates.rate_to_reporting as fx_rate,
        cast(invoices.amount * fx_rates.rate_to_reporting as {{ type_converted_money() }}) as amount_reporting
    from invoices
    left join fx_rates
        on {{ fx_rate_applies('fx_rates', 'invoices.currency', 'cast(invoices.issued_at as date)') }}
)

select * from final
