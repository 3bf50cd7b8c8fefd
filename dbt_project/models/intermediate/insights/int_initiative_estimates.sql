-- One row per (initiative, metric, side, period): a kpis.md metric with its
-- sample size n and standard error, on the initiative's scope (side 'scope':
-- its touchpoint, else its journey) or on its control journeys (side
-- 'control'), in the window before started_at (period 'before') or from it
-- ('after'), as int_initiative_windows sizes them. Metrics: the initiative's
-- target metric, when it can be measured on a touchpoint or journey, and NPS
-- (the revenue effect goes through it). Initiatives whose windows are empty
-- (window_days 0) have no rows.
--
-- A row is placed in a window by the instant kpis.md counts it in: answers
-- by submitted_at, tickets by created_at (solved_at for the resolution time),
-- sessions by started_at. Values and standard errors: NPS 100 (p - d) and
-- 100 sqrt((p + d - (p - d)^2) / n); a percentage 100 p and
-- 100 sqrt(p (1 - p) / n); a mean (CES on 1..7, resolution hours) and
-- s / sqrt(n); a count n and sqrt(n) (Poisson); the median first response
-- and the distribution-free 95 % interval of order statistics
-- n/2 -+ 0.98 sqrt(n), divided by 2 x 1.96 (null when it falls outside 1..n).
with

windows as (
    select * from {{ ref('int_initiative_windows') }}
    where window_days > 0
),

control_journeys as (
    select * from {{ ref('int_initiative_control_journeys') }}
),

initiatives as (
    select * from {{ ref('int_initiatives_costed') }}
),

touchpoints as (
    select * from {{ ref('dim_touchpoint') }}
),

questions as (
    select * from {{ ref('dim_question') }}
),

answers as (
    select * from {{ ref('fct_survey_answers') }}
),

tickets as (
    select * from {{ ref('fct_tickets') }}
),

sessions as (
    select * from {{ ref('fct_web_sessions') }}
),

measured as (
    select
        initiative_id,
        target_metric as metric
    from initiatives
    where target_metric in (
            'csat', 'ces', 'tickets_created', 'avg_resolution_hours',
            'median_first_response_minutes', 'sessions', 'conversion_rate', 'bounce_rate',
            'cart_abandonment_rate'
        )
    union
    select
        initiative_id,
        'nps' as metric
    from initiatives
),

scored_answers as (
    select
        answers.touchpoint_id,
        answers.submitted_at,
        answers.metric,
        cast(answers.value_number as {{ type_double() }}) as answer_value,
        cast(questions.scale_min as {{ type_double() }}) as scale_min,
        cast(questions.scale_max as {{ type_double() }}) as scale_max
    from answers
    inner join questions
        on answers.question_id = questions.question_id
    where answers.metric in ('nps', 'csat', 'ces') and answers.value_number is not null
),

-- One row per unit a metric is computed from, with the instant that places it
-- in a window and its value (1 / 0 for a share or a count).
units as (
    select
        metric,
        touchpoint_id,
        submitted_at as measured_at,
        case
            when metric = 'nps' then answer_value
            when metric = 'csat' then case when answer_value >= scale_max - 1 then 1.0 else 0.0 end
            else 1 + 6 * (answer_value - scale_min) / (scale_max - scale_min)
        end as unit_value
    from scored_answers
    union all
    select
        'tickets_created' as metric,
        touchpoint_id,
        created_at as measured_at,
        1.0 as unit_value
    from tickets
    union all
    select
        'median_first_response_minutes' as metric,
        touchpoint_id,
        created_at as measured_at,
        first_response_minutes as unit_value
    from tickets
    where first_response_minutes is not null
    union all
    select
        'avg_resolution_hours' as metric,
        touchpoint_id,
        solved_at as measured_at,
        resolution_hours as unit_value
    from tickets
    where solved_at is not null
    union all
    select
        'sessions' as metric,
        touchpoint_id,
        started_at as measured_at,
        1.0 as unit_value
    from sessions
    union all
    select
        'conversion_rate' as metric,
        touchpoint_id,
        started_at as measured_at,
        case when has_purchase then 1.0 else 0.0 end as unit_value
    from sessions
    union all
    select
        'bounce_rate' as metric,
        touchpoint_id,
        started_at as measured_at,
        case when is_bounce then 1.0 else 0.0 end as unit_value
    from sessions
    union all
    select
        'cart_abandonment_rate' as metric,
        touchpoint_id,
        started_at as measured_at,
        case when has_purchase then 0.0 else 1.0 end as unit_value
    from sessions
    where has_add_to_cart
),

placed_units as (
    select
        units.metric,
        units.touchpoint_id,
        touchpoints.journey_id,
        units.measured_at,
        cast(units.unit_value as {{ type_double() }}) as unit_value
    from units
    left join touchpoints
        on units.touchpoint_id = touchpoints.touchpoint_id
    where units.metric in (select measured.metric from measured)
),

scopes as (
    select
        initiative_id,
        'scope' as side,
        touchpoint_id,
        scope_journey_id as journey_id
    from windows
    union all
    select
        initiative_id,
        'control' as side,
        null as touchpoint_id,
        journey_id
    from control_journeys
),

sides as (
    select 'scope' as side
    union all
    select 'control' as side
),

periods as (
    select 'before' as period
    union all
    select 'after' as period
),

grid as (
    select
        measured.initiative_id,
        measured.metric,
        sides.side,
        periods.period
    from measured
    inner join windows
        on measured.initiative_id = windows.initiative_id
    cross join sides
    cross join periods
),

matched as (
    select
        windows.initiative_id,
        placed_units.metric,
        scopes.side,
        case when placed_units.measured_at < windows.started_at then 'before' else 'after' end as period,
        placed_units.unit_value
    from scopes
    inner join windows
        on scopes.initiative_id = windows.initiative_id
    inner join measured
        on scopes.initiative_id = measured.initiative_id
    inner join placed_units
        on
            measured.metric = placed_units.metric
            and windows.before_start_at <= placed_units.measured_at
            and windows.after_end_at > placed_units.measured_at
            and (
                (scopes.touchpoint_id is not null and scopes.touchpoint_id = placed_units.touchpoint_id)
                or (scopes.touchpoint_id is null and scopes.journey_id = placed_units.journey_id)
            )
),

ranked as (
    select
        initiative_id,
        metric,
        side,
        period,
        unit_value,
        row_number() over (
            partition by initiative_id, metric, side, period order by unit_value
        ) as unit_position,
        count(*) over (partition by initiative_id, metric, side, period) as units
    from matched
),

aggregated as (
    select
        initiative_id,
        metric,
        side,
        period,
        count(*) as n,
        cast(sum(unit_value) as {{ type_double() }}) / count(*) as share,
        cast(sum(case when unit_value >= 9 then 1 else 0 end) as {{ type_double() }})
        / count(*) as promoter_share,
        cast(sum(case when unit_value <= 6 then 1 else 0 end) as {{ type_double() }})
        / count(*) as detractor_share,
        {{ exact_sum('unit_value') }} / count(*) as mean_value,
        stddev_samp(unit_value) as sd,
        {{ median('unit_value') }} as median_value,
        max(
            case
                when unit_position = floor(cast(units as {{ type_double() }}) / 2 - 0.98 * sqrt(units))
                    then unit_value
            end
        ) as lower_order_value,
        max(
            case
                when unit_position = ceil(cast(units as {{ type_double() }}) / 2 + 0.98 * sqrt(units))
                    then unit_value
            end
        ) as upper_order_value,
        floor(cast(count(*) as {{ type_double() }}) / 2 - 0.98 * sqrt(count(*))) as lower_order_position,
        ceil(cast(count(*) as {{ type_double() }}) / 2 + 0.98 * sqrt(count(*))) as upper_order_position
    from ranked
    group by
        initiative_id,
        metric,
        side,
        period
),

estimated as (
    select
        grid.initiative_id,
        grid.metric,
        grid.side,
        grid.period,
        coalesce(aggregated.n, 0) as n,
        case
            when grid.metric in ('tickets_created', 'sessions') then coalesce(aggregated.n, 0)
            when grid.metric = 'nps'
                then 100 * (aggregated.promoter_share - aggregated.detractor_share)
            when grid.metric in ('ces', 'avg_resolution_hours') then aggregated.mean_value
            when grid.metric = 'median_first_response_minutes' then aggregated.median_value
            else 100 * aggregated.share
        end as metric_value,
        case
            when grid.metric in ('tickets_created', 'sessions') then sqrt(coalesce(aggregated.n, 0))
            when grid.metric = 'nps'
                then 100 * sqrt(
                        (
                            aggregated.promoter_share + aggregated.detractor_share
                            - power(aggregated.promoter_share - aggregated.detractor_share, 2)
                        ) / aggregated.n
                    )
            when grid.metric in ('ces', 'avg_resolution_hours')
                then case when aggregated.n > 1 then aggregated.sd / sqrt(aggregated.n) end
            when grid.metric = 'median_first_response_minutes'
                then case
                        when
                            aggregated.n >= 3
                            and aggregated.lower_order_position >= 1
                            and aggregated.upper_order_position <= aggregated.n
                            then (aggregated.upper_order_value - aggregated.lower_order_value) / 3.92
                    end
            else 100 * sqrt(aggregated.share * (1 - aggregated.share) / aggregated.n)
        end as standard_error
    from grid
    left join aggregated
        on
            grid.initiative_id = aggregated.initiative_id
            and grid.metric = aggregated.metric
            and grid.side = aggregated.side
            and grid.period = aggregated.period
),

final as (
    select
        cast(initiative_id as {{ dbt.type_string() }}) as initiative_id,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(side as {{ dbt.type_string() }}) as side,
        cast(period as {{ dbt.type_string() }}) as period,
        cast(n as {{ dbt.type_bigint() }}) as n,
        cast(metric_value as {{ type_double() }}) as metric_value,
        cast(standard_error as {{ type_double() }}) as standard_error
    from estimated
)

select * from final
