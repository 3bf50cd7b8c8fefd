-- Each verbatim topic's NPS impact: NPS (kpis.md) of the responses whose verbatim
-- is in the topic against those whose verbatim was topic-modelled but is not,
-- the difference with its 95 % interval (the two NPS intervals' standard errors
-- combined), and the topic's share of detractors' and promoters' verbatims
-- ("what detractors talk about"). A response counts once per topic.
with

topics as (
    select * from {{ ref('fct_verbatim_topics') }}
),

modelled as (
    -- Responses with an NPS answer whose verbatim the topic model saw.
    select distinct
        response_id,
        nps_score
    from topics
    where nps_score is not null and language in ('en', 'unknown')
),

labels as (
    select distinct
        topic_id,
        topic_label
    from topics
    where topic_id is not null
),

membership as (
    select distinct
        labels.topic_id,
        modelled.response_id,
        modelled.nps_score,
        topics.response_id is not null as is_in_topic
    from labels
    cross join modelled
    left join topics
        on
            labels.topic_id = topics.topic_id
            and modelled.response_id = topics.response_id
),

counted as (
    select
        topic_id,
        is_in_topic,
        count(*) as n,
        count(case when nps_score >= 9 then 1 end) as promoters,
        count(case when nps_score <= 6 then 1 end) as detractors
    from membership
    group by topic_id, is_in_topic
),

totals as (
    select
        count(case when nps_score >= 9 then 1 end) as all_promoters,
        count(case when nps_score <= 6 then 1 end) as all_detractors
    from modelled
),

paired as (
    select
        labels.topic_id,
        labels.topic_label,
        coalesce(inside.n, 0) as n_with,
        coalesce(inside.promoters, 0) as promoters_with,
        coalesce(inside.detractors, 0) as detractors_with,
        coalesce(outside.n, 0) as n_without,
        coalesce(outside.promoters, 0) as promoters_without,
        coalesce(outside.detractors, 0) as detractors_without
    from labels
    left join counted as inside
        on labels.topic_id = inside.topic_id and inside.is_in_topic
    left join counted as outside
        on labels.topic_id = outside.topic_id and not outside.is_in_topic
),

shares as (
    select
        paired.*,
        cast(paired.promoters_with as {{ type_double() }})
        / nullif(paired.n_with, 0) as promoter_share_with,
        cast(paired.detractors_with as {{ type_double() }})
        / nullif(paired.n_with, 0) as detractor_share_with,
        cast(paired.promoters_without as {{ type_double() }})
        / nullif(paired.n_without, 0) as promoter_share_without,
        cast(paired.detractors_without as {{ type_double() }})
        / nullif(paired.n_without, 0) as detractor_share_without,
        {{ percentage('paired.detractors_with', 'totals.all_detractors') }}
            as share_of_detractor_verbatims,
        {{ percentage('paired.promoters_with', 'totals.all_promoters') }}
            as share_of_promoter_verbatims
    from paired
    cross join totals
),

rated as (
    select
        *,
        {{ percentage('promoters_with - detractors_with', 'n_with') }} as nps_with,
        {{ percentage('promoters_without - detractors_without', 'n_without') }} as nps_without,
        {{ nps_standard_error('promoter_share_with', 'detractor_share_with', 'n_with') }} as se_with,
        {{ nps_standard_error('promoter_share_without', 'detractor_share_without', 'n_without') }}
            as se_without
    from shares
),

final as (
    select
        topic_id,
        topic_label,
        n_with,
        n_without,
        nps_with,
        nps_without,
        nps_with - nps_without as nps_difference,
        nps_with - nps_without - 1.96 * sqrt(se_with * se_with + se_without * se_without)
            as nps_difference_ci_low,
        nps_with - nps_without + 1.96 * sqrt(se_with * se_with + se_without * se_without)
            as nps_difference_ci_high,
        coalesce(
            abs(nps_with - nps_without)
            > 1.96 * sqrt(se_with * se_with + se_without * se_without),
            false
        ) as is_significant,
        share_of_detractor_verbatims,
        share_of_promoter_verbatims,
        n_with < {{ var('low_sample_n') }} as is_low_sample
    from rated
)

select * from final
