-- Every web event with the session it belongs to. Events that carry a
-- session_id are grouped by it. The others are sessionised per anonymous_id
-- in (occurred_at, event_id) order: an event MORE than
-- var('session_timeout_minutes') (30) after the previous one starts a new
-- session (exactly 30 minutes stays in the same session). A sessionised
-- session's id is deterministic: 'anon:' || anonymous_id || ':' || the
-- event_id of its first event.
with

events as (
    select * from {{ ref('stg_web__events') }}
),

unsessioned_events as (
    select
        event_id,
        anonymous_id,
        occurred_at,
        lag(occurred_at) over (
            partition by anonymous_id
            order by occurred_at asc, event_id asc
        ) as previous_occurred_at
    from events
    where source_session_id is null
),

session_starts_flagged as (
    select
        event_id,
        anonymous_id,
        occurred_at,
        case
            when previous_occurred_at is null then 1
            when
                occurred_at
                > {{ dbt.dateadd('minute', var('session_timeout_minutes'), 'previous_occurred_at') }}
                then 1
            else 0
        end as is_session_start
    from unsessioned_events
),

sessions_numbered as (
    select
        event_id,
        anonymous_id,
        occurred_at,
        sum(is_session_start) over (
            partition by anonymous_id
            order by occurred_at asc, event_id asc
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts_flagged
),

derived_sessions as (
    select
        event_id,
        {{ dbt.concat([
            "'anon:'",
            "anonymous_id",
            "':'",
            "first_value(event_id) over (
            partition by anonymous_id, session_number
            order by occurred_at asc, event_id asc
            rows between unbounded preceding and current row
        )",
        ]) }} as session_id,
        'sessionised' as session_id_origin
    from sessions_numbered
),

given_sessions as (
    select
        event_id,
        source_session_id as session_id,
        'source' as session_id_origin
    from events
    where source_session_id is not null
),

assigned_sessions as (
    select * from derived_sessions
    union all
    select * from given_sessions
),

final as (
    select
        events.event_id,
        assigned_sessions.session_id,
        assigned_sessions.session_id_origin,
        row_number() over (
            partition by assigned_sessions.session_id
            order by events.occurred_at asc, events.event_id asc
        ) as event_number_in_session,
        events.anonymous_id,
        events.customer_id,
        events.occurred_at,
        events.event_name,
        events.page_path,
        events.revenue,
        events.currency
    from events
    inner join assigned_sessions
        on events.event_id = assigned_sessions.event_id
)

select * from final
