"""The insight maths (cx_insights.insights) pinned on small hand-made data."""

from __future__ import annotations

import json
from itertools import combinations
from math import factorial

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cx_insights.insights import drivers, financial, frames, initiatives, reasons, risk
from cx_insights.insights.stats import (
    auc,
    auc_interval,
    nearest_correlation,
    pearson,
    relative_weights,
)

# --- Pearson ---------------------------------------------------------------------------


def test_pearson_matches_a_hand_computation():
    # dx = -2..2, dy = -2, 0, 1, 0, 1: sum dx dy = 6, sum dx^2 = 10, sum dy^2 = 6
    r, n = pearson(np.array([1, 2, 3, 4, 5]), np.array([2, 4, 5, 4, 5]))
    assert n == 5
    assert r == pytest.approx(6 / np.sqrt(60))


def test_pearson_uses_complete_pairs_and_is_null_when_undefined():
    r, n = pearson(np.array([1, 2, np.nan, 4, 5, 6]), np.array([2, 4, 9, 4, 5, np.nan]))
    assert n == 4
    assert r == pytest.approx(pearson(np.array([1, 2, 4, 5]), np.array([2, 4, 4, 5]))[0])
    assert np.isnan(pearson(np.array([1.0, 2.0]), np.array([3.0, 4.0]))[0])  # too few pairs
    assert np.isnan(pearson(np.array([1.0, 1.0, 1.0]), np.array([3.0, 4.0, 5.0]))[0])


# --- Johnson's relative weights -------------------------------------------------------------


def _r_squared(rxx: np.ndarray, rxy: np.ndarray, subset: tuple[int, ...]) -> float:
    if not subset:
        return 0.0
    s = list(subset)
    return float(rxy[s] @ np.linalg.solve(rxx[np.ix_(s, s)], rxy[s]))


def _shapley_r_squared(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Each predictor's average R^2 gain over every subset of the others (general
    dominance, Budescu 1993): the exact decomposition relative weights approximate."""
    k = len(rxy)
    out = np.zeros(k)
    for j in range(k):
        others = [i for i in range(k) if i != j]
        for size in range(k):
            for subset in combinations(others, size):
                weight = factorial(size) * factorial(k - size - 1) / factorial(k)
                gain = _r_squared(rxx, rxy, (*subset, j)) - _r_squared(rxx, rxy, subset)
                out[j] += weight * gain
    return out


def test_relative_weights_of_uncorrelated_predictors_are_squared_correlations():
    result = relative_weights(np.eye(3), np.array([0.5, 0.3, 0.1]))
    assert result.raw == pytest.approx([0.25, 0.09, 0.01])
    assert result.r_squared == pytest.approx(0.35)
    assert result.shares == pytest.approx([100 * 0.25 / 0.35, 100 * 0.09 / 0.35, 100 * 0.01 / 0.35])


def test_relative_weights_of_two_predictors_by_hand():
    # rho = 0.6: Rxx^1/2 = [[a, b], [b, a]], a = sqrt(.9), b = sqrt(.1), a^2 - b^2 = .8.
    # beta = Rxx^-1/2 r: beta1^2 = (.9 x .25 + .1 x .16 - 2 x .3 x .2) / .64 = .121 / .64,
    # beta2^2 = (.1 x .25 + .9 x .16 - .12) / .64 = .049 / .64.
    # eps1 = (.9 x .121 + .1 x .049) / .64, eps2 = (.1 x .121 + .9 x .049) / .64.
    result = relative_weights(np.array([[1, 0.6], [0.6, 1]]), np.array([0.5, 0.4]))
    assert result.raw == pytest.approx([0.1138 / 0.64, 0.0562 / 0.64])
    assert result.r_squared == pytest.approx(
        0.17 / 0.64
    )  # (r1^2 + r2^2 - 2 rho r1 r2) / (1 - rho^2)
    assert result.shares.sum() == pytest.approx(100)


def test_relative_weights_match_the_shapley_decomposition_of_r_squared():
    rxx = np.array([[1, 0.5, 0.3], [0.5, 1, 0.2], [0.3, 0.2, 1]])
    rxy = np.array([0.6, 0.5, 0.3])
    result = relative_weights(rxx, rxy)
    shapley = _shapley_r_squared(rxx, rxy)
    assert shapley.sum() == pytest.approx(result.r_squared)
    assert result.raw.sum() == pytest.approx(result.r_squared)
    # Relative weights approximate dominance weights closely (Johnson 2000):
    assert result.raw == pytest.approx(shapley, abs=0.005)
    assert result.shares == pytest.approx(100 * shapley / shapley.sum(), abs=1.0)
    assert list(np.argsort(-result.raw)) == list(np.argsort(-shapley))


def test_relative_weights_equal_johnsons_data_procedure_and_the_regression_r_squared():
    rng = np.random.default_rng(5)
    n = 400
    base = rng.standard_normal((n, 3))
    x = base @ np.array([[1, 0.6, 0.2], [0, 0.8, 0.3], [0, 0, 0.9]])
    y = x @ np.array([0.8, 0.3, 0.1]) + rng.standard_normal(n)
    # Johnson's original procedure on the data: X = P D Q', Z = sqrt(n) P Q' (the
    # standardised orthogonal variables closest to X), beta = regression of y on Z,
    # Lambda = regression of X on Z.
    zx = (x - x.mean(0)) / x.std(0)
    zy = (y - y.mean()) / y.std()
    p, _, qt = np.linalg.svd(zx, full_matrices=False)
    z = np.sqrt(n) * p @ qt
    beta = np.linalg.lstsq(z, zy, rcond=None)[0]
    lam = np.linalg.lstsq(z, zx, rcond=None)[0]
    expected = (lam.T**2) @ (beta**2)
    # R^2 of the least-squares fit of y on x
    design = np.column_stack([np.ones(n), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r_squared = 1 - (residual**2).sum() / ((y - y.mean()) ** 2).sum()

    corr = np.corrcoef(np.column_stack([y, x]), rowvar=False)
    result = relative_weights(corr[1:, 1:], corr[0, 1:])
    assert result.raw == pytest.approx(expected, rel=1e-9)
    assert result.r_squared == pytest.approx(r_squared, rel=1e-9)
    assert result.shares.sum() == pytest.approx(100)


def test_nearest_correlation_repairs_an_impossible_matrix_and_keeps_a_valid_one():
    valid = np.array([[1, 0.5], [0.5, 1]])
    assert nearest_correlation(valid) == pytest.approx(valid)
    impossible = np.array([[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]])
    repaired = nearest_correlation(impossible)
    assert np.linalg.eigvalsh(repaired).min() > 0
    assert np.diag(repaired) == pytest.approx([1, 1, 1])


# --- driver importance -------------------------------------------------------------------


def test_quadrants_split_importance_and_performance_at_their_medians():
    importance = pd.Series([40.0, 30.0, 20.0, 10.0])
    performance = pd.Series([20.0, 80.0, 60.0, 40.0])
    assert drivers.assign_quadrants(importance, performance).tolist() == [
        "fix first",
        "keep up",
        "maintain",
        "low priority",
    ]
    # at the median counts as high; a missing weight has no quadrant
    assert drivers.assign_quadrants(
        pd.Series([1.0, 2.0, 3.0]), pd.Series([5.0, 5.0, 1.0])
    ).tolist() == [
        "maintain",
        "keep up",
        "fix first",
    ]
    assert drivers.quadrant(None, True) is None
    assert drivers.assign_quadrants(pd.Series([np.nan, 1.0]), pd.Series([1.0, 2.0]))[0] is None


def _sums(level_id: str, element_type: str, a: str, b: str, x, y) -> dict:
    """A row of pair sums, as int_driver_statistics_aggregated computes them."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return {
        "level": "company" if level_id == "all" else "journey",
        "level_id": level_id,
        "element_type": element_type,
        "element_a": a,
        "element_b": b,
        "n": len(x),
        "sum_a": x.sum(),
        "sum_b": y.sum(),
        "sum_aa": (x * x).sum(),
        "sum_bb": (y * y).sum(),
        "sum_ab": (x * y).sum(),
    }


def _performance(level_id, element_type, element_id, values, scale=(1, 5)) -> dict:
    values = np.asarray(values, dtype=float)
    lo, hi = scale
    return {
        "level": "company" if level_id == "all" else "journey",
        "level_id": level_id,
        "element_type": element_type,
        "element_id": element_id,
        "answers": len(values),
        "position_sum": ((values - lo) / (hi - lo)).sum(),
        "top_2_box_answers": int((values >= hi - 1).sum()),
        "scale_min": lo,
        "scale_max": hi,
    }


def test_correlation_from_sums_equals_pearson_on_the_data():
    x, y = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 5, 4, 5])
    row = _sums("all", "driver", "a", "b", x, y)
    r = drivers.correlation_from_sums(
        *(row[k] for k in ("n", "sum_a", "sum_b", "sum_aa", "sum_bb", "sum_ab"))
    )
    assert r == pytest.approx(6 / np.sqrt(60))
    assert np.isnan(drivers.correlation_from_sums(2, 3, 7, 5, 25, 11))  # too few pairs
    assert np.isnan(drivers.correlation_from_sums(3, 3, 12, 3, 50, 12))  # a constant side


NPS_SCORES = np.array([10, 9, 8, 6, 3, 0, 7, 5], dtype=float)
EASE = np.array([5, 5, 4, 3, 1, 1, 4, 2], dtype=float)  # follows NPS
PRICE = np.array([3, 1, 5, 2, 4, 3, 1, 5], dtype=float)  # unrelated to it


def _driver_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ease, price = (EASE - 1) / 4, (PRICE - 1) / 4  # positions on 1..5
    pairs = pd.DataFrame(
        [
            _sums("all", "driver", "ease", drivers.NPS, ease, NPS_SCORES),
            _sums("all", "driver", "price", drivers.NPS, price, NPS_SCORES),
            _sums("all", "driver", "ease", "price", ease, price),
            {**_sums("all", "driver", drivers.ANY, drivers.NPS, ease, ease), "sum_a": np.nan},
        ]
    )
    performances = pd.DataFrame(
        [_performance("all", "driver", "ease", EASE), _performance("all", "driver", "price", PRICE)]
    )
    return pairs, performances


def test_driver_importance_ranks_the_driver_that_moves_nps_first():
    result = drivers.driver_importance(*_driver_inputs())
    assert result["element_id"].tolist() == ["ease", "price"]
    assert result["importance_rank"].tolist() == [1, 2]
    assert result["relative_weight_share"].sum() == pytest.approx(100)
    # the same as Johnson's weights on the correlation matrix of the data
    corr = np.corrcoef(np.column_stack([NPS_SCORES, EASE, PRICE]), rowvar=False)
    expected = relative_weights(corr[1:, 1:], corr[0, 1:])
    assert result["relative_weight"].tolist() == pytest.approx(expected.raw.tolist())
    assert result["model_r_squared"].iloc[0] == pytest.approx(expected.r_squared)
    ease = result.iloc[0]
    assert ease["pearson_r"] == pytest.approx(corr[0, 1])
    assert ease["n"] == 8 and ease["model_n"] == 8
    assert ease["performance_mean"] == pytest.approx(EASE.mean())
    assert ease["performance_top_2_box_pct"] == pytest.approx(100 * 4 / 8)
    assert ease["performance_n"] == 8
    assert bool(ease["is_low_sample"]) is True  # n < 30
    assert ease["pairing"] == "response"


def test_an_element_without_pairs_keeps_its_performance_and_has_no_weight():
    pairs, performances = _driver_inputs()
    performances = pd.concat(
        [performances, pd.DataFrame([_performance("all", "driver", "speed", [5, 4, 1])])]
    )
    result = drivers.driver_importance(pairs, performances).set_index("element_id")
    assert np.isnan(result.loc["speed", "relative_weight"])
    assert result.loc["speed", "quadrant"] is None
    assert result.loc["speed", "performance_top_2_box_pct"] == pytest.approx(200 / 3)
    assert result.loc[["ease", "price"], "relative_weight_share"].sum() == pytest.approx(100)


def test_topics_act_as_drivers_weighed_on_their_indicators():
    """What customers write as drivers: each topic's 0/1 indicator over the responses
    with a comment (one without a topic is 0 on all), weighed as drivers are; the
    pair sums are what int_driver_statistics_aggregated builds (zeros counted)."""
    nps = np.array([0, 2, 3, 1, 9, 10, 8, 7, 6, 5, 9, 4], dtype=float)
    price = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=float)  # detractors
    praise = np.array([0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0], dtype=float)  # promoters
    pairs = pd.DataFrame(
        [
            _sums("all", "topic", "price", drivers.NPS, price, nps),
            _sums("all", "topic", "praise", drivers.NPS, praise, nps),
            _sums("all", "topic", "praise", "price", praise, price),
            {**_sums("all", "topic", drivers.ANY, drivers.NPS, nps, nps), "sum_a": np.nan},
        ]
    )
    empty = pd.DataFrame(columns=list(drivers.PERFORMANCE_COLUMNS))
    result = drivers.driver_importance(pairs, empty).set_index("element_id")
    corr = np.corrcoef(np.column_stack([nps, praise, price]), rowvar=False)
    expected = relative_weights(corr[1:, 1:], corr[0, 1:])
    assert result.loc[["praise", "price"], "relative_weight"].tolist() == pytest.approx(
        expected.raw.tolist()
    )
    assert result.loc["price", "pearson_r"] == pytest.approx(corr[0, 2]) and corr[0, 2] < 0
    assert result["relative_weight_share"].sum() == pytest.approx(100)
    assert set(result["element_type"]) == {"topic"} and result["model_n"].iloc[0] == 12
    # A topic is not rated: no performance, so no quadrant (never an 'act on' driver).
    assert result["quadrant"].isna().all()
    assert result["performance_top_2_box_pct"].isna().all()


def test_touchpoint_importance_is_the_variance_each_touchpoint_explains():
    # Responses on T1 (csat follows NPS) and T2 (csat barely related to NPS).
    t1_nps, t1_csat = np.array([10.0, 9, 6, 3, 8, 2]), np.array([5.0, 5, 2, 1, 4, 1])
    t2_nps, t2_csat = np.array([10.0, 9, 6, 3, 8, 2]), np.array([3.0, 2, 3, 2, 2, 3])
    pairs = pd.DataFrame(
        [
            _sums("all", "touchpoint", "T1", drivers.NPS, (t1_csat - 1) / 4, t1_nps),
            _sums("all", "touchpoint", "T2", drivers.NPS, (t2_csat - 1) / 4, t2_nps),
        ]
    )
    performances = pd.DataFrame(
        [
            _performance("all", "touchpoint", "T1", t1_csat),
            _performance("all", "touchpoint", "T2", t2_csat),
        ]
    )
    result = drivers.driver_importance(pairs, performances).set_index("element_id")
    # Independent computation: the regression of NPS on each touchpoint's csat deviation
    # (0 on the other touchpoint's responses) over all 12 responses.
    nps = np.concatenate([t1_nps, t2_nps])
    x = np.zeros((12, 2))
    x[:6, 0] = t1_csat - t1_csat.mean()
    x[6:, 1] = t2_csat - t2_csat.mean()
    corr = np.corrcoef(np.column_stack([nps, x]), rowvar=False)
    assert corr[1, 2] == pytest.approx(0)  # uncorrelated by construction
    expected = relative_weights(corr[1:, 1:], corr[0, 1:])
    assert result.loc[["T1", "T2"], "relative_weight"].tolist() == pytest.approx(expected.raw)
    assert result.loc["T1", "model_r_squared"] == pytest.approx(expected.r_squared)
    assert result.loc["T1", "pearson_r"] == pytest.approx(np.corrcoef(t1_csat, t1_nps)[0, 1])
    assert result.loc["T1", "importance_rank"] == 1
    assert result["relative_weight_share"].sum() == pytest.approx(100)
    assert result.loc["T1", "model_n"] == 12


# --- the financial link -----------------------------------------------------------------


def test_expected_months_and_the_value_of_moving_a_detractor():
    # 10 % monthly churn: sum_{k<12} 0.9^k = (1 - 0.9^12) / 0.1
    assert financial.expected_months_paid(0.1) == pytest.approx((1 - 0.9**12) / 0.1)
    assert financial.expected_months_paid(0.0) == 12
    assert financial.annual_churn(0.1) == pytest.approx(1 - 0.9**12)
    # a detractor paying 100 a month, churning 10 % a month, made a promoter who never churns
    assert financial.value_of_moving_one_detractor(100, 0.1, 0.0) == pytest.approx(
        100 * (12 - (1 - 0.9**12) / 0.1)
    )


def _aggregate(category, customers, months, churned, mrr, churned_mrr, revenue, now, now_mrr):
    return {
        "nps_category": category,
        "first_month_start_date": pd.Timestamp("2025-02-01"),
        "last_month_start_date": pd.Timestamp("2025-04-01"),
        "customers": customers,
        "customer_months": months,
        "churned_customer_months": churned,
        "mrr_start_total": mrr,
        "churned_mrr_start_total": churned_mrr,
        "revenue_total": revenue,
        "current_customers": now,
        "current_mrr": now_mrr,
    }


def test_nps_financial_link_from_the_category_sums():
    aggregates = pd.DataFrame(
        [
            # promoters: 3 customer-months at MRR 10, one churned
            _aggregate("promoter", 1, 3, 1, 30.0, 10.0, 30.0, 0, 0.0),
            # detractors: 1 customer-month at MRR 20, churned
            _aggregate("detractor", 1, 1, 1, 20.0, 20.0, 20.0, 0, 0.0),
            _aggregate("passive", 1, 2, 0, 60.0, 0.0, 60.0, 1, 30.0),
            _aggregate("no_answer", 3, 4, 0, 90.0, 0.0, 80.0, 0, 0.0),
        ]
    )
    customer_sums = pd.DataFrame(
        [
            _customer_sums("consumer", "A", "promoter", 3, 30.0, 10.0),
            _customer_sums("consumer", "B", "detractor", 1, 20.0, 20.0),
            _customer_sums("consumer", "C", "passive", 2, 60.0, 0.0),
        ]
    )
    by = financial.nps_financial_link(aggregates, customer_sums).set_index("nps_category")
    assert by.index.tolist() == ["promoter", "passive", "detractor", "no_answer"]
    assert by.loc["promoter", "monthly_churn_rate"] == pytest.approx(100 / 3)
    assert by.loc["promoter", "annual_churn_rate"] == pytest.approx(100 * (1 - (2 / 3) ** 12))
    assert by.loc["promoter", "revenue_churn_rate"] == pytest.approx(100 * 10 / 30)
    assert by.loc["detractor", "monthly_churn_rate"] == pytest.approx(100)
    assert by.loc["detractor", "average_mrr"] == pytest.approx(20)
    assert by.loc["no_answer", "average_mrr"] == pytest.approx(22.5)
    assert by.loc["no_answer", "revenue_per_customer_month"] == pytest.approx(20)
    assert by.loc["passive", "monthly_churn_rate"] == 0
    # 12-month value: the detractor keeps MRR 20; detractors pay 1 month (churn 100 %)
    promoter_months = (1 - (2 / 3) ** 12) / (1 / 3)
    assert by.loc["promoter", "expected_months_paid_12m"] == pytest.approx(promoter_months)
    assert by.loc["promoter", "expected_revenue_12m"] == pytest.approx(10 * promoter_months)
    assert by.loc["promoter", "value_of_moving_one_detractor_here"] == pytest.approx(
        20 * (promoter_months - 1)
    )
    assert by.loc["passive", "value_of_moving_one_detractor_here"] == pytest.approx(20 * 11)
    assert by.loc["detractor", "value_of_moving_one_detractor_here"] == 0
    assert np.isnan(by.loc["no_answer", "value_of_moving_one_detractor_here"])
    link = financial.nps_financial_link(aggregates, customer_sums)
    assert financial.detractor_to_promoter_value(link) == pytest.approx(20 * (promoter_months - 1))
    assert by.loc["promoter", "value_n"] == 1  # one customer per arm: low sample
    assert not financial.detractor_to_promoter_estimate(link).is_reliable
    assert by.loc["passive", "current_customers"] == 1
    assert by.loc["passive", "current_mrr"] == 30
    assert by["n"].tolist() == [1, 1, 1, 3]
    assert by["is_low_sample"].all()


def _customer_sums(segment, customer, category, months, mrr, churned_mrr) -> dict:
    return {
        "segment": segment,
        "customer_id": customer,
        "nps_category": category,
        "customer_months": months,
        "churned_customer_months": int(churned_mrr > 0),
        "mrr_start_total": mrr,
        "churned_mrr_start_total": churned_mrr,
    }


def _two_segments() -> pd.DataFrame:
    """Enterprise: few detractors, MRR 1,000, hardly any churn. Consumer: most detractors,
    MRR 10; detractors churn 10 % of their MRR a month, promoters 2 %. A small consumer
    that leaves weighs as much as a large one when churn counts customers: here the
    churned consumers are the small ones."""
    rows = []
    for i in range(40):  # enterprise: 10 months each, nobody leaves
        category = "detractor" if i < 10 else "promoter"
        rows.append(_customer_sums("enterprise", f"E{i}", category, 10, 10_000.0, 0.0))
    for i in range(200):  # consumer detractors: 10 months of MRR 10; 1 in 10 churns
        rows.append(_customer_sums("consumer", f"D{i}", "detractor", 10, 100.0, 10.0 * (i < 100)))
    for i in range(200):  # consumer promoters: 2 % of MRR-months churn
        rows.append(_customer_sums("consumer", f"P{i}", "promoter", 10, 100.0, 10.0 * (i < 20)))
    return pd.DataFrame(rows)


def test_the_value_of_a_detractor_is_computed_within_segment_with_mrr_weighted_churn():
    customers = _two_segments()
    estimate = financial.segment_weighted_value(customers, "promoter")
    # consumer: MRR 10, churn 100 / 2000 = 5 % vs 20 / 2000 = 1 %; enterprise: no churn
    consumer = 10 * (financial.expected_months_paid(0.01) - financial.expected_months_paid(0.05))
    # weights: detractor customer-months, consumer 2,000, enterprise 100
    assert estimate.value == pytest.approx(consumer * 2000 / 2100)
    # before: pooled MRR (enterprise-heavy, 10,000 / 2,100) with pooled churn
    pooled_mrr = (10 * 10_000 + 200 * 100) / 2100
    pooled = pooled_mrr * (
        financial.expected_months_paid(20 / 2300) - financial.expected_months_paid(100 / 2100)
    )
    assert pooled > 4 * estimate.value
    assert estimate.segments == "consumer,enterprise"
    assert estimate.n == 210  # the smaller arm: 210 detractors (230 promoters)
    assert estimate.ci_low < estimate.value < estimate.ci_high
    assert estimate.is_significant and estimate.is_reliable
    # deterministic: the same interval on a rebuild
    assert financial.segment_weighted_value(customers, "promoter") == estimate


def test_bootstrap_counts_are_resamples_with_replacement():
    """Each replicate draws every customer's count as a multinomial(n, 1/n): the counts
    add up to n, average 1 with the multinomial's variance 1 - 1/n, and a seed gives
    the same counts again."""
    counts = financial.resample_counts(np.random.default_rng(3), 50, 4000)
    assert counts.shape == (4000, 50) and (counts.sum(1) == 50).all()
    assert counts.mean() == pytest.approx(1.0)
    assert counts.var() == pytest.approx(1 - 1 / 50, rel=0.03)
    assert (financial.resample_counts(np.random.default_rng(3), 50, 4000) == counts).all()


def test_a_value_within_the_noise_or_on_few_customers_is_not_reliable():
    rows = [
        _customer_sums("smb", f"D{i}", "detractor", 5, 500.0, 100.0 * (i < 2)) for i in range(20)
    ]
    rows += [
        _customer_sums("smb", f"P{i}", "promoter", 5, 500.0, 100.0 * (i < 2)) for i in range(20)
    ]
    estimate = financial.segment_weighted_value(pd.DataFrame(rows), "promoter")
    assert estimate.value == pytest.approx(0)
    assert not estimate.is_significant
    assert not estimate.is_reliable
    assert estimate.n == 20


def test_a_category_without_customers_gives_null_rates_not_errors():
    aggregates = pd.DataFrame([_aggregate("promoter", 40, 400, 4, 4000.0, 40.0, 4000.0, 35, 350.0)])
    by = financial.nps_financial_link(aggregates).set_index("nps_category")
    assert by.loc["promoter", "monthly_churn_rate"] == pytest.approx(1)
    assert not by.loc["promoter", "is_low_sample"]
    assert by.loc["detractor", "customer_months"] == 0
    assert np.isnan(by.loc["detractor", "monthly_churn_rate"])
    assert np.isnan(by.loc["promoter", "value_of_moving_one_detractor_here"])


# --- initiative impact: metrics, DiD, ROI ---------------------------------------------------


def test_difference_in_differences_roi_and_detractors_moved():
    # scope 40 -> 80, control 60 -> 55: +40 against -5
    assert initiatives.difference_in_differences(40, 80, 60, 55) == 45
    assert initiatives.roi(150, 100) == 0.5
    assert initiatives.roi(50, 100) == -0.5
    assert np.isnan(initiatives.roi(50, 0))
    assert np.isnan(initiatives.roi(50, None))
    # +10 NPS points among 400 customers = 20 detractors turned promoters
    assert initiatives.detractors_moved(10, 400) == 20


def _initiative(**overrides) -> dict:
    row = {
        "initiative_id": "I1",
        "initiative_name": "Faster checkout",
        "owner_name": "Ann",
        "touchpoint_id": "T1",
        "journey_id": None,
        "scope_level": "touchpoint",
        "scope_journey_id": "J1",
        "scope_name": "Checkout",
        "started_at": pd.Timestamp("2025-04-01"),
        "ended_at": pd.NaT,
        "cost": 1000.0,
        "currency": "EUR",
        "target_metric": "csat",
        "target_value": 80.0,
        "customers_reached": 4,
        "window_days": 90,
        "before_start_at": pd.Timestamp("2025-01-01"),
        "after_end_at": pd.Timestamp("2025-06-30"),
        "control_journey_ids": "J2",
    }
    row.update(overrides)
    return row


def _nps(promoters: int, detractors: int, n: int) -> initiatives.Estimate:
    """NPS of n answers with its kpis.md standard error (as int_initiative_estimates)."""
    p, d = promoters / n, detractors / n
    return initiatives.Estimate(100 * (p - d), n, 100 * np.sqrt((p + d - (p - d) ** 2) / n))


def _share(hits: int, n: int) -> initiatives.Estimate:
    p = hits / n
    return initiatives.Estimate(100 * p, n, 100 * np.sqrt(p * (1 - p) / n))


def _impact_estimates() -> initiatives.Estimates:
    # scope T1: csat 50 % -> 100 %, NPS 0 -> 50; control J2: csat 50 % -> 50 %, NPS 0 -> 0
    return {
        ("I1", "csat", "scope", "before"): _share(2, 4),
        ("I1", "csat", "scope", "after"): _share(4, 4),
        ("I1", "csat", "control", "before"): _share(1, 2),
        ("I1", "csat", "control", "after"): _share(1, 2),
        ("I1", "nps", "scope", "before"): _nps(2, 2, 4),  # 10, 10, 0, 0
        ("I1", "nps", "scope", "after"): _nps(2, 0, 4),  # 10, 10, 8, 8
        ("I1", "nps", "control", "before"): _nps(1, 1, 2),  # 10, 0
        ("I1", "nps", "control", "after"): _nps(1, 1, 2),  # 9, 6
    }


def test_estimates_are_read_from_their_sql_rows_with_nulls_as_nan():
    rows = pd.DataFrame(
        {
            "initiative_id": ["I1", "I1"],
            "metric": ["nps", "nps"],
            "side": ["scope", "control"],
            "period": ["before", "after"],
            "n": [5, 0],
            "metric_value": [0.0, None],
            "standard_error": [40.0, None],
        }
    )
    got = initiatives.estimates_by_key(rows)
    assert got[("I1", "nps", "scope", "before")] == initiatives.Estimate(0.0, 5, 40.0)
    empty = got[("I1", "nps", "control", "after")]
    assert empty.n == 0 and np.isnan(empty.value) and np.isnan(empty.se)


def test_initiative_impact_end_to_end():
    result = initiatives.initiative_impact(
        pd.DataFrame([_initiative()]), _impact_estimates(), value_per_detractor_moved=100.0
    ).iloc[0]
    assert result["window_days"] == 90
    assert result["control_journey_ids"] == "J2"
    assert (result["value_before"], result["value_after"]) == (50.0, 100.0)
    assert (result["control_value_before"], result["control_value_after"]) == (50.0, 50.0)
    assert result["did"] == 50.0 and result["improvement"] == 50.0
    assert bool(result["is_improved"]) and bool(result["is_target_met"])
    assert (result["n_before"], result["n_after"]) == (4, 4)
    assert bool(result["is_low_sample"])
    # NPS: scope 0 -> 50, control 0 -> 0; 4 customers reached (counted in SQL)
    assert result["nps_did"] == 50.0
    # four independent samples (CSAT 50 % of 4, 100 % of 4, 50 % of 2, 50 % of 2): the
    # variances add
    ses = [100 * np.sqrt(0.25 / 4), 0.0, 100 * np.sqrt(0.25 / 2), 100 * np.sqrt(0.25 / 2)]
    se = np.sqrt(sum(x**2 for x in ses))
    assert result["did_ci_low"] == pytest.approx(50 - 1.96 * se)
    assert result["did_ci_high"] == pytest.approx(50 + 1.96 * se)
    assert not result["is_significant"]  # -60 to +160 points
    assert result["customers_reached"] == 4
    assert result["detractors_moved"] == pytest.approx(50 * 4 / 200)
    assert result["revenue_effect"] == pytest.approx(100.0)
    assert result["roi"] == pytest.approx((100 - 1000) / 1000)
    text = result["you_said_we_did"]
    assert text.startswith(
        "You said Checkout needed work (CSAT 50.0 % in the 90 days before 1 April 2025)."
    )
    assert "We did: Faster checkout." in text
    assert (
        "Since then CSAT is 100.0 % (+50.0 points, 50.0 points better than the change on "
        "untouched journeys)." in text
    )
    assert "That is within the noise of the samples (95 % interval -59.6 to +159.6 points)." in text
    assert (
        "Estimated 12-month revenue effect 100 EUR (95 % interval -349 to 549) for a cost of "
        "1,000 EUR (ROI -90%)." in text
    )
    assert text.endswith("Small sample: treat with care.")


def _impact(value: float, reliable: bool = True) -> pd.Series:
    return initiatives.initiative_impact(
        pd.DataFrame([_initiative()]),
        _impact_estimates(),
        value_per_detractor_moved=value,
        is_value_reliable=reliable,
    ).iloc[0]


def test_the_revenue_interval_is_ordered_whatever_the_sign_of_the_value():
    # before: a negative value per detractor gave ci_low = nps_low x (negative) above
    # ci_high; now no revenue is claimed on a value that is not positive
    negative = _impact(-100.0)
    assert pd.isna(negative["revenue_effect"]) and pd.isna(negative["roi"])
    assert pd.isna(negative["revenue_effect_ci_low"]) and pd.isna(
        negative["revenue_effect_ci_high"]
    )
    assert not negative["is_value_per_detractor_reliable"]
    positive = _impact(100.0)
    assert positive["revenue_effect_ci_low"] <= positive["revenue_effect"]
    assert positive["revenue_effect"] <= positive["revenue_effect_ci_high"]


def test_no_revenue_effect_or_roi_on_a_value_that_is_not_established():
    result = _impact(100.0, reliable=False)
    assert result["value_per_detractor_moved"] == 100.0
    assert pd.isna(result["revenue_effect"]) and pd.isna(result["roi"])
    assert "No revenue effect is claimed" in result["you_said_we_did"]
    assert "ROI" not in result["you_said_we_did"]


def test_lower_is_better_metrics_count_a_fall_as_an_improvement():
    # one ticket per window and side: the median is its first response, no interval
    def median(minutes: float) -> initiatives.Estimate:
        return initiatives.Estimate(minutes, 1, float("nan"))

    metric = "median_first_response_minutes"
    estimates = {
        **_impact_estimates(),
        ("I1", metric, "scope", "before"): median(60.0),
        ("I1", metric, "scope", "after"): median(20.0),
        ("I1", metric, "control", "before"): median(60.0),
        ("I1", metric, "control", "after"): median(50.0),
    }
    result = initiatives.initiative_impact(
        pd.DataFrame([_initiative(target_metric=metric, target_value=30.0)]),
        estimates,
        value_per_detractor_moved=100.0,
    ).iloc[0]
    assert result["did"] == -30.0  # -40 on the scope, -10 on the control
    assert result["improvement"] == 30.0
    assert bool(result["is_target_met"])
    assert (
        "median first response time is 20 min (-40.0 min, 30.0 min better"
        in result["you_said_we_did"]
    )


# --- churn risk -------------------------------------------------------------------------


def test_auc_counts_pairs_ranked_right_with_ties_as_half():
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5
    assert auc(np.array([0.9, 0.1]), np.array([1, 0])) == 1.0
    assert np.isnan(auc(np.array([0.2, 0.3]), np.array([1, 1])))
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, 300).astype(float)  # many ties
    labels = rng.random(300) < 0.3
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_risk_bands_are_multiples_of_the_base_rate():
    assert risk.risk_band(0.25, 0.1) == "high"
    assert risk.risk_band(0.2, 0.1) == "high"
    assert risk.risk_band(0.15, 0.1) == "medium"
    assert risk.risk_band(0.1, 0.1) == "low"
    assert risk.risk_band(0.01, 0.1) == "low"


@pytest.mark.parametrize(
    ("reason", "facts", "expected"),
    [
        ("unresolved_tickets", {"unresolved_tickets": 2}, "2 unresolved tickets"),
        ("unresolved_tickets", {"unresolved_tickets": 1}, "1 unresolved ticket"),
        ("slow_tickets_3m", {"slow_tickets_3m": 3}, "3 slow tickets in the last 3 months"),
        (
            "bad_rated_tickets_6m",
            {"bad_rated_tickets_6m": 1},
            "1 ticket rated bad in the last 6 months",
        ),
        (
            "detractor_answers_6m",
            {"detractor_answers_6m": 2},
            "2 detractor answers in the last 6 months",
        ),
        (
            "nps",
            {
                "latest_nps_category": "detractor",
                "latest_nps_score": 3.0,
                "latest_nps_month_start_date": pd.Timestamp("2026-03-01"),
            },
            "detractor (NPS 3) in March 2026",
        ),
        ("nps", {"latest_nps_category": "no_answer"}, "no NPS answer yet"),
        (
            "sessions",
            {"sessions_last_month": 1, "sessions_last_3m": 2, "sessions_prev_3m": 5},
            "sessions down 60 %",
        ),
        (
            "sessions",
            {"sessions_last_month": 0, "sessions_last_3m": 6, "sessions_prev_3m": 6},
            "sessions down 100 % last month",
        ),
        (
            "sessions",
            {"sessions_last_month": 0, "sessions_last_3m": 0, "sessions_prev_3m": 0},
            "no web sessions in the last 6 months",
        ),
        ("survey_rating", {"survey_rating": 0.35}, "low survey ratings (average 3.5 / 10)"),
        (
            "surveys",
            {
                "latest_nps_category": "detractor",
                "latest_nps_score": 3.0,
                "latest_nps_month_start_date": pd.Timestamp("2026-03-01"),
                "survey_rating": 0.35,
            },
            "detractor (NPS 3) in March 2026, average rating 3.5 / 10",
        ),
        (
            "surveys",
            {"latest_nps_category": "passive", "latest_nps_score": 7.0, "survey_rating": 0.5},
            "low survey ratings (average rating 5.0 / 10)",
        ),
        (
            "surveys",
            {"latest_nps_category": "no_answer", "survey_rating": np.nan},
            "no survey answers yet",
        ),
        ("is_new_customer", {"tenure_days": 40}, "new customer (40 days)"),
    ],
)
def test_reason_texts(reason, facts, expected):
    assert reasons.reason_text(reason, facts) == expected


@pytest.mark.parametrize(
    ("reason", "facts", "expected"),
    [
        ("detractor_answers_6m", {}, "detractor_answers"),
        ("nps", {"latest_nps_category": "detractor"}, "nps_detractor"),
        ("nps", {"latest_nps_category": "no_answer"}, "no_nps_answer"),
        ("surveys", {"latest_nps_category": "detractor", "survey_rating": 0.35}, "nps_detractor"),
        ("surveys", {"latest_nps_category": "passive", "survey_rating": 0.5}, "low_survey_ratings"),
        ("surveys", {"latest_nps_category": "no_answer", "survey_rating": 0.5}, "no_nps_answer"),
        (
            "surveys",
            {"latest_nps_category": "no_answer", "survey_rating": np.nan},
            "no_survey_answers",
        ),
        ("surveys", {"latest_nps_category": "passive", "survey_rating": np.nan}, "nps_passive"),
        ("survey_rating", {"survey_rating": np.nan}, "no_survey_answers"),
        ("sessions", {}, "falling_sessions"),
        ("scheduled_end", {}, "scheduled_end"),
    ],
)
def test_reason_codes_name_what_the_text_says(reason, facts, expected):
    snapshot = {
        "latest_nps_category": "passive",
        "latest_nps_score": 7.0,
        "latest_nps_month_start_date": pd.Timestamp("2026-09-01"),
        "survey_rating": 0.6,
        "detractor_answers_6m": 2,
        "unresolved_tickets": 1,
        "slow_tickets_3m": 1,
        "bad_rated_tickets_6m": 1,
        "sessions_last_month": 0,
        "sessions_last_3m": 2,
        "sessions_prev_3m": 9,
        "tenure_days": 40,
        "mrr": 20.0,
        "scheduled_end_at": pd.Timestamp("2026-12-01"),
        **facts,
    }
    code, text = reasons.describe(reason, snapshot)
    assert code == expected
    assert (reasons.reason_code(reason, snapshot), reasons.reason_text(reason, snapshot)) == (
        code,
        text,
    )


def test_reasons_name_the_strongest_risk_raising_features_in_order():
    model = risk.ChurnModel(
        features=(
            "unresolved_tickets",
            "is_detractor",
            "has_no_nps_answer",
            "sessions_trend",
            "sessions_last_month_trend",
            "is_new_customer",
        ),
        mean=np.zeros(6),
        scale=np.ones(6),
        coef_std=np.array([0.5, 0.8, 0.2, -0.4, -0.1, 0.05]),
        intercept_std=-2.0,
        n=100,
        churners=10,
        base_rate=0.1,
    )
    facts = pd.DataFrame(
        [
            {
                "unresolved_tickets": 2,
                "latest_nps_category": "detractor",
                "latest_nps_score": 3.0,
                "latest_nps_month_start_date": pd.Timestamp("2026-03-01"),
                "survey_rating": 0.3,
                "sessions_last_month": 1,
                "sessions_last_3m": 2,
                "sessions_prev_3m": 5,
                "tenure_days": 20,
            },
            {
                "unresolved_tickets": 0,
                "latest_nps_category": "promoter",
                "latest_nps_score": 10.0,
                "latest_nps_month_start_date": pd.Timestamp("2026-03-01"),
                "survey_rating": 0.9,
                "sessions_last_month": 3,
                "sessions_last_3m": 9,
                "sessions_prev_3m": 6,
                "tenure_days": 400,
            },
        ]
    )
    x = np.array(
        [
            # contributions: 1.0; surveys 0.8; sessions 0.4 x log(2) + 0.1 x 0.37; new 0.05
            # (below the 0.1 threshold)
            [2, 1, 0, np.log(3 / 6), np.log(1.5 / (5 / 3 + 0.5)), 1],
            [0, 0, 0, np.log(10 / 7), np.log(3.5 / 2.5), 0],
        ]
    )
    assert risk.reasons(model, x, facts) == [
        "2 unresolved tickets; detractor (NPS 3) in March 2026, average rating 3.0 / 10; "
        "sessions down 60 %",
        "",
    ]
    assert risk.reasons(model, x, facts, max_reasons=1)[0] == "2 unresolved tickets"


def test_a_fact_is_a_reason_only_when_adverse_and_its_coefficient_has_the_expected_sign():
    # the model learnt that unresolved tickets raise churn but, by chance, that a
    # higher rating raises it too; the average customer has 0.5 unresolved tickets
    model = risk.ChurnModel(
        features=("unresolved_tickets", "survey_rating", "log_mrr"),
        mean=np.array([0.5, 0.7, 3.0]),
        scale=np.ones(3),
        coef_std=np.array([-0.8, 0.9, 1.0]),
        intercept_std=-2.0,
        n=100,
        churners=10,
        base_rate=0.1,
    )
    facts = pd.DataFrame(
        [
            {"unresolved_tickets": 0, "survey_rating": 0.95, "mrr": 500.0},
            {"unresolved_tickets": 3, "survey_rating": 0.2, "mrr": 10.0},
        ]
    )
    x = np.array([[0, 0.95, np.log1p(500)], [3, 0.2, np.log1p(10)]])
    # before: row 0 read "0 unresolved tickets" (0.4 over the average, through the
    # negative coefficient) and "high MRR"; now a wrong-signed coefficient and the MRR
    # name nothing
    assert risk.reasons(model, x, facts) == ["", ""]
    model = risk.ChurnModel(
        features=("unresolved_tickets", "survey_rating"),
        mean=np.array([0.5, 0.7]),
        scale=np.ones(2),
        coef_std=np.array([0.8, -0.9]),
        intercept_std=-2.0,
        n=100,
        churners=10,
        base_rate=0.1,
    )
    # 0 tickets are below the mean but never a reason; a rating of 0.65 is below the
    # mean but not adverse (above 6 / 10); 0.2 is
    x = np.array([[0, 0.65], [3, 0.2]])
    facts = pd.DataFrame(
        [
            {"unresolved_tickets": 0, "survey_rating": 0.65, "latest_nps_category": "passive"},
            {"unresolved_tickets": 3, "survey_rating": 0.2, "latest_nps_category": "passive"},
        ]
    )
    assert risk.reasons(model, x, facts) == [
        "",
        "3 unresolved tickets; low survey ratings (average rating 2.0 / 10)",
    ]


def test_a_scheduled_cancellation_is_its_own_band_first_reason_and_all_of_the_mrr():
    snapshots = _synthetic_snapshots(customers=200, months=10)
    model = risk.fit_snapshots(snapshots)
    current = snapshots[snapshots["as_of_date"] == snapshots["as_of_date"].max()].head(3).copy()
    current["scheduled_end_at"] = [pd.Timestamp("2026-12-15 10:00"), pd.NaT, pd.NaT]
    scored = risk.score(model, current)
    assert scored.loc[0, "risk_band"] == risk.SCHEDULED_TO_END
    assert scored.loc[0, "reasons"].startswith("cancellation scheduled for 15 December 2026")
    assert scored.loc[1:, "risk_band"].isin(["high", "medium", "low"]).all()
    assert not pd.isna(scored.loc[0, "churn_risk_score"])


def test_auc_interval_hanley_mcneil():
    # A = 0.9, 50 / 50: Q1 = 0.9 / 1.1, Q2 = 1.62 / 1.9,
    # se^2 = (0.09 + 49 (Q1 - 0.81) + 49 (Q2 - 0.81)) / 2500
    low, high = auc_interval(0.9, 50, 50)
    assert (high - low) / 2 / 1.96 == pytest.approx(0.03212, abs=1e-5)
    assert auc_interval(0.99, 50, 50)[1] == 1.0
    assert all(np.isnan(auc_interval(float("nan"), 10, 10)))
    assert all(np.isnan(auc_interval(0.7, 0, 10)))


def test_a_backtest_that_does_not_fit_in_the_data_has_no_auc():
    # 8 months of data: T (3 months before the end) needs 6 months of look-back plus 3 of
    # outcomes before it for a single training snapshot
    first, end = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-08-31 23:00")
    as_of = risk.backtest_as_of(end)
    assert as_of == pd.Timestamp("2025-05-01")
    assert not risk.is_backtestable(first, as_of)
    empty = pd.DataFrame(columns=list(risk.BACKTEST_SCORE_COLUMNS))
    result = risk.backtest(empty, as_of)
    assert np.isnan(result["auc"]) and np.isnan(result["auc_ci_low"])
    assert result["is_model_reliable"] is False
    assert result["n"] == 0
    assert risk.is_backtestable(pd.Timestamp("2024-08-01"), as_of)


def test_fitted_model_is_consistent_on_raw_and_standardised_scales():
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.poisson(1, 2000), rng.normal(0, 1, 2000)]).astype(float)
    y = rng.random(2000) < 1 / (1 + np.exp(-(-2 + 1.0 * x[:, 0] - 0.5 * x[:, 1])))
    x[5, 1] = np.nan  # a missing value is taken as the mean
    model = risk.fit(x, y, ("tickets", "rating"))
    assert model.coef[0] > 0 > model.coef[1]
    scores = model.predict(x)
    assert ((scores > 0) & (scores < 1)).all()
    coefficients = json.loads(model.coefficients_json())
    filled = np.where(np.isnan(x), model.mean, x)
    log_odds = coefficients["intercept"] + filled @ [
        coefficients["tickets"],
        coefficients["rating"],
    ]
    assert 1 / (1 + np.exp(-log_odds)) == pytest.approx(scores, abs=1e-5)
    assert model.base_rate == pytest.approx(y.mean())
    assert auc(scores, y) > 0.7


def test_a_training_set_without_churners_scores_nobody():
    # before: the constant model gave every customer p = 1e-6 against a base rate of 0,
    # so all of them were "high" risk
    rng = np.random.default_rng(3)
    snapshots = pd.DataFrame([_snapshot(customer_id=f"C{i}") for i in range(50)])
    snapshots["unresolved_tickets"] = rng.poisson(1, 50)
    model = risk.fit_snapshots(snapshots)
    assert not model.is_fitted
    assert np.isnan(model.predict(risk.model_features(snapshots).to_numpy(float))).all()
    scored = risk.score(model, snapshots)
    assert scored["churn_risk_score"].isna().all()
    assert scored["risk_band"].isna().all()
    assert (scored["reasons"] == "").all()


def _snapshot(**facts) -> dict:
    row = {
        "customer_id": "C1",
        "segment": "consumer",
        "as_of_date": pd.Timestamp("2026-11-01"),
        "mrr": 19.0,
        "is_churned_within_3_months": False,
        "is_churned_within_6_months": False,
        "latest_nps_score": 9.0,
        "latest_nps_category": "promoter",
        "latest_nps_month_start_date": pd.Timestamp("2026-05-01"),
        "detractor_answers_6m": 0,
        "survey_rating": 0.8,
        "survey_answers": 10,
        "tickets_3m": 0,
        "unresolved_tickets": 0,
        "slow_tickets_3m": 0,
        "bad_rated_tickets_6m": 0,
        "sessions_last_month": 2,
        "sessions_last_3m": 6,
        "sessions_prev_3m": 6,
        "tenure_days": 400,
        "scheduled_end_at": pd.NaT,
    }
    row.update(facts)
    return row


def test_model_features_from_snapshot_facts():
    frame = pd.DataFrame(
        [
            _snapshot(),
            _snapshot(
                latest_nps_category="detractor",
                survey_rating=np.nan,
                sessions_last_month=0,
                sessions_last_3m=2,
                sessions_prev_3m=5,
                tenure_days=30,
                mrr=0.0,
            ),
            _snapshot(latest_nps_category="no_answer", latest_nps_score=np.nan),
        ]
    )
    x = risk.model_features(frame)
    assert list(x.columns) == list(risk.FEATURES)
    assert x["is_detractor"].tolist() == [0, 1, 0]
    assert x["has_no_nps_answer"].tolist() == [0, 0, 1]
    assert x.loc[0, "sessions_trend"] == pytest.approx(0)
    assert x.loc[1, "sessions_trend"] == pytest.approx(np.log(3 / 6))
    assert x.loc[1, "sessions_last_month_trend"] == pytest.approx(np.log(0.5 / (5 / 3 + 0.5)))
    assert x["is_new_customer"].tolist() == [0, 1, 0]
    assert x.loc[0, "log_mrr"] == pytest.approx(np.log(20))
    assert x.loc[1, "log_mrr"] == 0
    assert np.isnan(x.loc[1, "survey_rating"])


def test_training_range_keeps_full_look_backs_and_known_outcomes():
    # data from November 2024; the model known on 1 November 2026 fits on the snapshots of
    # May 2025 (6 months of history) to August 2026 (churn through October observed)
    assert risk.training_range(pd.Timestamp("2024-11-01"), pd.Timestamp("2026-11-01")) == (
        pd.Timestamp("2025-05-01"),
        pd.Timestamp("2026-08-01"),
    )


def _synthetic_snapshots(seed: int = 0, customers: int = 600, months: int = 18) -> pd.DataFrame:
    """Monthly snapshots of customers whose churn hazard is high when they are unhappy,
    which their survey answers reveal."""
    rng = np.random.default_rng(seed)
    month_starts = pd.date_range("2024-01-01", periods=months + 1, freq="MS")
    unhappy = rng.random(customers) < 0.4
    churn_month = np.full(customers, months + 100)
    for c in range(customers):
        hazard = 0.1 if unhappy[c] else 0.005
        for m in range(months):
            if rng.random() < hazard:
                churn_month[c] = m
                break
    rows = []
    for c in range(customers):
        for m, as_of in enumerate(month_starts):
            if m > churn_month[c]:
                break
            answered = m > 0 and rng.random() < 0.9
            score = float(rng.integers(0, 6) if unhappy[c] else rng.integers(7, 11))
            rows.append(
                _snapshot(
                    customer_id=f"C{c}",
                    as_of_date=as_of,
                    is_churned_within_3_months=bool(m <= churn_month[c] < m + 3),
                    is_churned_within_6_months=bool(m <= churn_month[c] < m + 6),
                    latest_nps_score=score if answered else np.nan,
                    latest_nps_category=(
                        "no_answer" if not answered else "detractor" if score <= 6 else "promoter"
                    ),
                    survey_rating=score / 10 if answered else np.nan,
                    sessions_last_month=int(rng.poisson(2)),
                    sessions_last_3m=int(rng.poisson(6)),
                    sessions_prev_3m=int(rng.poisson(6)),
                )
            )
    return pd.DataFrame(rows)


def test_backtest_ranks_the_later_churners_first():
    snapshots = _synthetic_snapshots()
    end = pd.Timestamp("2025-07-01")
    # the last observed event on 30 June 2025: T + 3 months must lie before it
    as_of = risk.backtest_as_of(pd.Timestamp("2025-06-30 18:00"))
    assert as_of == pd.Timestamp("2025-03-01")
    assert risk.backtest_as_of(pd.Timestamp("2025-07-01")) == pd.Timestamp("2025-04-01")
    start, stop = risk.training_range(pd.Timestamp("2024-01-01"), as_of)
    assert (start, stop) == (pd.Timestamp("2024-07-01"), pd.Timestamp("2024-12-01"))
    dates = snapshots["as_of_date"]
    model = risk.fit_snapshots(snapshots[(dates >= start) & (dates <= stop)])
    scored = risk.backtest_scores(model, snapshots[dates == as_of], start, stop)
    assert list(scored.columns) == list(risk.BACKTEST_SCORE_COLUMNS)
    # the outcome is the model's own horizon: churn within 3 months, not 6
    expected = snapshots.loc[dates == as_of, "is_churned_within_3_months"].to_numpy()
    assert (scored["is_churned"].to_numpy() == expected).all()
    result = risk.backtest(scored, as_of)
    assert list(result) == list(risk.BACKTEST_COLUMNS)
    assert result["label_horizon_months"] == result["test_horizon_months"] == 3
    assert result["as_of_date"] == pd.Timestamp("2025-03-01")
    assert result["n"] == (dates == as_of).sum()
    assert result["churners"] > 0
    assert result["auc"] > 0.75
    assert result["auc_ci_low"] < result["auc"] < result["auc_ci_high"]
    assert result["is_model_reliable"]
    assert 0.5 <= result["baseline_auc"] <= 1
    assert result["auc_lift_over_baseline"] == pytest.approx(result["auc"] - result["baseline_auc"])
    assert set(json.loads(result["coefficients"])) == {"intercept", *risk.FEATURES}

    scored = risk.score(model, snapshots[dates == end])
    assert list(scored.columns) == list(snapshots.columns) + list(risk.SCORE_COLUMNS)
    assert scored["churn_risk_score"].between(0, 1).all()
    assert set(scored["risk_band"]) <= {"high", "medium", "low"}
    high = scored[scored["risk_band"] == "high"]
    assert len(high) and (high["latest_nps_category"] == "detractor").mean() > 0.5
    assert high["reasons"].str.len().gt(0).all()
    # One code per reason, in the same order; a detractor's first reason is coded so.
    texts = scored["reasons"].map(lambda s: [r for r in s.split("; ") if r])
    codes = scored["reason_codes"].map(lambda s: [c for c in s.split(";") if c])
    assert (texts.map(len) == codes.map(len)).all()
    pairs = zip(texts, codes, strict=True)
    first = [c[0] for t, c in pairs if t and t[0].startswith("detractor (")]
    assert first and set(first) == {"nps_detractor"}


# --- reading relations ---------------------------------------------------------------


def test_sql_helpers_for_the_python_models():
    assert frames.sql_date(pd.Timestamp("2026-05-01 13:00")) == "date '2026-05-01'"
    assert frames.customer_sample(100, 400_000) == "true"
    assert frames.customer_sample(2_000_000, 400_000) == "hash(customer_id) % 1000 < 200"


def test_to_pandas_reads_a_duckdb_relation_in_the_database():
    import duckdb

    con = duckdb.connect()
    relation = con.sql("select * from (values (1, 'a'), (2, 'b'), (3, 'c')) as t(x, customer_id)")
    frame = frames.to_pandas(relation, ["customer_id"], "x >= 2")
    assert frame["customer_id"].tolist() == ["b", "c"]
    assert frames.count_rows(relation, "x >= 2") == 2
    assert frames.first_row(relation, ["x"]) == {"x": 1}
    with pytest.raises(ValueError):
        frames.to_pandas(pd.DataFrame({"x": [1]}), ["x"], "x > 0")


def test_driver_importance_without_answers_keeps_the_column_types():
    # A drop whose feedback has no NPS or driver answer: the empty result must still
    # store names as text, or the mart's CASE over names mixes INTEGER and VARCHAR.
    pairs = pd.DataFrame({c: pd.Series(dtype="object") for c in drivers.PAIR_COLUMNS})
    performances = pd.DataFrame({c: pd.Series(dtype="object") for c in drivers.PERFORMANCE_COLUMNS})
    result = drivers.driver_importance(pairs, performances)
    assert result.empty
    assert list(result.columns) == list(drivers.OUTPUT_COLUMNS)
    con = duckdb.connect()
    con.register("result", result)
    types = dict(con.execute("select column_name, column_type from (describe result)").fetchall())
    assert types["element_id"] == "VARCHAR"
    assert types["level_id"] == "VARCHAR"
    assert types["n"] == "BIGINT"
    assert types["relative_weight"] == "DOUBLE"
    assert types["is_low_sample"] == "BOOLEAN"


def test_correlation_interval_is_fishers_z():
    from cx_insights.insights.stats import correlation_interval

    low, high = correlation_interval(0.5, 103)
    assert low == pytest.approx(0.3394, abs=1e-4) and high == pytest.approx(0.6323, abs=1e-4)
    assert all(np.isnan(v) for v in correlation_interval(0.5, 3))


def test_relative_weight_intervals_hold_the_estimate_narrow_with_n_and_repeat():
    from cx_insights.insights.stats import relative_weight_share_intervals, relative_weights

    # Outcome first: drivers correlating 0.5, 0.3 and 0.05 with NPS, 0.2 with each other.
    full = np.array(
        [
            [1.0, 0.5, 0.3, 0.05],
            [0.5, 1.0, 0.2, 0.2],
            [0.3, 0.2, 1.0, 0.2],
            [0.05, 0.2, 0.2, 1.0],
        ]
    )
    shares = relative_weights(full[1:, 1:], full[0, 1:]).shares
    low, high = relative_weight_share_intervals(full, 400)
    assert (low <= shares).all() and (shares <= high).all()
    low_big, high_big = relative_weight_share_intervals(full, 40_000)
    assert ((high_big - low_big) < (high - low)).all()
    again = relative_weight_share_intervals(full, 400)
    assert np.array_equal(low, again[0]) and np.array_equal(high, again[1])
    assert np.isnan(relative_weight_share_intervals(full, 4)[0]).all()


def test_a_rating_of_exactly_six_is_adverse_however_the_engine_rounded_it():
    adverse, _ = risk.ADVERSE["survey_rating"]
    # 6 / 10 averaged by DuckDB or PostgreSQL: equal to 1e-15, one bit either side
    for rating in (0.6, 0.6000000000000001, 0.5999999999999999, 0.3 + 0.3):
        assert adverse(np.array([rating]))[0], rating
    assert not adverse(np.array([0.61]))[0]


def test_a_rating_reads_the_same_whichever_engine_averaged_it():
    for low, high in ((0.5549999999999999, 0.5550000000000001), (0.6, 0.6000000000000001)):
        assert reasons._out_of_ten(low) == reasons._out_of_ten(high)
    assert reasons._out_of_ten(0.555) == "5.6"  # halves round up
    assert reasons._out_of_ten(0.0) == "0.0" and reasons._out_of_ten(1.0) == "10.0"


def test_relative_weights_of_many_draws_at_once_equal_one_by_one():
    """The bootstrap's stacked computation gives each draw's shares as
    relative_weights does, and leaves out a draw that is not positive definite."""
    from cx_insights.insights.stats import _shares_of_draws, relative_weights

    rng = np.random.default_rng(5)
    corr = []
    for _ in range(20):
        data = rng.normal(size=(60, 4))
        data[:, 0] += data[:, 1:].sum(1)
        corr.append(np.corrcoef(data, rowvar=False))
    singular = np.ones((4, 4))  # every variable the same: eigenvalues 4, 0, 0, 0
    corr = np.stack([*corr[:10], singular, *corr[10:]])
    stacked = _shares_of_draws(corr[:, 1:, 1:], corr[:, 0, 1:])
    expected = [relative_weights(c[1:, 1:], c[0, 1:]).shares for i, c in enumerate(corr) if i != 10]
    assert stacked.shape == (20, 3)
    np.testing.assert_allclose(stacked, np.asarray(expected), rtol=1e-12)


def test_no_active_customer_gives_no_risks_with_typed_columns():
    """No customer ever active (a drop without CRM): no rows, but every column keeps a
    type: untyped empty columns reached PostgreSQL as integers, which customers_at_risk
    cannot cast to dates (the zoo's drop without CRM on PostgreSQL)."""
    from cx_insights.insights.computed import churn_risks_scored

    types = {"customer_id": "varchar", "segment": "varchar", "latest_nps_category": "varchar"}
    types |= {"as_of_date": "date", "latest_nps_month_start_date": "date"}
    types |= {"first_data_month_start_date": "date", "end_date": "date"}
    types |= {"scheduled_end_at": "timestamp with time zone"}
    types |= {c: "boolean" for c in risk.SNAPSHOT_COLUMNS if c.startswith("is_")}
    columns = ", ".join(
        f"cast(null as {types.get(c, 'double')}) as {c}"
        for c in (*risk.SNAPSHOT_COLUMNS, "first_data_month_start_date", "end_date")
    )
    with duckdb.connect() as con:
        snapshots = con.sql(f"select {columns} where false")
        scored = churn_risks_scored(snapshots)
        assert scored.empty
        assert list(scored.columns) == [*risk.SNAPSHOT_COLUMNS, *risk.SCORE_COLUMNS]
        con.register("scored", scored)
        stored = dict(
            con.execute("select column_name, column_type from (describe scored)").fetchall()
        )
    assert stored["as_of_date"] in ("DATE", "TIMESTAMP", "TIMESTAMP_NS")
    for text in ("customer_id", "risk_band", "reasons", "reason_codes"):
        assert stored[text] == "VARCHAR", text
    assert "INTEGER" not in {stored[c] for c in ("risk_band", "latest_nps_month_start_date")}


def test_a_statistics_empty_untyped_columns_reach_the_targets_as_text():
    """An empty statistic (no initiatives: the zoo's surveys-only drop on PostgreSQL)
    had object columns DuckDB stored as INTEGER, which initiative_impact could not cast
    to a timestamp; as text they cast to every type. Typed and filled columns stay."""
    empty = initiatives.initiative_impact(
        pd.DataFrame(columns=["initiative_id", "started_at"]), {}, 1.0
    )
    frame = frames.untyped_as_text(empty.assign(n=pd.Series(dtype="Int64")))
    with duckdb.connect() as con:
        con.register("frame", frame)
        stored = dict(
            con.execute("select column_name, column_type from (describe frame)").fetchall()
        )
        casts = con.execute(
            "select cast(started_at as timestamp), cast(roi as double), "
            "cast(is_nps_significant as boolean) from frame"
        ).fetchall()
    assert stored["started_at"] == "VARCHAR" and stored["n"] == "BIGINT"
    assert casts == []
    kept = pd.DataFrame({"x": ["a", None], "y": [None, None], "z": [1.0, None]})
    typed = frames.untyped_as_text(kept).dtypes
    assert typed["x"] == kept.dtypes["x"] and typed["z"] == kept.dtypes["z"]
    assert str(typed["y"]) == "string"
