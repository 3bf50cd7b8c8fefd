-- Churn and revenue by the customer's latest NPS category, and the 12-month
-- value of moving one detractor (within segment, MRR-weighted churn,
-- bootstrap interval): one row per category. Computed in the Python
-- model int_nps_financial_links_computed; this model fixes
-- the contract (select_as_contract: the columns and types of its yml).
{{ select_as_contract(computed('int_nps_financial_links_computed'), expressions={
    'is_value_low_sample': 'value_n < ' ~ var('low_sample_n'),
    'currency': reporting_currency()
}) }}
