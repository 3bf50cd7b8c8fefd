"""Small statistics the insight marts share: correlation, relative weights, AUC.

Pure numpy/pandas functions with no warehouse knowledge, so that each one can be
pinned by a unit test on numbers worked out by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# A measure on fewer observations than LOW_SAMPLE_N (dbt var `low_sample_n`) is
# flagged `is_low_sample` (kpis.md).
from cx_insights.config import LOW_SAMPLE_N

#: Fewest pairs a correlation is computed on; below it the correlation is null.
MIN_PAIRS = 3
#: The normal quantile of kpis.md's 95 % intervals.
Z95 = 1.96


def is_low_sample(n: int | float | None) -> bool:
    return n is None or bool(pd.isna(n)) or n < LOW_SAMPLE_N


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Pearson correlation over the pairs where both are present, and the pair count.

    NaN when there are fewer than MIN_PAIRS pairs or either side is constant.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    n = int(both.sum())
    if n < MIN_PAIRS:
        return float("nan"), n
    xd = x[both] - x[both].mean()
    yd = y[both] - y[both].mean()
    denominator = np.sqrt((xd * xd).sum() * (yd * yd).sum())
    if denominator == 0:
        return float("nan"), n
    return float((xd * yd).sum() / denominator), n


def nearest_correlation(matrix: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """A positive-definite correlation matrix close to `matrix` (eigenvalue clipping).

    Pairwise-complete correlations need not form a valid correlation matrix;
    clipping the eigenvalues at `floor` and rescaling to a unit diagonal makes
    the relative-weight decomposition well defined. A valid matrix passes
    through unchanged (up to rounding).
    """
    sym = (matrix + matrix.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(sym)
    if eigenvalues.min() >= floor:
        return sym
    clipped = eigenvectors @ np.diag(np.maximum(eigenvalues, floor)) @ eigenvectors.T
    d = np.sqrt(np.diag(clipped))
    return clipped / np.outer(d, d)


@dataclass(frozen=True)
class RelativeWeights:
    """Johnson's (2000) relative weights of k predictors of one outcome."""

    #: Raw weights, one per predictor; they sum to r_squared.
    raw: np.ndarray
    #: R-squared of the least-squares regression of the outcome on all predictors.
    r_squared: float

    @property
    def shares(self) -> np.ndarray:
        """Weights as percentages of R-squared (sum to 100; NaN when R-squared is 0)."""
        if self.r_squared <= 0:
            return np.full(len(self.raw), np.nan)
        return 100 * self.raw / self.r_squared


def relative_weights(rxx: np.ndarray, rxy: np.ndarray) -> RelativeWeights:
    """Johnson's relative weights from the predictors' correlation matrix and their
    correlations with the outcome.

    With Rxx = V diag(lambda) V', Lambda = V diag(sqrt(lambda)) V' (= Rxx^1/2)
    links each predictor to its closest orthogonal counterpart; the outcome is
    regressed on the orthogonal variables (beta = Lambda^-1 rxy) and predictor
    j receives sum_k Lambda_jk^2 beta_k^2. The weights sum to R^2 = rxy' Rxx^-1 rxy.
    """
    rxx = np.asarray(rxx, dtype=float)
    rxy = np.asarray(rxy, dtype=float)
    eigenvalues, eigenvectors = np.linalg.eigh((rxx + rxx.T) / 2)
    if eigenvalues.min() <= 0:
        raise ValueError("the predictors' correlation matrix is not positive definite")
    root = eigenvectors @ np.diag(np.sqrt(eigenvalues)) @ eigenvectors.T
    beta = np.linalg.solve(root, rxy)
    raw = (root**2) @ (beta**2)
    r_squared = float(rxy @ np.linalg.solve(rxx, rxy))
    return RelativeWeights(raw=raw, r_squared=r_squared)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half (Mann-Whitney U / (n1 n0)).

    NaN when either class is empty.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    n_pos = int(labels.sum())
    n_neg = int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()  # ties share their mean rank
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def auc_interval(area: float, n_pos: int, n_neg: int, z: float = Z95) -> tuple[float, float]:
    """95 % interval of an AUC (Hanley and McNeil, 1982), clipped to [0, 1].

    se^2 = (A (1 - A) + (n1 - 1)(Q1 - A^2) + (n0 - 1)(Q2 - A^2)) / (n1 n0) with
    Q1 = A / (2 - A) and Q2 = 2 A^2 / (1 + A). NaN without both classes.
    """
    if pd.isna(area) or n_pos <= 0 or n_neg <= 0:
        return float("nan"), float("nan")
    q1 = area / (2 - area)
    q2 = 2 * area**2 / (1 + area)
    variance = (area * (1 - area) + (n_pos - 1) * (q1 - area**2) + (n_neg - 1) * (q2 - area**2)) / (
        n_pos * n_neg
    )
    se = float(np.sqrt(max(variance, 0.0)))
    return float(max(0.0, area - z * se)), float(min(1.0, area + z * se))


def median_split_high(values: pd.Series) -> pd.Series:
    """True where a value is at or above the median of the non-null values (null stays null)."""
    median = values.median()
    return values.ge(median).where(values.notna())


#: Draws of the parametric bootstrap of relative weights, and its fixed seed.
WEIGHT_DRAWS = 1000
WEIGHT_SEED = 20261204


def relative_weight_share_intervals(
    correlations: np.ndarray, n: int, draws: int = WEIGHT_DRAWS, seed: int = WEIGHT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """95 % intervals of each predictor's share of R-squared (in %), by a parametric
    bootstrap of the correlation matrix (outcome first, then the predictors).

    The sums the database keeps allow no resampling of responses, so the sample
    covariance of n responses is drawn from its Wishart distribution around the
    observed matrix (normal theory), turned into a correlation matrix, and the
    relative weights recomputed: the 2.5th and 97.5th percentiles of the shares.
    Seeded: a rebuild gives the same intervals. NaN when n is too small.
    """
    from scipy.stats import wishart

    correlations = np.asarray(correlations, dtype=float)
    k = correlations.shape[0] - 1
    nan = np.full(k, np.nan)
    if k < 1 or n <= k + 2:
        return nan, nan
    samples = wishart.rvs(
        df=n - 1,
        scale=correlations / (n - 1),
        size=draws,
        random_state=np.random.default_rng(seed),
    )
    samples = samples.reshape(draws, k + 1, k + 1)
    scale = np.sqrt(np.diagonal(samples, axis1=1, axis2=2))
    corr = samples / (scale[:, :, None] * scale[:, None, :])
    try:
        shares = _shares_of_draws(corr[:, 1:, 1:], corr[:, 0, 1:])
    except np.linalg.LinAlgError:  # a draw singular beyond its eigenvalues: one by one
        shares = []
        for c in corr:
            try:
                result = relative_weights(c[1:, 1:], c[0, 1:])
            except (ValueError, np.linalg.LinAlgError):
                continue
            if result.r_squared > 0:
                shares.append(result.shares)
        shares = np.asarray(shares)
    if len(shares) < draws // 2:
        return nan, nan
    low, high = np.percentile(shares, [2.5, 97.5], axis=0)
    return low, high


def _shares_of_draws(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """relative_weights(...).shares of every draw at once (draws x k x k and draws x k,
    numpy's stacked eigh and solve: 45 driver models x 1,000 draws one by one spent
    3 s in numpy's per-call overhead), leaving out the draws relative_weights
    rejects (not positive definite) and those without explained variance."""
    eigenvalues, eigenvectors = np.linalg.eigh((rxx + np.swapaxes(rxx, 1, 2)) / 2)
    keep = eigenvalues.min(axis=1) > 0
    eigenvalues, eigenvectors, rxx, rxy = (
        eigenvalues[keep],
        eigenvectors[keep],
        rxx[keep],
        rxy[keep],
    )
    root = eigenvectors @ (np.sqrt(eigenvalues)[:, :, None] * np.swapaxes(eigenvectors, 1, 2))
    beta = np.linalg.solve(root, rxy[:, :, None])[:, :, 0]
    raw = ((root**2) @ (beta**2)[:, :, None])[:, :, 0]
    r_squared = np.einsum("dk,dk->d", rxy, np.linalg.solve(rxx, rxy[:, :, None])[:, :, 0])
    positive = r_squared > 0
    return 100 * raw[positive] / r_squared[positive][:, None]


def correlation_interval(r: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % interval of a Pearson correlation (Fisher's z); NaN below 4 pairs."""
    if n is None or n < 4 or np.isnan(r) or abs(r) >= 1:
        return float("nan"), float("nan")
    centre, half = np.arctanh(r), z / np.sqrt(n - 3)
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson interval of a share, in % (NaN without observations)."""
    if not n:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n * n)) / (1 + z**2 / n)
    return 100 * (centre - half), 100 * (centre + half)
