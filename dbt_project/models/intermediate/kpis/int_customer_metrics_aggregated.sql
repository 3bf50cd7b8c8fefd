-- Customer and revenue metrics per month at company and segment (the
-- customer's current segment; none -> 'unknown') level, for every month of
-- the spine (zero counts and sums where nothing happened; ratios null when
-- their denominator is 0). Segment rows cover every segment that has a
-- customer-month anywhere in the spine. Each segment's company row is also
-- repeated within the segment (segment_scope; 'all' for the rest).
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

-- One pass over the customer-months into (month, segment); the three levels
-- below add these up (integer counts and exact decimal sums: the same in any
-- grouping), instead of repeating each customer-month once per level. The
-- counts of booleans go through sum_of_counts (PostgreSQL would make their
-- second sum numeric); paid_invoices was a bigint summed, numeric there.
segment_sums as (
    select
        month_start_date,
        segment,
        sum(case when is_active_start then 1 else 0 end) as active_customers_start,
        sum(case when is_active_end then 1 else 0 end) as active_customers_end,
        sum(case when is_new then 1 else 0 end) as new_customers,
        sum(mrr_start) as mrr_start,
        sum(mrr_end) as mrr_end,
        sum(case when is_churned then mrr_start else 0 end) as churned_mrr,
        sum(revenue) as revenue,
        sum(paid_invoice_count) as paid_invoices
    from segmented_customer_months
    group by
        month_start_date,
        segment
),

segment_sums_by_level as (
    select
        'all' as segment_scope,
        'company' as level,
        'all' as level_id,
        segment_sums.*
    from segment_sums
    union all
    select
        'all' as segment_scope,
        'segment' as level,
        segment as level_id,
        segment_sums.*
    from segment_sums
    union all
    -- Within the segment (kpi_monthly_by_segment): its company row.
    select
        segment as segment_scope,
        'company' as level,
        'all' as level_id,
        segment_sums.*
    from segment_sums
),

level_members as (
    select distinct
        segment_scope,
        level,
        level_id
    from segment_sums_by_level
    union
    select
        'all' as segment_scope,
        'company' as level,
        'all' as level_id
),

level_months as (
    select
        months.month_start_date,
        level_members.segment_scope,
        level_members.level,
        level_members.level_id
    from months
    cross join level_members
),

level_sums as (
    select
        month_start_date,
        segment_scope,
        level,
        level_id,
        {{ sum_of_counts('active_customers_start') }} as active_customers_start,
        {{ sum_of_counts('active_customers_end') }} as active_customers_end,
        {{ sum_of_counts('new_customers') }} as new_customers,
        sum(mrr_start) as mrr_start,
        sum(mrr_end) as mrr_end,
        sum(churned_mrr) as churned_mrr,
        sum(revenue) as revenue,
        sum(paid_invoices) as paid_invoices
    from segment_sums_by_level
    group by
        month_start_date,
        segment_scope,
        level,
        level_id
),

level_totals as (
    select
        level_months.month_start_date,
        level_months.segment_scope,
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
            and level_months.segment_scope = level_sums.segment_scope
            and level_months.level = level_sums.level
            and level_months.level_id = level_sums.level_id
),

final as (
    {{ kpi_metric_rows('level_totals', [
        {'metric': 'active_customers_start', 'measure': 'active_customers_start', 'n': 'active_customers_start'},
        {'metric': 'active_customers_end', 'measure': 'active_customers_end', 'n': 'active_customers_end'},
        {'metric': 'new_customers', 'measure': 'new_customers', 'n': 'new_customers'},
        {'metric': 'lost_customers', 'measure': 'lost_customers', 'n': 'active_customers_start + new_customers'},
        {'metric': 'churn_rate', 'ratio': ('lost_customers', 'active_customers_start'), 'n': 'active_customers_start'},
        {'metric': 'mrr_start', 'measure': 'mrr_start', 'n': 'active_customers_start'},
        {'metric': 'mrr_end', 'measure': 'mrr_end', 'n': 'active_customers_end'},
        {'metric': 'revenue_churn_rate', 'ratio': ('churned_mrr', 'mrr_start'), 'n': 'active_customers_start'},
        {'metric': 'revenue', 'measure': 'revenue', 'n': 'paid_invoices'},
    ]) }}
)

select * from final
