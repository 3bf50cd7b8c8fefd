"""The financial link: churn and revenue by the customer's latest NPS category.

Unit: the customer-month. A customer active at a month's start belongs, for
that month, to the category of their latest NPS answer submitted before the
month started (`no_answer` without one), so the category is known before the
churn it is compared with. Monthly rates pool every such customer-month from
the first month in which any NPS answer could be known. The pooling is SQL
(int_nps_categories_aggregated); the rates and values are computed here.

Value of moving one detractor: a detractor who became a promoter keeps their
MRR (the detractors' average) and takes on the promoters' churn. Over the next
12 months a customer active now pays MRR at the start of each month they are
still active, so expected months paid = sum_{k=0}^{11} (1 - m)^k with m the
monthly churn rate; the value is MRR_detractor x (months_promoter -
months_detractor).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cx_insights.insights.stats import is_low_sample

CATEGORIES = ("promoter", "passive", "detractor", "no_answer")
HORIZON_MONTHS = 12

#: Columns of the per-category sums nps_financial_link() reads (one row per category;
#: the SQL model int_nps_categories_aggregated computes them).
AGGREGATE_COLUMNS = (
    "nps_category",
    "first_month_start_date",
    "last_month_start_date",
    "customers",  # distinct customers with a customer-month in the category
    "customer_months",  # active at the month start, in the category then
    "churned_customer_months",  # of those, not active at the next month start
    "mrr_start_total",  # MRR at the month start over the customer-months
    "churned_mrr_start_total",  # the same over the churned ones
    "revenue_total",  # paid invoices over the customer-months
    "current_customers",  # active at the end of the data, latest category then
    "current_mrr",  # their MRR then
)

OUTPUT_COLUMNS = (
    "nps_category",
    "first_month_start_date",
    "last_month_start_date",
    "customers",
    "customer_months",
    "churned_customer_months",
    "monthly_churn_rate",
    "annual_churn_rate",
    "revenue_churn_rate",
    "average_mrr",
    "revenue_per_customer_month",
    "expected_months_paid_12m",
    "expected_revenue_12m",
    "value_of_moving_one_detractor_here",
    "current_customers",
    "current_mrr",
    "n",
    "is_low_sample",
)


def expected_months_paid(monthly_churn: float, horizon: int = HORIZON_MONTHS) -> float:
    """Months paid over `horizon` months by a customer active now: sum_{k<horizon} (1-m)^k."""
    if pd.isna(monthly_churn):
        return float("nan")
    retention = 1.0 - monthly_churn
    return float(sum(retention**k for k in range(horizon)))


def annual_churn(monthly_churn: float) -> float:
    """Share of customers active now who are gone 12 months later at a constant monthly rate."""
    if pd.isna(monthly_churn):
        return float("nan")
    return float(1.0 - (1.0 - monthly_churn) ** HORIZON_MONTHS)


def value_of_moving_one_detractor(
    detractor_mrr: float, detractor_churn: float, target_churn: float
) -> float:
    """12-month revenue won by giving one detractor (who keeps their MRR) the target
    category's monthly churn instead of the detractors'."""
    return float(
        detractor_mrr * (expected_months_paid(target_churn) - expected_months_paid(detractor_churn))
    )


def _ratio(numerator: float, denominator: float) -> float:
    if pd.isna(numerator) or pd.isna(denominator) or not denominator:
        return float("nan")
    return float(numerator) / float(denominator)


def _count(value: object) -> int:
    return 0 if pd.isna(value) else int(value)


def nps_financial_link(aggregates: pd.DataFrame) -> pd.DataFrame:
    """One row per NPS category from its sums (AGGREGATE_COLUMNS); see the module docstring."""
    by = aggregates.set_index("nps_category").reindex(list(CATEGORIES))
    rows = []
    for category, agg in by.iterrows():
        months = _count(agg["customer_months"])
        customers = _count(agg["customers"])
        monthly = _ratio(agg["churned_customer_months"], months)
        average_mrr = _ratio(agg["mrr_start_total"], months)
        rows.append(
            {
                "nps_category": category,
                "first_month_start_date": agg["first_month_start_date"],
                "last_month_start_date": agg["last_month_start_date"],
                "customers": customers,
                "customer_months": months,
                "churned_customer_months": _count(agg["churned_customer_months"]),
                "monthly_churn_rate": 100 * monthly,
                "annual_churn_rate": 100 * annual_churn(monthly),
                "revenue_churn_rate": 100
                * _ratio(agg["churned_mrr_start_total"], agg["mrr_start_total"]),
                "average_mrr": average_mrr,
                "revenue_per_customer_month": _ratio(agg["revenue_total"], months),
                "expected_months_paid_12m": expected_months_paid(monthly),
                "expected_revenue_12m": average_mrr * expected_months_paid(monthly),
                "current_customers": _count(agg["current_customers"]),
                "current_mrr": 0.0 if pd.isna(agg["current_mrr"]) else float(agg["current_mrr"]),
                "n": customers,
                "is_low_sample": is_low_sample(customers),
                "_monthly": monthly,
            }
        )
    result = pd.DataFrame(rows)
    detractor = result.set_index("nps_category").loc["detractor"]
    result["value_of_moving_one_detractor_here"] = [
        np.nan
        if row["nps_category"] == "no_answer"
        else value_of_moving_one_detractor(
            detractor["average_mrr"], detractor["_monthly"], row["_monthly"]
        )
        for _, row in result.iterrows()
    ]
    return result[list(OUTPUT_COLUMNS)]


def detractor_to_promoter_value(link: pd.DataFrame) -> float:
    """The headline: 12-month revenue of moving one detractor to promoter."""
    row = link.loc[link["nps_category"] == "promoter", "value_of_moving_one_detractor_here"]
    return float(row.iloc[0]) if len(row) else float("nan")
