-- One row per churn-risk snapshot: a customer active at a month start (the
-- as-of instant), plus, for the customers active at the end of the data, the
-- start of the month after the last month. Every fact uses only what happened
-- before the as-of instant; look-back windows are whole calendar months ("the
-- last 3 months" = the 3 months before as_of_date). A ticket counts as slow
-- from the instant it is overdue (no first response 24 h after creation, or no
-- solution 72 h after), so it is known then. The labels say whether the
-- customer churned (active at a month start and not at the next) in the month
-- of as_of_date or the 2 (5) months after it; a label is observed only when
-- its whole horizon lies before the end of the data, the last observed event
-- (dim_month's source ends), never a scheduled subscription end. The end-of-data
-- snapshot holds every customer active at that instant, and says when a
-- customer whose every subscription has a scheduled end will be gone.
{%- set by_month = 'partition by customer_id order by month_start_date' %}

with

customer_months as (
    select * from {{ ref('fct_customer_months') }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

answers as (
    select * from {{ ref('fct_survey_answers') }}
),

questions as (
    select * from {{ ref('dim_question') }}
),

tickets as (
    select * from {{ ref('fct_tickets') }}
),

subscriptions as (
    select * from {{ ref('stg_crm__subscriptions') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_spanned') }}
),

spine_bounds as (
    select
        max(month_start_date) as last_month_start_date,
        cast({{ dbt.dateadd('month', 1, 'max(month_start_date)') }} as date) as end_date
    from customer_months
),

data_end as (
    {{ data_end_query() }}
),

-- Each customer's subscriptions active at the end of the data: their MRR then,
-- and, when every one of them has an end scheduled after it, the last of those.
subscriptions_at_data_end as (
    select
        subscriptions.customer_id,
        sum(subscriptions.mrr * fx_rates.rate_to_reporting) as mrr,
        sum(case when subscriptions.ended_at is null then 1 else 0 end) as open_subscriptions,
        max(subscriptions.ended_at) as last_ended_at
    from subscriptions
    cross join data_end
    left join fx_rates
        on {{ fx_rate_applies('fx_rates', 'subscriptions.currency', 'cast(data_end.data_end_at as date)') }}
    where
        subscriptions.started_at <= data_end.data_end_at
        and coalesce(
            subscriptions.ended_at, cast({{ far_future_date() }} as {{ dbt.type_timestamp() }})
        ) > data_end.data_end_at
    group by subscriptions.customer_id
),

customers_at_data_end as (
    select
        customer_id,
        coalesce(mrr, 0) as mrr,
        case when open_subscriptions = 0 then last_ended_at end as scheduled_end_at
    from subscriptions_at_data_end
),

customer_month_grid as (
    select
        customer_id,
        month_start_date,
        is_active_start,
        is_churned,
        mrr_start as mrr,
        sessions_started,
        latest_nps_score,
        latest_nps_category
    from customer_months
    union all
    -- the end of the data: active if active at the last observed event (a
    -- subscription ending after it, even before end_date, is still running)
    select
        customer_months.customer_id,
        spine_bounds.end_date as month_start_date,
        customer_months.is_active_end or customers_at_data_end.customer_id is not null as is_active_start,
        false as is_churned,
        case
            when customer_months.is_active_end then customer_months.mrr_end
            else coalesce(customers_at_data_end.mrr, 0)
        end as mrr,
        cast(0 as {{ dbt.type_bigint() }}) as sessions_started,
        customer_months.latest_nps_score,
        customer_months.latest_nps_category
    from customer_months
    inner join spine_bounds
        on customer_months.month_start_date = spine_bounds.last_month_start_date
    left join customers_at_data_end
        on customer_months.customer_id = customers_at_data_end.customer_id
),

rated_answers as (
    select
        answers.customer_id,
        answers.metric,
        answers.value_number,
        {{ month_start('answers.submitted_at') }} as month_start_date,
        {{ answer_position('answers.value_number', 'questions.scale_min', 'questions.scale_max') }} as rating_position
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    where
        answers.customer_id is not null
        and answers.value_number is not null
        and answers.metric in ('nps', 'csat', 'ces', 'driver')
        and questions.scale_max > questions.scale_min
),

customer_answer_months as (
    select
        customer_id,
        month_start_date,
        sum(case when metric = 'nps' then 1 else 0 end) as nps_answers,
        sum(case when metric = 'nps' and value_number <= 6 then 1 else 0 end) as detractor_answers,
        {{ exact_sum('rating_position', as_double=false) }} as rating_sum,
        count(*) as rating_count
    from rated_answers
    group by
        customer_id,
        month_start_date
),

valid_tickets as (
    select
        customer_id,
        created_at,
        solved_at,
        satisfaction,
        -- response due 24 h after creation, solution 72 h after; the earlier overdue one
        case
            when
                first_response_at is null
                or first_response_at > {{ dbt.dateadd('hour', 24, 'created_at') }}
                then {{ dbt.dateadd('hour', 24, 'created_at') }}
            when
                solved_at is null
                or solved_at > {{ dbt.dateadd('hour', 72, 'created_at') }}
                then {{ dbt.dateadd('hour', 72, 'created_at') }}
        end as overdue_at
    from tickets
    where
        customer_id is not null
        and (solved_at is null or solved_at >= created_at)
),

ticket_events as (
    select
        customer_id,
        {{ month_start('created_at') }} as month_start_date,
        1 as created_count,
        0 as solved_count,
        0 as slow_count,
        0 as bad_rated_count
    from valid_tickets
    union all
    select
        customer_id,
        {{ month_start('solved_at') }} as month_start_date,
        0 as created_count,
        1 as solved_count,
        0 as slow_count,
        case when satisfaction = 'bad' then 1 else 0 end as bad_rated_count
    from valid_tickets
    where solved_at is not null
    union all
    select
        customer_id,
        {{ month_start('overdue_at') }} as month_start_date,
        0 as created_count,
        0 as solved_count,
        1 as slow_count,
        0 as bad_rated_count
    from valid_tickets
    where overdue_at is not null
),

customer_ticket_months as (
    select
        customer_id,
        month_start_date,
        sum(created_count) as created_count,
        sum(solved_count) as solved_count,
        sum(slow_count) as slow_count,
        sum(bad_rated_count) as bad_rated_count
    from ticket_events
    group by
        customer_id,
        month_start_date
),

data_bounds as (
    select min(month_start_date) as first_data_month_start_date
    from (
        select month_start_date from customer_answer_months
        union all
        select month_start_date from customer_ticket_months
        union all
        select month_start_date from customer_months
        where sessions_started > 0
    ) as activity_months
),

customer_month_activity as (
    select
        customer_month_grid.customer_id,
        customer_month_grid.month_start_date,
        customer_month_grid.is_active_start,
        customer_month_grid.is_churned,
        customer_month_grid.mrr,
        customer_month_grid.sessions_started,
        customer_month_grid.latest_nps_score,
        customer_month_grid.latest_nps_category,
        coalesce(customer_answer_months.nps_answers, 0) as nps_answers,
        coalesce(customer_answer_months.detractor_answers, 0) as detractor_answers,
        coalesce(customer_answer_months.rating_sum, 0) as rating_sum,
        coalesce(customer_answer_months.rating_count, 0) as rating_count,
        coalesce(customer_ticket_months.created_count, 0) as created_count,
        coalesce(customer_ticket_months.solved_count, 0) as solved_count,
        coalesce(customer_ticket_months.slow_count, 0) as slow_count,
        coalesce(customer_ticket_months.bad_rated_count, 0) as bad_rated_count
    from customer_month_grid
    left join customer_answer_months
        on
            customer_month_grid.customer_id = customer_answer_months.customer_id
            and customer_month_grid.month_start_date = customer_answer_months.month_start_date
    left join customer_ticket_months
        on
            customer_month_grid.customer_id = customer_ticket_months.customer_id
            and customer_month_grid.month_start_date = customer_ticket_months.month_start_date
),

-- The grid holds every month of a customer from their first one (and the end
-- of the data), so a frame of n rows is n calendar months.
windowed as (
    select
        customer_id,
        month_start_date as as_of_date,
        is_active_start,
        is_churned as is_churned_this_month,
        mrr,
        lag(latest_nps_score) over ({{ by_month }}) as latest_nps_score,
        coalesce(lag(latest_nps_category) over ({{ by_month }}), 'no_answer') as latest_nps_category,
        max(case when nps_answers > 0 then month_start_date end) over (
            {{ by_month }} rows between unbounded preceding and 1 preceding
        ) as latest_nps_month_start_date,
        sum(detractor_answers) over (
            {{ by_month }} rows between 6 preceding and 1 preceding
        ) as detractor_answers_6m,
        sum(rating_sum) over (
            {{ by_month }} rows between unbounded preceding and 1 preceding
        ) as rating_sum,
        sum(rating_count) over (
            {{ by_month }} rows between unbounded preceding and 1 preceding
        ) as survey_answers,
        sum(created_count) over (
            {{ by_month }} rows between 3 preceding and 1 preceding
        ) as tickets_3m,
        sum(created_count - solved_count) over (
            {{ by_month }} rows between unbounded preceding and 1 preceding
        ) as unresolved_tickets,
        sum(slow_count) over (
            {{ by_month }} rows between 3 preceding and 1 preceding
        ) as slow_tickets_3m,
        sum(bad_rated_count) over (
            {{ by_month }} rows between 6 preceding and 1 preceding
        ) as bad_rated_tickets_6m,
        sum(sessions_started) over (
            {{ by_month }} rows between 1 preceding and 1 preceding
        ) as sessions_last_month,
        sum(sessions_started) over (
            {{ by_month }} rows between 3 preceding and 1 preceding
        ) as sessions_last_3m,
        sum(sessions_started) over (
            {{ by_month }} rows between 6 preceding and 4 preceding
        ) as sessions_prev_3m,
        max(case when is_churned then 1 else 0 end) over (
            {{ by_month }} rows between current row and 2 following
        ) as churned_within_3_months_flag,
        max(case when is_churned then 1 else 0 end) over (
            {{ by_month }} rows between current row and 5 following
        ) as churned_within_6_months_flag
    from customer_month_activity
),

final as (
    select
        windowed.customer_id,
        customers.segment,
        windowed.as_of_date,
        cast(windowed.mrr as {{ type_double() }}) as mrr,
        windowed.is_churned_this_month,
        windowed.churned_within_3_months_flag = 1 as is_churned_within_3_months,
        windowed.churned_within_6_months_flag = 1 as is_churned_within_6_months,
        coalesce(
            cast({{ dbt.dateadd('month', 3, 'windowed.as_of_date') }} as {{ dbt.type_timestamp() }})
            <= data_end.data_end_at,
            false
        ) as is_3_month_label_observed,
        coalesce(
            cast({{ dbt.dateadd('month', 6, 'windowed.as_of_date') }} as {{ dbt.type_timestamp() }})
            <= data_end.data_end_at,
            false
        ) as is_6_month_label_observed,
        cast(windowed.latest_nps_score as {{ type_double() }}) as latest_nps_score,
        windowed.latest_nps_category,
        windowed.latest_nps_month_start_date,
        cast(coalesce(windowed.detractor_answers_6m, 0) as {{ dbt.type_bigint() }}) as detractor_answers_6m,
        case
            when windowed.survey_answers > 0
                then cast(windowed.rating_sum as {{ type_double() }})
                    / cast(windowed.survey_answers as {{ type_double() }})
        end as survey_rating,
        cast(coalesce(windowed.survey_answers, 0) as {{ dbt.type_bigint() }}) as survey_answers,
        cast(coalesce(windowed.tickets_3m, 0) as {{ dbt.type_bigint() }}) as tickets_3m,
        cast(coalesce(windowed.unresolved_tickets, 0) as {{ dbt.type_bigint() }}) as unresolved_tickets,
        cast(coalesce(windowed.slow_tickets_3m, 0) as {{ dbt.type_bigint() }}) as slow_tickets_3m,
        cast(coalesce(windowed.bad_rated_tickets_6m, 0) as {{ dbt.type_bigint() }}) as bad_rated_tickets_6m,
        cast(coalesce(windowed.sessions_last_month, 0) as {{ dbt.type_bigint() }}) as sessions_last_month,
        cast(coalesce(windowed.sessions_last_3m, 0) as {{ dbt.type_bigint() }}) as sessions_last_3m,
        cast(coalesce(windowed.sessions_prev_3m, 0) as {{ dbt.type_bigint() }}) as sessions_prev_3m,
        cast(
            {{ dbt.datediff('customers.signed_up_at', 'windowed.as_of_date', 'day') }} as {{ dbt.type_bigint() }}
        ) as tenure_days,
        case
            when windowed.as_of_date = spine_bounds.end_date then customers_at_data_end.scheduled_end_at
        end as scheduled_end_at,
        data_bounds.first_data_month_start_date,
        spine_bounds.end_date,
        data_end.data_end_at
    from windowed
    inner join customers
        on windowed.customer_id = customers.customer_id
    cross join spine_bounds
    cross join data_bounds
    cross join data_end
    left join customers_at_data_end
        on windowed.customer_id = customers_at_data_end.customer_id
    where windowed.is_active_start
)

select * from final
