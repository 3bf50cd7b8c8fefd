-- One row per invoice or credit note, with its amount in the reporting
-- currency (int_invoices_converted).
--
-- Incremental by invoice, with a watermark as fct_survey_responses: a run
-- recomputes the invoices int_invoices_converted wrote after the watermark
-- (new and updated invoices; every invoice after other fx rates) and
-- replaces them by invoice_id. Invoices gone upstream are deleted by the
-- post-hook. On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key='invoice_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ record_built_whole() }}",
    post_hook=[
        "{{ delete_rows_missing_from(ref('int_invoices_converted'), 'invoice_id') }}",
        "{{ record_watermark([ref('int_invoices_converted')]) }}",
    ],
) }}

{%- set watermark = stored_watermark() %}

with

all_invoices as (
    select * from {{ ref('int_invoices_converted') }}
),

invoices as (
    select * from all_invoices
    {%- if watermark %}
    where _written_at > {{ watermark }}
    {%- endif %}
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
