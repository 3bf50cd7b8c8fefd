"""The maths behind the insight marts (driver importance, the financial link, churn
risk, initiative impact): pure functions on pandas frames, called by the dbt Python
models in dbt_project/models/intermediate/insights/ and pinned by tests/test_insights.py."""
