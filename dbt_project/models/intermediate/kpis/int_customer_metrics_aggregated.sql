-- Customer and revenue metrics per month at company and segment (the
-- customer's current segment; none -> 'unknown') level, for every month of
-- the spine (zero counts and sums where nothing happened; ratios null when
-- their denominator is 0). Segment rows cover every segment that has a
-- customer-month anywhere in the spine.
with

customer_months as (
    select * from {{ ref('int_customer_months_evaluated') }}
),

months as (
    select * from {{ ref('int_months_spanned') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

segmented_customer_months as (
    select
        customer_months.*,
        coalesce(customers.segment, 'unknown') as segment
    from customer_months
    left join customers
        on customer_months.customer_id = customers.customer_id
),

customer_months_by_level as (
    select
        'company' as level,
        'all' as level_id,
        segmented_customer_months.*
    from segmented_customer_months
    union all
    select
        'segment' as level,
        segment as level_id,
        segmented_customer_months.*
    from segmented_customer_months
),

level_members as (
    select distinct
        level,
        level_id
    from customer_months_by_level
    union
    select
        'company' as level,
        'all' as level_id
),

level_months as (
    select
        months.month_start_date,
        level_members.level,
        level_members.level_id
    from months
    cross join level_members
),

level_sums as (
    select
        month_start_date,
        level,
        level_id,
        sum(case when is_active_start then 1 else 0 end) as active_customers_start,
        sum(case when is_active_end then 1 else 0 end) as active_customers_end,
        sum(case when is_new then 1 else 0 end) as new_customers,
        sum(mrr_start) as mrr_start,
        sum(mrr_end) as mrr_end,
        sum(case when is_churned then mrr_start else 0 end) as churned_mrr,
        sum(revenue) as revenue,
        sum(paid_invoice_count) as paid_invoices
    from customer_months_by_level
    group by
        month_start_date,
        level,
        level_id
),

level_totals as (
    select
        level_months.month_start_date,
        level_months.level,
        level_months.level_id,
        coalesce(level_sums.active_customers_start, 0) as active_customers_start,
        coalesce(level_sums.active_customers_end, 0) as active_customers_end,
        coalesce(level_sums.new_customers, 0) as new_customers,
        coalesce(level_sums.active_customers_start, 0)
        + coalesce(level_sums.new_customers, 0)
        - coalesce(level_sums.active_customers_end, 0) as lost_customers,
        coalesce(level_sums.mrr_start, 0) as mrr_start,
        coalesce(level_sums.mrr_end, 0) as mrr_end,
        coalesce(level_sums.churned_mrr, 0) as churned_mrr,
        coalesce(level_sums.revenue, 0) as revenue,
        coalesce(level_sums.paid_invoices, 0) as paid_invoices
    from level_months
    left join level_sums
        on
            level_months.month_start_date = level_sums.month_start_date
            and level_months.level = level_sums.level
            and level_months.level_id = level_sums.level_id
),

metric_rows as (
    {%- set metrics = [
        ('active_customers_start', 'active_customers_start', none, none, 'active_customers_start'),
        ('active_customers_end', 'active_customers_end', none, none, 'active_customers_end'),
        ('new_customers', 'new_customers', none, none, 'new_customers'),
        ('lost_customers', 'lost_customers', none, none, 'active_customers_start + new_customers'),
        ('churn_rate', none, 'lost_customers', 'active_customers_start', 'active_customers_start'),
        ('mrr_start', 'mrr_start', none, none, 'active_customers_start'),
        ('mrr_end', 'mrr_end', none, none, 'active_customers_end'),
        ('revenue_churn_rate', none, 'churned_mrr', 'mrr_start', 'active_customers_start'),
        ('revenue', 'revenue', none, none, 'paid_invoices'),
    ] %}
    {%- for metric, measure, numerator, denominator, sample_size in metrics %}
    select
        month_start_date,
        level,
        level_id,
        '{{ metric }}' as metric,
        {%- if measure is not none %}
        cast({{ measure }} as {{ type_double() }}) as metric_value,
        cast(null as {{ type_double() }}) as numerator,
        cast(null as {{ type_double() }}) as denominator,
        {%- else %}
        {{ percentage(numerator, denominator) }} as metric_value,
        cast({{ numerator }} as {{ type_double() }}) as numerator,
        cast({{ denominator }} as {{ type_double() }}) as denominator,
        {%- endif %}
        {{ sample_size }} as sample_size
    from level_totals
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select * from metric_rows
)

select * from final
