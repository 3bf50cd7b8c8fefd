-- NPS rows carry an interval around the value; no other metric has one.
select *
from {{ ref('kpi_monthly') }}
where
    (metric = 'nps' and not (ci_low <= value and value <= ci_high))
    or (metric <> 'nps' and (ci_low is not null or ci_high is not null))
