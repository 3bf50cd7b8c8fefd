-- Every web event with the session it belongs to. Events that carry a
-- session_id are grouped by it. The others are sessionised per anonymous_id
-- in (occurred_at, event_id) order: an event MORE than
-- var('session_timeout_minutes') (30) after the previous one starts a new
-- session (exactly 30 minutes stays in the same session). A sessionised
-- session's id is deterministic: 'anon:' || anonymous_id || ':' || the
-- event_id of its first event. A given session_id that starts with 'anon:'
-- or 'src:' is stored as 'src:' || session_id, so that no tracker's id can
-- equal a derived one (a tracker id 'anon:a1:e1' would otherwise merge with
-- a1's derived session); every other given id is kept as it is.
--
-- Incremental. A "group" is what one event's session depends on: its given
-- session_id, or (no session_id) its anonymous_id's unsessioned events. An
-- incremental run takes the events gated after the latest `_gated_at` stored
-- here (new events and new versions of events), the groups they are in now
-- and, from the stored rows, the groups they were in (an updated event can
-- move), and recomputes the events of those groups from stg_web__events: a
-- late, out-of-order event changes the session boundaries and first event ids
-- of its group. A given session is recomputed whole; an anonymous id from the
-- first event of its latest stored session that started before the group's
-- earliest change (the earlier sessions end more than the timeout before it,
-- out of any change's reach), so a daily drop rewrites a returning visitor's
-- last session and new events, not the whole history (at 1 M customers 0.2 M
-- events rewritten instead of 1.8 M). The result replaces the stored rows by
-- event_id (delete+insert on DuckDB: the recomputed events of a group are a
-- set of keys to rewrite, which delete+insert does with two set statements;
-- merge where there is no delete+insert, see replace_by_key_strategy). Every
-- event of a touched group from its recompute point on is in the result,
-- including an event that moved out of it (it is in its new group), so no
-- stale row of those groups stays; every session is rewritten whole or not at
-- all. Every row written by a run carries that run's start (`_sessionised_at`):
-- the rewritten rows keep their old `_gated_at`, and int_sessions_aggregated
-- finds the sessions to recompute by this marker.
-- Cost at 1 M customers (50 M events): 9.3 s after a daily drop of 116 k
-- events (dbt alone), vs 256 s for a full build. A complete re-gate gives every
-- row a new `_gated_at`: the run recomputes every group and rewrites every
-- row (~1.3x a full build). Events that disappear upstream (only a complete
-- re-gate drops rows) are deleted by the post-hook (two count(*) per run; an
-- anti-join only when the counts differ). A column documented in the yml
-- but missing from the stored table (e.g. `_gated_at` on a table built
-- before this version) makes the run recompute every row; any other change
-- of the logic (e.g. var session_timeout_minutes) needs
-- `dbt build --full-refresh --select int_events_sessionised`.
-- On Spark the same: Parquet tables have no DELETE or MERGE, so the
-- replacement writes the table again without the replaced events
-- (macros/incremental/spark_rewrite.sql); only the touched groups are
-- sessionised.
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key='event_id',
    on_schema_change='sync_all_columns',
    pre_hook="{{ duckdb_joins_build_as_written() }}",
    post_hook=[
        "{{ duckdb_joins_build_as_written(false) }}",
        "{{ delete_rows_missing_from(ref('stg_web__events'), 'event_id') }}",
    ],
) }}

{#- Stored rows that lack a documented column (older version) are recomputed whole. -#}
{%- set incremental_run = is_incremental() and relation_has_columns(this, model.columns.keys() | list) %}

with

{#- stg_web__events is read where it is needed, not through one CTE: DuckDB
    materialises a CTE read twice (at 1 M customers the 50 M events copied,
    about 25 s of a daily drop's run). #}
{% if incremental_run %}
watermark as (
    select max(_gated_at) as max_gated_at from {{ this }}
),

new_events as (
    select
        events.event_id,
        events.anonymous_id,
        events.source_session_id,
        events.occurred_at
    from {{ ref('stg_web__events') }} as events
    cross join watermark
    where
        watermark.max_gated_at is null
        or events._gated_at > watermark.max_gated_at
),

-- A group: (true, session_id) for a given session, (false, anonymous_id) for
-- the unsessioned events of an anonymous_id. The groups the new events are
-- in, and the groups the stored versions of the updated ones were in, each
-- with where the change is: the new event's occurred_at, or the stored one.
group_candidates as (
    select
        source_session_id is not null as is_given_session,
        coalesce(source_session_id, anonymous_id) as group_id,
        occurred_at
    from new_events
    union all
    select
        stored.session_id_origin = 'source' as is_given_session,
        case
            when stored.session_id_origin = 'source' and left(stored.session_id, 4) = 'src:'
                then substring(stored.session_id, 5)
            when stored.session_id_origin = 'source' then stored.session_id
            else stored.anonymous_id
        end as group_id,
        stored.occurred_at
    from {{ this }} as stored
    inner join new_events
        on stored.event_id = new_events.event_id
),

touched_groups as (
    select
        is_given_session,
        group_id,
        min(occurred_at) as earliest_change
    from group_candidates
    group by is_given_session, group_id
),

-- Where an anonymous id's recomputation starts: the first event of its latest
-- stored session that started before the earliest change. The events before
-- it belong to earlier sessions, whose last event is more than the timeout
-- before it: nothing at or after the earliest change can reach them, so they
-- keep their stored rows (a daily drop then rewrites an anonymous id's last
-- session and its new events, not its whole history). No stored session
-- before the change: every event of the anonymous id. A given session is
-- always recomputed whole (its numbering starts at its first event).
recompute_from as (
    select
        touched_groups.is_given_session,
        touched_groups.group_id,
        max(stored.occurred_at) as recompute_from
    from {{ this }} as stored
    inner join touched_groups
        on
            stored.anonymous_id = touched_groups.group_id
            and stored.occurred_at < touched_groups.earliest_change
    where
        not touched_groups.is_given_session
        and stored.session_id_origin = 'sessionised'
        and stored.event_number_in_session = 1
    group by touched_groups.is_given_session, touched_groups.group_id
),

scoped_events as (
    select events.*
    from {{ ref('stg_web__events') }} as events
    inner join touched_groups
        on
            (events.source_session_id is not null) = touched_groups.is_given_session
            and coalesce(events.source_session_id, events.anonymous_id) = touched_groups.group_id
    left join recompute_from
        on
            touched_groups.is_given_session = recompute_from.is_given_session
            and touched_groups.group_id = recompute_from.group_id
    where
        recompute_from.recompute_from is null
        or events.occurred_at >= recompute_from.recompute_from
),
{% else %}
scoped_events as (
    select * from {{ ref('stg_web__events') }}
),
{% endif %}

-- Two sorts of the unsessioned events by (anonymous_id, occurred_at,
-- event_id) and one of the given sessions' events, every column carried
-- along: no join back to the events (at 50 M events the earlier four sorts and
-- a join took 245 s; see the README's performance section).
unsessioned_events as (
    select
        *,
        lag(occurred_at) over anonymous_order as previous_occurred_at,
        row_number() over anonymous_order as event_number_of_anonymous_id
    from scoped_events
    where source_session_id is null
    window anonymous_order as (
        partition by anonymous_id
        order by occurred_at asc, event_id asc
    )
),

session_starts_flagged as (
    select
        *,
        coalesce(
            previous_occurred_at is null
            or occurred_at
            > {{ dbt.dateadd('minute', var('session_timeout_minutes'), 'previous_occurred_at') }},
            false
        ) as is_session_start
    from unsessioned_events
),

-- Session starts counted so far number each event's session within its
-- anonymous id; the session's first event is its start. (A running count
-- instead of LAST_VALUE ... IGNORE NULLS, which PostgreSQL does not have.)
sessions_numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by anonymous_id
            order by occurred_at asc, event_id asc
            rows between unbounded preceding and current row
        ) as session_number_of_anonymous_id
    from session_starts_flagged
),

derived_sessions as (
    select
        *,
        first_value(event_id) over session_order as first_event_id,
        min(event_number_of_anonymous_id) over session_order as first_event_number
    from sessions_numbered
    window session_order as (
        partition by anonymous_id, session_number_of_anonymous_id
        order by occurred_at asc, event_id asc
        rows between unbounded preceding and current row
    )
),

{#- The event's own columns, carried unchanged by both kinds of session. -#}
{%- set event_attributes = [
    'anonymous_id', 'customer_id', 'occurred_at', 'event_name',
    'page_path', 'revenue', 'currency', '_gated_at',
] %}

final as (
    select
        event_id,
        {{ dbt.concat(["'anon:'", "anonymous_id", "':'", "first_event_id"]) }} as session_id,
        'sessionised' as session_id_origin,
        event_number_of_anonymous_id - first_event_number + 1 as event_number_in_session,
        {{ event_attributes | join(', ') }},
        {{ run_marker() }} as _sessionised_at
    from derived_sessions
    union all
    select
        event_id,
        case
            when left(source_session_id, 5) = 'anon:' or left(source_session_id, 4) = 'src:'
                then {{ dbt.concat(["'src:'", "source_session_id"]) }}
            else source_session_id
        end as session_id,
        'source' as session_id_origin,
        row_number() over (
            partition by source_session_id
            order by occurred_at asc, event_id asc
        ) as event_number_in_session,
        {{ event_attributes | join(', ') }},
        {{ run_marker() }} as _sessionised_at
    from scoped_events
    where source_session_id is not null
)

select * from final
