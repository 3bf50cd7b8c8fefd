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

Pooled over segments that value mixes them (enterprise MRR with consumer
churn), and a churn rate that counts customers gives a small customer's exit
the weight of a large one's. So the headline value is computed within each
segment (the customer's current segment), with MRR-weighted monthly churn
(churned MRR / MRR at the month starts), and averaged with the segments'
shares of detractor customer-months as weights. Its 95 % interval is a
percentile bootstrap that resamples customers within each segment (a
customer's months are not independent), BOOTSTRAP_REPLICATES times from a
fixed seed, so a rebuild gives the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cx_insights.insights.stats import is_low_sample

CATEGORIES = ("promoter", "passive", "detractor", "no_answer")
HORIZON_MONTHS = 12
#: B, the bootstrap replicates of the value's interval, and the fixed seed.
BOOTSTRAP_REPLICATES = 1000
BOOTSTRAP_SEED = 20261203
#: Most replicate x customer weights held in memory at once.
BOOTSTRAP_CHUNK_CELLS = 4_000_000

#: Per (segment, customer, category) sums the segment-weighted value is bootstrapped
#: on (the SQL model int_nps_customer_categories_aggregated).
CUSTOMER_COLUMNS = (
    "segment",
    "customer_id",
    "nps_category",
    "customer_months",
    "churned_customer_months",
    "mrr_start_total",
    "churned_mrr_start_total",
)

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
    "value_ci_low",
    "value_ci_high",
    "value_n",
    "is_value_significant",
    "value_segments",
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


@dataclass(frozen=True)
class ValueEstimate:
    """The segment-weighted 12-month value of moving one detractor into a category."""

    value: float
    ci_low: float
    ci_high: float
    #: The smaller arm: customers with detractor months, or with months in the category,
    #: over the segments the value is computed for.
    n: int
    #: The segments with both arms, comma separated.
    segments: str

    @property
    def is_significant(self) -> bool | None:
        if pd.isna(self.ci_low) or pd.isna(self.ci_high):
            return None
        return bool(self.ci_low > 0 or self.ci_high < 0)

    @property
    def is_reliable(self) -> bool:
        """Positive, significant and on at least LOW_SAMPLE_N customers per arm: a value
        a revenue effect may be built on."""
        return bool(
            not pd.isna(self.value)
            and self.value > 0
            and self.is_significant
            and not is_low_sample(self.n)
        )


_NO_VALUE = ValueEstimate(float("nan"), float("nan"), float("nan"), 0, "")

#: Sum columns per arm, in the order of the matrices below.
_SUMS = ("customer_months", "mrr_start_total", "churned_mrr_start_total")


def _segment_values(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment (rows), the value and the weight (detractor customer-months) from
    the sums [detractor months, MRR, churned MRR, target months, MRR, churned MRR]
    (last axis; any leading axes are replicates)."""
    d_months, d_mrr, d_churned = sums[..., 0], sums[..., 1], sums[..., 2]
    t_mrr, t_churned = sums[..., 4], sums[..., 5]
    with np.errstate(invalid="ignore", divide="ignore"):
        average_mrr = d_mrr / d_months
        d_churn = d_churned / d_mrr
        t_churn = t_churned / t_mrr
    months = [
        np.power(1 - m[..., None], np.arange(HORIZON_MONTHS)).sum(-1) for m in (d_churn, t_churn)
    ]
    value = average_mrr * (months[1] - months[0])
    weight = np.where(np.isnan(value), 0.0, d_months)
    return value, weight


def _weighted(value: np.ndarray, weight: np.ndarray) -> np.ndarray:
    total = weight.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(value * weight, -1) / total, np.nan)


def resample_counts(rng: np.random.Generator, size: int, replicates: int) -> np.ndarray:
    """How often each of `size` customers is drawn in each of `replicates` bootstrap
    resamples (each `size` draws with replacement, equally likely): the multinomial
    counts, as a bincount of uniform draws. (`rng.multinomial` gives the same
    distribution about 3x slower: it draws one binomial per customer and replicate,
    6.6 s of the value's interval at 100 k customers.)"""
    draws = rng.integers(0, size, (replicates, size))
    draws += np.arange(replicates)[:, None] * size
    return np.bincount(draws.ravel(), minlength=replicates * size).reshape(replicates, size)


def segment_weighted_value(
    customers: pd.DataFrame,
    target: str = "promoter",
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = BOOTSTRAP_SEED,
) -> ValueEstimate:
    """12-month value of moving one detractor into `target`, within segment (detractor
    MRR, MRR-weighted monthly churn of each), weighted by the segments' detractor
    customer-months; percentile bootstrap interval resampling customers within
    segment. customers: CUSTOMER_COLUMNS."""
    if customers.empty:
        return _NO_VALUE
    arms = customers[customers["nps_category"].isin(["detractor", target])]
    wide = arms.pivot_table(
        index=["segment", "customer_id"],
        columns="nps_category",
        values=list(_SUMS),
        aggfunc="sum",
        fill_value=0.0,
    )
    columns = [(c, arm) for arm in ("detractor", target) for c in _SUMS]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(columns), fill_value=0.0).sort_index()
    segments = sorted(wide.index.get_level_values("segment").unique())
    matrices = [wide.xs(seg, level="segment").to_numpy(float) for seg in segments]
    point_sums = np.stack([m.sum(0) for m in matrices])
    value_s, weight_s = _segment_values(point_sums)
    value = float(_weighted(value_s, weight_s))
    if np.isnan(value):
        return _NO_VALUE
    used = [i for i in range(len(segments)) if weight_s[i] > 0]
    n = min(
        int(sum((matrices[i][:, 0] > 0).sum() for i in used)),
        int(sum((matrices[i][:, 3] > 0).sum() for i in used)),
    )
    rng = np.random.default_rng(seed)
    boot = np.empty((replicates, len(segments), 6))
    for i, matrix in enumerate(matrices):
        size = len(matrix)
        step = max(1, BOOTSTRAP_CHUNK_CELLS // max(size, 1))
        for start in range(0, replicates, step):
            count = min(step, replicates - start)
            boot[start : start + count, i] = resample_counts(rng, size, count) @ matrix
    values = _weighted(*_segment_values(boot))
    low, high = (
        np.nanpercentile(values, [2.5, 97.5]) if np.isfinite(values).any() else (np.nan,) * 2
    )
    return ValueEstimate(value, float(low), float(high), n, ",".join(segments[i] for i in used))


def nps_financial_link(
    aggregates: pd.DataFrame, customer_sums: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per NPS category from its sums (AGGREGATE_COLUMNS) and, for the values of
    moving a detractor, the per-customer sums (CUSTOMER_COLUMNS); see the module
    docstring. Without `customer_sums` the values are null."""
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
    estimates = {
        category: (
            segment_weighted_value(customer_sums, category)
            if customer_sums is not None and category in ("promoter", "passive")
            else _NO_VALUE
        )
        for category in CATEGORIES
    }
    if customer_sums is not None and not customer_sums.empty:
        estimates["detractor"] = ValueEstimate(0.0, float("nan"), float("nan"), 0, "")
    result["value_of_moving_one_detractor_here"] = [estimates[c].value for c in CATEGORIES]
    result["value_ci_low"] = [estimates[c].ci_low for c in CATEGORIES]
    result["value_ci_high"] = [estimates[c].ci_high for c in CATEGORIES]
    result["value_n"] = [estimates[c].n for c in CATEGORIES]
    result["is_value_significant"] = [estimates[c].is_significant for c in CATEGORIES]
    result["value_segments"] = [estimates[c].segments for c in CATEGORIES]
    return result[list(OUTPUT_COLUMNS)]


def detractor_to_promoter_estimate(link: pd.DataFrame) -> ValueEstimate:
    """The headline, from nps_financial_link's promoter row: the 12-month revenue of
    moving one detractor to promoter with its interval and n."""
    row = link[link["nps_category"] == "promoter"]
    if row.empty:
        return _NO_VALUE
    r = row.iloc[0]
    return ValueEstimate(
        float(r["value_of_moving_one_detractor_here"]),
        float(r["value_ci_low"]),
        float(r["value_ci_high"]),
        0 if pd.isna(r["value_n"]) else int(r["value_n"]),
        "" if pd.isna(r["value_segments"]) else str(r["value_segments"]),
    )


def detractor_to_promoter_value(link: pd.DataFrame) -> float:
    """The headline: 12-month revenue of moving one detractor to promoter."""
    return detractor_to_promoter_estimate(link).value
