-- One row per web session with its touchpoint.
--
-- Incremental by session, with a watermark as fct_survey_answers: a run
-- recomputes the sessions int_sessions_aggregated wrote after the watermark
-- (new events, late events, other fx rates) and the sessions whose touchpoint
-- assignment was written after it (rules or touchpoints changed), and replaces
-- them by session_id. Sessions that no longer exist are deleted by the
-- post-hook. On Spark too (no DELETE there: macros/incremental/spark_rewrite.sql).
-- Proof: tests/test_incremental_models.py.
{{ config(
    materialized='incremental',
    incremental_strategy=replace_by_key_strategy(),
    unique_key='session_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ record_built_whole() }}",
    post_hook=[
        "{{ delete_rows_missing_from(ref('int_sessions_aggregated'), 'session_id') }}",
        "{{ record_watermark([ref('int_sessions_aggregated'), ref('int_touchpoint_assignments_resolved')]) }}",
    ],
) }}

{%- set watermark = stored_watermark() %}

with

sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
),

assignments as (
    select * from {{ ref('int_touchpoint_assignments_resolved') }}
    where subject_type = 'web_session'
),

{% if watermark %}
reassigned_sessions as (
    select subject_id as session_id
    from assignments
    where _written_at > {{ watermark }}
),

scoped_sessions as (
    select *
    from sessions
    where
        _written_at > {{ watermark }}
        or session_id in (select reassigned_sessions.session_id from reassigned_sessions)
),
{% else %}
scoped_sessions as (
    select * from sessions
),
{% endif %}

final as (
    select
        scoped_sessions.session_id,
        scoped_sessions.session_id_origin,
        scoped_sessions.anonymous_id,
        scoped_sessions.customer_id,
        coalesce(assignments.touchpoint_id, 'unknown') as touchpoint_id,
        coalesce(assignments.assignment_method, 'unknown') as touchpoint_assignment_method,
        assignments.matched_rule_id,
        scoped_sessions.started_at,
        cast(scoped_sessions.started_at as date) as started_date,
        scoped_sessions.ended_at,
        scoped_sessions.landing_page_path,
        scoped_sessions.event_count,
        scoped_sessions.page_view_count,
        scoped_sessions.has_add_to_cart,
        scoped_sessions.has_purchase,
        scoped_sessions.is_bounce,
        scoped_sessions.is_cart_abandoned,
        scoped_sessions.revenue_reporting
    from scoped_sessions
    left join assignments
        on scoped_sessions.session_id = assignments.subject_id
)

select * from final
