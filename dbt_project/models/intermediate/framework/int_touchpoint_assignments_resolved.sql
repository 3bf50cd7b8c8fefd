-- The touchpoint (and through it the job and journey) of every ticket, web
-- session and survey response. An explicit touchpoint_id the framework
-- knows wins; otherwise the first touchpoint_rule that matches (source
-- tickets: category, source web: the session's landing page_path; SQL LIKE)
-- by priority (nulls last), then rule_id; otherwise `unknown`. Nothing is
-- dropped.
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

subjects as (
    select
        'ticket' as subject_type,
        ticket_id as subject_id,
        touchpoint_id as explicit_touchpoint_id,
        'tickets' as rule_source,
        'category' as match_column,
        category as match_value
    from tickets
    union all
    select
        'web_session' as subject_type,
        session_id as subject_id,
        cast(null as {{ dbt.type_string() }}) as explicit_touchpoint_id,
        'web' as rule_source,
        'page_path' as match_column,
        landing_page_path as match_value
    from sessions
    union all
    select
        'survey_response' as subject_type,
        response_id as subject_id,
        touchpoint_id as explicit_touchpoint_id,
        cast(null as {{ dbt.type_string() }}) as rule_source,
        cast(null as {{ dbt.type_string() }}) as match_column,
        cast(null as {{ dbt.type_string() }}) as match_value
    from responses
),

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
        end as matched_rule_id
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
        resolved.explicit_touchpoint_id
    from resolved
    inner join touchpoints
        on resolved.touchpoint_id = touchpoints.touchpoint_id
)

select * from final
