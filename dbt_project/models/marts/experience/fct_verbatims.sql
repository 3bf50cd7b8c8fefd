-- The free-text answers (metric 'verbatim') with the NPS score of the same
-- response, ranked per touchpoint for reading: lowest NPS score first
-- (responses without one last), newest first, then by response and question.
-- Ranking any subset (a window of months) by verbatim_rank keeps this order,
-- so the dashboard's "worst comments of the last three months" is a filter.
with

verbatims as (
    select * from {{ ref('fct_survey_answers') }}
    where metric = 'verbatim' and value_text is not null
),

responses as (
    select * from {{ ref('fct_survey_responses') }}
),

final as (
    select
        verbatims.response_id,
        verbatims.question_id,
        verbatims.survey_id,
        verbatims.customer_id,
        verbatims.touchpoint_id,
        verbatims.submitted_at,
        verbatims.submitted_date,
        verbatims.value_text,
        responses.nps_score,
        cast(
            row_number()
                over (
                    partition by verbatims.touchpoint_id
                    order by
                        responses.nps_score asc nulls last,
                        verbatims.submitted_at desc,
                        verbatims.response_id asc,
                        verbatims.question_id asc
                )
            as {{ dbt.type_bigint() }}
        ) as verbatim_rank
    from verbatims
    left join responses
        on verbatims.response_id = responses.response_id
)

select * from final
