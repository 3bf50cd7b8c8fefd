-- The touchpoint (and through it the job and journey) of every ticket, web
-- session and survey response. An explicit touchpoint_id the framework
-- knows wins; otherwise the first touchpoint_rule that matches (source
-- tickets: category, source web: the session's landing page_path; SQL LIKE)
-- by priority (nulls last), then rule_id; otherwise `unknown`. Nothing is
-- dropped.
--
-- Incremental by subject. Each row keeps the marker of the subject version it
-- was resolved from (`_subject_marker`: a ticket's or response's `_gated_at`,
-- a session's `_sessionised_at`): a run resolves the subjects with a marker
-- after the latest one stored for their type (new and updated tickets and
-- responses, recomputed sessions) and replaces them by (subject_type,
-- subject_id). Subjects gone upstream (a session that no longer exists, rows a
-- complete re-gate dropped) are deleted by the post-hook (counts first, the
-- anti-join only when they differ). Other rules or touchpoints (their MD5 is
-- stored in every row) re-resolve every subject. On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key=['subject_type', 'subject_id'],
    on_schema_change='sync_all_columns',
    post_hook="{{ delete_assignments_of_missing_subjects() }}",
) }}

{#- Stored rows that lack a documented column (older version) are resolved again. -#}
{%- set incremental_run = is_incremental() and relation_has_columns(this, model.columns.keys() | list) %}

with

tickets as (
    select * from {{ ref('stg_tickets__tickets') }}
),

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

responses as (
    select * from {{ ref('stg_feedback__responses') }}
),

rules as (
    select * from {{ ref('stg_framework__touchpoint_rules') }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_flattened') }}
),

known_touchpoints as (
    select * from touchpoints
    where not is_unknown_member
),

all_subjects as (
    select
        'ticket' as subject_type,
        ticket_id as subject_id,
        touchpoint_id as explicit_touchpoint_id,
        'tickets' as rule_source,
        'category' as match_column,
        category as match_value,
        _gated_at as _subject_marker
    from tickets
    union all
    select
        'web_session' as subject_type,
        session_id as subject_id,
        cast(null as {{ dbt.type_string() }}) as explicit_touchpoint_id,
        'web' as rule_source,
        'page_path' as match_column,
        landing_page_path as match_value,
        _sessionised_at as _subject_marker
    from sessions
    union all
    select
        'survey_response' as subject_type,
        response_id as subject_id,
        touchpoint_id as explicit_touchpoint_id,
        cast(null as {{ dbt.type_string() }}) as rule_source,
        cast(null as {{ dbt.type_string() }}) as match_column,
        cast(null as {{ dbt.type_string() }}) as match_value,
        _gated_at as _subject_marker
    from responses
),

framework_digest as (
    select
        {{ dbt.concat([
            "(select " ~ rows_digest(['rule_id', 'rule_source', 'match_column', 'pattern', 'touchpoint_id', 'priority']) ~ " from rules)",
            "(select " ~ rows_digest(['touchpoint_id', 'job_id', 'journey_id', 'is_unknown_member']) ~ " from touchpoints)",
        ]) }} as digest
),

{% if incremental_run %}
stored_state as (
    select
        max(case when subject_type = 'ticket' then _subject_marker end) as ticket_marker,
        max(case when subject_type = 'web_session' then _subject_marker end) as session_marker,
        max(case when subject_type = 'survey_response' then _subject_marker end) as response_marker,
        max(_framework_digest) as framework_digest
    from {{ this }}
),

subjects as (
    select all_subjects.*
    from all_subjects
    cross join stored_state
    cross join framework_digest
    where
        stored_state.framework_digest is null
        or stored_state.framework_digest <> framework_digest.digest
        or (all_subjects.subject_type = 'ticket' and (
            stored_state.ticket_marker is null or all_subjects._subject_marker > stored_state.ticket_marker
        ))
        or (all_subjects.subject_type = 'web_session' and (
            stored_state.session_marker is null or all_subjects._subject_marker > stored_state.session_marker
        ))
        or (all_subjects.subject_type = 'survey_response' and (
            stored_state.response_marker is null or all_subjects._subject_marker > stored_state.response_marker
        ))
),
{% else %}
subjects as (
    select * from all_subjects
),
{% endif %}

applicable_rules as (
    select rules.*
    from rules
    inner join known_touchpoints
        on rules.touchpoint_id = known_touchpoints.touchpoint_id
),

rule_matches as (
    select
        subjects.subject_type,
        subjects.subject_id,
        applicable_rules.rule_id,
        applicable_rules.touchpoint_id,
        row_number() over (
            partition by subjects.subject_type, subjects.subject_id
            order by applicable_rules.priority asc nulls last, applicable_rules.rule_id asc
        ) as match_rank
    from subjects
    inner join applicable_rules
        on
            subjects.rule_source = applicable_rules.rule_source
            and subjects.match_column = applicable_rules.match_column
            and subjects.match_value like applicable_rules.pattern
),

first_matches as (
    select * from rule_matches
    where match_rank = 1
),

resolved as (
    select
        subjects.subject_type,
        subjects.subject_id,
        subjects.explicit_touchpoint_id,
        case
            when explicit_touchpoints.touchpoint_id is not null then explicit_touchpoints.touchpoint_id
            when first_matches.touchpoint_id is not null then first_matches.touchpoint_id
            else 'unknown'
        end as touchpoint_id,
        case
            when explicit_touchpoints.touchpoint_id is not null then 'explicit'
            when first_matches.touchpoint_id is not null then 'rule'
            else 'unknown'
        end as assignment_method,
        case
            when explicit_touchpoints.touchpoint_id is null then first_matches.rule_id
        end as matched_rule_id,
        subjects._subject_marker
    from subjects
    left join known_touchpoints as explicit_touchpoints
        on subjects.explicit_touchpoint_id = explicit_touchpoints.touchpoint_id
    left join first_matches
        on
            subjects.subject_type = first_matches.subject_type
            and subjects.subject_id = first_matches.subject_id
),

final as (
    select
        resolved.subject_type,
        resolved.subject_id,
        resolved.touchpoint_id,
        touchpoints.job_id,
        touchpoints.journey_id,
        resolved.assignment_method,
        resolved.matched_rule_id,
        resolved.explicit_touchpoint_id,
        resolved._subject_marker,
        framework_digest.digest as _framework_digest,
        {{ run_marker() }} as _written_at
    from resolved
    inner join touchpoints
        on resolved.touchpoint_id = touchpoints.touchpoint_id
    cross join framework_digest
)

select * from final
