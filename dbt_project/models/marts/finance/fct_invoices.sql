with

invoices as (
    select * from {{ ref('int_invoices_converted') }}
),

final as (
    select
        invoice_id,
        customer_id,
        issued_at,
        issued_date,
        invoice_status,
        is_paid,
        amount < 0 as is_credit_note,
        amount,
        currency,
        fx_rate,
        amount_reporting
    from invoices
)

select * from final
