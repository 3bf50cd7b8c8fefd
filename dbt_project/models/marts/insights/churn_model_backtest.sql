-- The churn model's backtest (one row): fitted on the snapshots whose outcome
-- was known at T (the latest month start whose 3-month outcome lies inside
-- the data), scored on the customers active at T, AUC with its 95 % interval
-- for churn within the same 3 months, against a simple baseline rule.
-- Computed in the Python model int_churn_models_backtested; this model fixes
-- the contract (select_as_contract: the columns and types of its yml).
{{ select_as_contract(computed('int_churn_models_backtested')) }}
