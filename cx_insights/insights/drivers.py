"""Driver importance: what explains the NPS answer, per journey and for the company.

Three families of elements, each with its own regression and its own relative
weights (shares sum to 100 within level, level_id and element_type), both
paired on the survey response (an element's answer and the NPS answer of the
same response):

* ``driver``: the experience elements that `driver` questions rate (ease,
  speed, ...). Correlations are pairwise complete: a response that skipped a
  driver still counts for the others. Should the pairwise correlations not
  form a valid correlation matrix, it is repaired to the nearest one.
* ``touchpoint``: the satisfaction (csat) of each touchpoint. One response
  rates one touchpoint only, so a touchpoint's predictor is its csat as a
  deviation from the touchpoint's mean csat on the responses that rated it,
  and 0 on every other response. These predictors are uncorrelated, so each
  touchpoint's relative weight is the share of NPS variance across all
  responses in scope that its own satisfaction explains (strength of the link
  times reach).
* ``topic``: what customers write, as drivers. Over the responses with an NPS
  answer and an analysed comment, each verbatim topic's indicator (1 when the
  comment is about it, else 0; a comment no topic describes is 0 on all). Weighed
  like the drivers, from the same kind of pair sums; no performance (a topic is not
  rated), so no quadrant.

Scope: a journey holds the responses on its touchpoints; the company holds
every response. Answers are positions 0..1 on their question's scale, so
questions with different scales may rate the same element; performance is
reported on the element's most common scale.

Everything here works from sums the database computes (the SQL models
int_driver_statistics_aggregated and int_driver_performances_aggregated), so
no single answer has to be read into memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cx_insights.insights.stats import (
    MIN_PAIRS,
    correlation_interval,
    is_low_sample,
    median_split_high,
    nearest_correlation,
    relative_weight_share_intervals,
    relative_weights,
)

#: The windows of int_driver_windows, in the order they are listed.
WINDOW_ALL = "all"
WINDOWS = (WINDOW_ALL, "last_12_months", "last_3_months")

#: element_b of the pairs with the NPS answer; element_a of the driver model's size row.
NPS = "__nps__"
ANY = "__any__"

#: Columns of the pair sums driver_importance() reads (one row per level, level_id,
#: element_type, element_a, element_b; over the responses holding both values).
PAIR_COLUMNS = (
    "level",
    "level_id",
    "window_name",
    "element_type",
    "element_a",
    "element_b",
    "n",
    "sum_a",
    "sum_b",
    "sum_aa",
    "sum_bb",
    "sum_ab",
)
#: Columns of the performance sums (one row per level, level_id, element_type, element_id).
PERFORMANCE_COLUMNS = (
    "level",
    "level_id",
    "window_name",
    "element_type",
    "element_id",
    "answers",
    "position_sum",  # positions 0..1 on the answers' own scales
    "top_2_box_answers",  # value >= scale_max - 1 on the answer's own scale
    "scale_min",  # the element's most common scale
    "scale_max",
)

QUADRANTS = {
    (True, False): "fix first",
    (True, True): "keep up",
    (False, True): "maintain",
    (False, False): "low priority",
}

OUTPUT_COLUMNS = (
    "level",
    "level_id",
    "window_name",
    "element_type",
    "element_id",
    "pairing",
    "n",
    "pearson_r",
    "pearson_r_ci_low",
    "pearson_r_ci_high",
    "relative_weight",
    "relative_weight_share",
    "relative_weight_share_ci_low",
    "relative_weight_share_ci_high",
    "is_significant",
    "importance_rank",
    "model_r_squared",
    "model_n",
    "performance_mean",
    "performance_scale_min",
    "performance_scale_max",
    "performance_top_2_box_pct",
    "performance_n",
    "quadrant",
    "is_low_sample",
)


#: The dtypes of an empty result: without them an empty frame has object columns,
#: which the warehouse stores as INTEGER, and the mart's CASE over names fails.
OUTPUT_DTYPES = {
    "level": "string",
    "level_id": "string",
    "window_name": "string",
    "element_type": "string",
    "element_id": "string",
    "pairing": "string",
    "n": "Int64",
    "pearson_r": "float64",
    "pearson_r_ci_low": "float64",
    "pearson_r_ci_high": "float64",
    "relative_weight": "float64",
    "relative_weight_share": "float64",
    "relative_weight_share_ci_low": "float64",
    "relative_weight_share_ci_high": "float64",
    "is_significant": "boolean",
    "importance_rank": "float64",
    "model_r_squared": "float64",
    "model_n": "Int64",
    "performance_mean": "float64",
    "performance_scale_min": "float64",
    "performance_scale_max": "float64",
    "performance_top_2_box_pct": "float64",
    "performance_n": "Int64",
    "quadrant": "string",
    "is_low_sample": "boolean",
}


def empty_output() -> pd.DataFrame:
    """No rows, with the output's column types."""
    return pd.DataFrame({c: pd.Series(dtype=OUTPUT_DTYPES[c]) for c in OUTPUT_COLUMNS})


def quadrant(is_high_importance: bool | None, is_high_performance: bool | None) -> str | None:
    """'fix first' (important, performing below the median), 'keep up' (important,
    performing well), 'maintain' (less important, performing well), 'low priority'."""
    if is_high_importance is None or is_high_performance is None:
        return None
    if pd.isna(is_high_importance) or pd.isna(is_high_performance):
        return None
    return QUADRANTS[(bool(is_high_importance), bool(is_high_performance))]


def assign_quadrants(importance: pd.Series, performance: pd.Series) -> pd.Series:
    """Quadrant of each element, splitting importance and performance at their medians
    over the elements that have both (at or above the median = high)."""
    both = importance.notna() & performance.notna()
    high_importance = median_split_high(importance.where(both))
    high_performance = median_split_high(performance.where(both))
    return pd.Series(
        [
            quadrant(i, p) if ok else None
            for i, p, ok in zip(high_importance, high_performance, both, strict=True)
        ],
        index=importance.index,
        dtype=object,
    )


def correlation_from_sums(
    n: float, sum_a: float, sum_b: float, sum_aa: float, sum_bb: float, sum_ab: float
) -> float:
    """Pearson correlation from the count and sums of two paired variables (NaN for
    fewer than MIN_PAIRS pairs or a constant side)."""
    if n < MIN_PAIRS:
        return float("nan")
    s_ab = sum_ab - sum_a * sum_b / n
    s_aa = sum_aa - sum_a * sum_a / n
    s_bb = sum_bb - sum_b * sum_b / n
    if s_aa <= 1e-12 * max(1.0, abs(sum_aa)) or s_bb <= 1e-12 * max(1.0, abs(sum_bb)):
        return float("nan")
    return float(np.clip(s_ab / np.sqrt(s_aa * s_bb), -1.0, 1.0))


def _correlation(row: pd.Series) -> float:
    return correlation_from_sums(
        row["n"], row["sum_a"], row["sum_b"], row["sum_aa"], row["sum_bb"], row["sum_ab"]
    )


def _weights_rows(
    names: list[str],
    n: list[int],
    r: list[float],
    weights: dict[int, tuple[float, float]],
    r_squared: float,
    model_n: int,
    intervals: dict[int, tuple[float, float]] | None = None,
) -> list[dict]:
    rows = []
    for i, name in enumerate(names):
        raw, share = weights.get(i, (float("nan"), float("nan")))
        share_low, share_high = (intervals or {}).get(i, (float("nan"), float("nan")))
        r_low, r_high = correlation_interval(r[i], int(n[i]))
        rows.append(
            {
                "element_id": name,
                "n": int(n[i]),
                "pearson_r": r[i],
                "pearson_r_ci_low": r_low,
                "pearson_r_ci_high": r_high,
                "relative_weight": raw,
                "relative_weight_share": share,
                "relative_weight_share_ci_low": share_low,
                "relative_weight_share_ci_high": share_high,
                # Its link with NPS can be told from none: the correlation's interval
                # excludes 0, on at least LOW_SAMPLE_N responses.
                "is_significant": bool(
                    not is_low_sample(int(n[i]))
                    and not np.isnan(r_low)
                    and (r_low > 0 or r_high < 0)
                ),
                "model_r_squared": r_squared if i in weights else float("nan"),
                "model_n": model_n if i in weights else 0,
            }
        )
    return rows


def _driver_family(pairs: pd.DataFrame) -> list[dict]:
    """Pearson and relative weights of the drivers in one scope, from their pair sums."""
    with_nps = pairs[(pairs["element_b"] == NPS) & (pairs["element_a"] != ANY)]
    names = sorted(with_nps["element_a"].astype(str))
    if not names:
        return []
    by_name = with_nps.set_index("element_a")
    r = [_correlation(by_name.loc[name]) for name in names]
    n = [int(by_name.loc[name, "n"]) for name in names]
    between = {
        frozenset((row["element_a"], row["element_b"])): _correlation(row)
        for _, row in pairs.iterrows()
        if row["element_b"] != NPS and row["element_a"] != ANY
    }
    usable = [i for i in range(len(names)) if n[i] >= MIN_PAIRS and not np.isnan(r[i])]
    weights: dict[int, tuple[float, float]] = {}
    r_squared = float("nan")
    sizes = pairs.loc[pairs["element_a"] == ANY, "n"]
    model_n = int(sizes.iloc[0]) if len(sizes) else 0
    if usable:
        k = len(usable)
        # outcome first, then the usable drivers; a pair never rated together counts as 0
        full = np.eye(k + 1)
        for i, ui in enumerate(usable):
            full[0, i + 1] = full[i + 1, 0] = r[ui]
            for j in range(i + 1, k):
                value = between.get(frozenset((names[ui], names[usable[j]])), float("nan"))
                full[i + 1, j + 1] = full[j + 1, i + 1] = 0.0 if np.isnan(value) else value
        # pairwise-complete correlations can promise more than a real data set can
        # deliver (an R-squared above 1): repair outcome and predictors together
        full = nearest_correlation(full)
        result = relative_weights(full[1:, 1:], full[0, 1:])
        r_squared = result.r_squared
        for ui, raw, share in zip(usable, result.raw, result.shares, strict=True):
            weights[ui] = (float(raw), float(share))
        low, high = relative_weight_share_intervals(full, model_n)
        intervals = {
            ui: (float(lo), float(hi)) for ui, lo, hi in zip(usable, low, high, strict=True)
        }
    else:
        intervals = {}
    return _weights_rows(names, n, r, weights, r_squared, model_n, intervals)


def _touchpoint_family(pairs: pd.DataFrame) -> list[dict]:
    """Pearson (within each touchpoint) and relative weights of the touchpoints' csat in
    one scope, from the sums of each touchpoint's csat with the NPS of the same response."""
    rows = pairs[pairs["element_b"] == NPS].sort_values("element_a")
    if rows.empty:
        return []
    names = rows["element_a"].astype(str).tolist()
    n = rows["n"].astype(int).tolist()
    r = [_correlation(row) for _, row in rows.iterrows()]
    # All responses of the scope: NPS variance around the overall mean.
    total_n = rows["n"].sum()
    sst = rows["sum_bb"].sum() - rows["sum_b"].sum() ** 2 / total_n
    s_xy = rows["sum_ab"] - rows["sum_a"] * rows["sum_b"] / rows["n"]
    s_xx = rows["sum_aa"] - rows["sum_a"] ** 2 / rows["n"]
    usable = [
        i
        for i in range(len(names))
        if n[i] >= MIN_PAIRS and not np.isnan(r[i]) and s_xx.iloc[i] > 0 and sst > 0
    ]
    weights: dict[int, tuple[float, float]] = {}
    r_squared = float("nan")
    if usable:
        # correlation of NPS with each (uncorrelated) deviation predictor over all responses
        r_all = np.array([s_xy.iloc[i] / np.sqrt(sst * s_xx.iloc[i]) for i in usable])
        result = relative_weights(np.eye(len(usable)), r_all)
        r_squared = result.r_squared
        for ui, raw, share in zip(usable, result.raw, result.shares, strict=True):
            weights[ui] = (float(raw), float(share))
        full = np.eye(len(usable) + 1)
        full[0, 1:] = full[1:, 0] = r_all
        low, high = relative_weight_share_intervals(nearest_correlation(full), int(total_n))
        intervals = {
            ui: (float(lo), float(hi)) for ui, lo, hi in zip(usable, low, high, strict=True)
        }
    else:
        intervals = {}
    return _weights_rows(names, n, r, weights, r_squared, int(total_n), intervals)


def _performance(row: pd.Series) -> dict[str, float | int]:
    answers = int(row["answers"])
    span = float(row["scale_max"]) - float(row["scale_min"])
    return {
        "performance_mean": float(row["scale_min"]) + float(row["position_sum"]) / answers * span,
        "performance_scale_min": float(row["scale_min"]),
        "performance_scale_max": float(row["scale_max"]),
        "performance_top_2_box_pct": 100 * float(row["top_2_box_answers"]) / answers,
        "performance_n": answers,
    }


def driver_importance(pairs: pd.DataFrame, performances: pd.DataFrame) -> pd.DataFrame:
    """One row per (level, level_id, window_name, element_type, element_id); see the
    module docstring. Each window (int_driver_windows: every answer so far, the last 12
    and 3 complete months) is a scope of its own.

    pairs: PAIR_COLUMNS; performances: PERFORMANCE_COLUMNS (without window_name: 'all').
    """
    pairs = pairs if "window_name" in pairs.columns else pairs.assign(window_name=WINDOW_ALL)
    if "window_name" not in performances.columns:
        performances = performances.assign(window_name=WINDOW_ALL)
    keys = ["level", "level_id", "window_name", "element_type"]
    perf = {
        (
            row["level"],
            row["level_id"],
            row["window_name"],
            row["element_type"],
            row["element_id"],
        ): _performance(row)
        for _, row in performances.iterrows()
        if row["answers"] > 0
    }
    scopes = set(map(tuple, pairs[keys].drop_duplicates().to_numpy().tolist()))
    scopes |= {key[:4] for key in perf}
    rows: list[dict] = []
    for level, level_id, window, element_type in sorted(scopes):
        scope = pairs[
            (pairs["level"] == level)
            & (pairs["level_id"] == level_id)
            & (pairs["window_name"] == window)
            & (pairs["element_type"] == element_type)
        ]
        # Topics, like drivers, are several predictors of each response's NPS.
        family = _driver_family if element_type in ("driver", "topic") else _touchpoint_family
        found = {row["element_id"]: row for row in family(scope)}
        here = (level, level_id, window, element_type)
        elements = set(found) | {k[4] for k in perf if k[:4] == here}
        for element_id in sorted(elements):
            row = (
                found.get(element_id)
                or _weights_rows([element_id], [0], [float("nan")], {}, float("nan"), 0)[0]
            )
            missing = dict.fromkeys(
                (
                    "performance_mean",
                    "performance_scale_min",
                    "performance_scale_max",
                    "performance_top_2_box_pct",
                ),
                float("nan"),
            )
            row.update(perf.get((*here, element_id), missing))
            row.setdefault("performance_n", 0)
            row.update(
                level=level,
                level_id=level_id,
                window_name=window,
                element_type=element_type,
                pairing="response",
            )
            rows.append(row)
    result = pd.DataFrame(rows, columns=[c for c in OUTPUT_COLUMNS if c not in ("quadrant",)])
    if result.empty:
        return empty_output()
    group = result.groupby(["level", "level_id", "window_name", "element_type"], sort=False)
    result["importance_rank"] = group["relative_weight_share"].rank(ascending=False, method="min")
    result["quadrant"] = None
    for _, idx in group.groups.items():
        result.loc[idx, "quadrant"] = assign_quadrants(
            result.loc[idx, "relative_weight_share"],
            result.loc[idx, "performance_top_2_box_pct"],
        )
    result["is_low_sample"] = result["n"].map(is_low_sample)
    order = {"company": 0, "journey": 1}
    windows = {name: i for i, name in enumerate(WINDOWS)}
    result = result.sort_values(
        ["level", "level_id", "window_name", "element_type", "importance_rank", "element_id"],
        key=lambda s: (
            s.map(order)
            if s.name == "level"
            else s.map(windows).fillna(len(windows))
            if s.name == "window_name"
            else s
        ),
        na_position="last",
    )
    return result[list(OUTPUT_COLUMNS)].reset_index(drop=True)
