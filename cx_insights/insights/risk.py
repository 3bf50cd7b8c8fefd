"""Customers at risk: a transparent churn model, its reasons in words, and a backtest.

A *snapshot* is a customer active at a month start (the as-of instant), with
facts computed only from what happened before it and labels saying whether
the customer churned in the 3 (6) months from it. The SQL model
int_churn_snapshots_computed builds them (SNAPSHOT_COLUMNS); here they become
model features, a logistic regression on standardised features is fitted on
the snapshots whose 3-month label is known and whose look-back windows lie
inside the data, and the customers active at the end of the data are scored,
banded and given their reasons.

The end of the data is the last observed event (a survey answer, ticket, web
event, invoice or subscription start), never a scheduled subscription end: a
label is observed only when its whole horizon lies before that instant. A
customer active then whose every subscription has an end scheduled after it
has announced leaving: band SCHEDULED_TO_END, whatever the score says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cx_insights.insights.reasons import reason_code, reason_text
from cx_insights.insights.stats import LOW_SAMPLE_N, auc, auc_interval

#: Months ahead the score predicts churn for (the label is_churned_within_3_months).
#: The backtest counts churn over the same horizon, so score and label agree.
HORIZON_MONTHS = 3
#: Months of history the longest look-back window needs.
LOOKBACK_MONTHS = 6
#: A new customer signed up less than this many days before the as-of instant.
NEW_CUSTOMER_DAYS = 90
#: Bands: high at least HIGH_LIFT times the average churn probability, medium above it.
HIGH_LIFT = 2.0
MEDIUM_LIFT = 1.0
#: The band of a customer whose every subscription ends, as scheduled, after the data end.
SCHEDULED_TO_END = "scheduled_to_end"
#: A reason is named when it adds at least this much to the log-odds of churn.
REASON_MIN_LOG_ODDS = 0.1
MAX_REASONS = 3
#: Beyond this many training snapshots, a deterministic sample of customers is fitted on.
MAX_TRAINING_ROWS = 400_000

#: What int_churn_snapshots_computed provides for each snapshot.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment",
    "as_of_date",
    "mrr",
    "is_churned_within_3_months",
    "is_churned_within_6_months",
    "latest_nps_score",
    "latest_nps_category",  # promoter, passive, detractor or no_answer
    "latest_nps_month_start_date",
    "detractor_answers_6m",
    "survey_rating",  # mean position 0..1 of every numeric survey answer so far
    "survey_answers",
    "tickets_3m",
    "unresolved_tickets",  # created before as-of and not solved before it
    "slow_tickets_3m",
    "bad_rated_tickets_6m",
    "sessions_last_month",
    "sessions_last_3m",
    "sessions_prev_3m",
    "tenure_days",
    "scheduled_end_at",  # at the data end: when the last of its subscriptions ends, if all do
)

FEATURES: tuple[str, ...] = (
    "is_detractor",  # latest NPS answer before as-of was 0..6
    "has_no_nps_answer",  # no NPS answer before as-of
    "detractor_answers_6m",
    "survey_rating",
    "unresolved_tickets",
    "slow_tickets_3m",
    "bad_rated_tickets_6m",
    "sessions_trend",  # log((last 3 months + 1) / (previous 3 + 1))
    "sessions_last_month_trend",  # log((last month + .5) / (previous 3 / 3 + .5))
    "is_new_customer",  # signed up less than NEW_CUSTOMER_DAYS before
    "log_mrr",  # log(1 + MRR)
)
#: What score() adds to the snapshots, and the keys of backtest().
SCORE_COLUMNS: tuple[str, ...] = (
    "churn_risk_score",
    "risk_lift",
    "risk_band",
    "reasons",
    "reason_codes",
    "model_n",
    "model_churners",
    "model_base_rate",
    "is_low_sample",
)
#: The backtest row's columns and types, so that a backtest that cannot be run (all
#: nulls) still reaches the database as dates, counts, flags and texts, not as
#: untyped nulls (which DuckDB stores as INTEGER and PostgreSQL cannot cast to date).
BACKTEST_DTYPES: dict[str, str] = {
    "as_of_date": "datetime64[us]",
    "training_from_date": "datetime64[us]",
    "training_to_date": "datetime64[us]",
    "label_horizon_months": "Int64",
    "test_horizon_months": "Int64",
    "training_n": "Int64",
    "training_churners": "Int64",
    "n": "Int64",
    "churners": "Int64",
    "auc": "float64",
    "auc_ci_low": "float64",
    "auc_ci_high": "float64",
    "is_model_reliable": "boolean",
    "baseline_rule": "string",
    "baseline_auc": "float64",
    "baseline_auc_ci_low": "float64",
    "baseline_auc_ci_high": "float64",
    "auc_lift_over_baseline": "float64",
    "features": "string",
    "coefficients": "string",
    "is_low_sample": "boolean",
}
BACKTEST_COLUMNS: tuple[str, ...] = tuple(BACKTEST_DTYPES)


def backtest_frame(rows: list[dict]) -> pd.DataFrame:
    """BACKTEST_COLUMNS rows (none or one) as a frame with BACKTEST_DTYPES."""
    frame = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    for column, dtype in BACKTEST_DTYPES.items():
        if dtype.startswith("datetime"):
            frame[column] = pd.to_datetime(frame[column])
    return frame.astype(BACKTEST_DTYPES)


#: Per customer scored at the backtest's as-of instant (int_churn_backtest_scored).
BACKTEST_SCORE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment",
    "as_of_date",
    "churn_risk_score",
    "baseline_score",
    "is_churned",
    "mrr",
    "training_from_date",
    "training_to_date",
    "training_n",
    "training_churners",
    "coefficients",
)
#: The simple rule the model must beat: a detractor answer last, and open tickets.
BASELINE_RULE = "latest NPS answer a detractor (+1) and any unresolved ticket (+1)"
#: Features that read as one reason each: what the customer told us, and web usage.
REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "surveys": ("is_detractor", "has_no_nps_answer", "detractor_answers_6m", "survey_rating"),
    "sessions": ("sessions_trend", "sessions_last_month_trend"),
}
#: A survey rating at or below this position (6 / 10) is an adverse fact.
ADVERSE_RATING = 0.6
#: The rating is an average the database computes in floating point: an average of
#: exactly 6 / 10 can arrive as 0.6000000000000001 on one engine and 0.6 on another
#: (DuckDB and PostgreSQL turn doubles into decimals differently). Within this slack
#: it is at the threshold, so the same customer gets the same reasons on every target.
RATING_SLACK = 1e-9
#: When a feature's value is an adverse fact, and the sign its coefficient must have for
#: that fact to raise the risk. A feature can be a reason only when both hold: 0
#: unresolved tickets never is, nor a coefficient the data happened to turn around.
#: The size of the subscription is not a fact about the experience: never a reason.
ADVERSE: dict[str, tuple[object, int]] = {
    "is_detractor": (lambda v: v > 0, 1),
    "has_no_nps_answer": (lambda v: v > 0, 1),
    "detractor_answers_6m": (lambda v: v > 0, 1),
    "survey_rating": (lambda v: v <= ADVERSE_RATING + RATING_SLACK, -1),
    "unresolved_tickets": (lambda v: v > 0, 1),
    "slow_tickets_3m": (lambda v: v > 0, 1),
    "bad_rated_tickets_6m": (lambda v: v > 0, 1),
    "sessions_trend": (lambda v: v < 0, -1),
    "sessions_last_month_trend": (lambda v: v < 0, -1),
    "is_new_customer": (lambda v: v > 0, 1),
}


def model_features(snapshots: pd.DataFrame) -> pd.DataFrame:
    """FEATURES of each snapshot from its facts (survey_rating may be missing)."""
    s = snapshots
    last_3m = s["sessions_last_3m"].astype(float)
    prev_3m = s["sessions_prev_3m"].astype(float)
    return pd.DataFrame(
        {
            "is_detractor": (s["latest_nps_category"] == "detractor").astype(float),
            "has_no_nps_answer": (s["latest_nps_category"] == "no_answer").astype(float),
            "detractor_answers_6m": s["detractor_answers_6m"].astype(float),
            "survey_rating": s["survey_rating"].astype(float),
            "unresolved_tickets": s["unresolved_tickets"].astype(float),
            "slow_tickets_3m": s["slow_tickets_3m"].astype(float),
            "bad_rated_tickets_6m": s["bad_rated_tickets_6m"].astype(float),
            "sessions_trend": np.log((last_3m + 1) / (prev_3m + 1)),
            "sessions_last_month_trend": np.log(
                (s["sessions_last_month"].astype(float) + 0.5) / (prev_3m / 3 + 0.5)
            ),
            "is_new_customer": (s["tenure_days"].astype(float) < NEW_CUSTOMER_DAYS).astype(float),
            "log_mrr": np.log1p(s["mrr"].astype(float).clip(lower=0)),
        },
        index=s.index,
    )[list(FEATURES)]


def add_months(date: object, months: int) -> pd.Timestamp:
    return pd.Timestamp(date) + pd.DateOffset(months=months)


def training_range(first_data_month: object, cutoff: object) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last as-of date of the snapshots a model known at `cutoff` fits on:
    full look-back windows inside the data, and a 3-month outcome observed by `cutoff`."""
    return add_months(first_data_month, LOOKBACK_MONTHS), add_months(cutoff, -HORIZON_MONTHS)


def backtest_as_of(data_end: object) -> pd.Timestamp:
    """The latest month start T whose HORIZON_MONTHS outcome lies inside the data
    (T + horizon <= the last observed event)."""
    shifted = pd.Timestamp(data_end) - pd.DateOffset(months=HORIZON_MONTHS)
    return pd.Timestamp(year=shifted.year, month=shifted.month, day=1)


def is_backtestable(first_data_month: object, as_of: object) -> bool:
    """The look-back and the horizon both fit: the training range (full look-backs,
    outcomes known at T) is not empty."""
    if pd.isna(first_data_month) or pd.isna(as_of):
        return False
    start, stop = training_range(first_data_month, as_of)
    return bool(start <= stop)


# --- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnModel:
    features: tuple[str, ...]
    #: Training means (a missing value is taken as the mean) and standard deviations.
    mean: np.ndarray
    scale: np.ndarray
    #: Coefficients per standard deviation of each feature, and the intercept.
    coef_std: np.ndarray
    intercept_std: float
    #: Snapshots and churners the model was fitted on, and their churn rate.
    n: int
    churners: int
    base_rate: float

    @property
    def coef(self) -> np.ndarray:
        """Coefficients per unit of each feature (log-odds)."""
        return self.coef_std / self.scale

    @property
    def intercept(self) -> float:
        return float(self.intercept_std - (self.coef_std * self.mean / self.scale).sum())

    def standardise(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (np.where(np.isnan(x), self.mean, x) - self.mean) / self.scale

    @property
    def is_fitted(self) -> bool:
        """Both outcomes were seen: with no churner (or only churners) to learn from, the
        model knows nothing and scores nobody."""
        return 0 < self.churners < self.n

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Churn probability within HORIZON_MONTHS (NaN when the model is not fitted)."""
        if not self.is_fitted:
            return np.full(len(x), np.nan)
        return 1 / (1 + np.exp(-(self.intercept_std + self.standardise(x) @ self.coef_std)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's addition to the log-odds compared with the average snapshot."""
        return self.standardise(x) * self.coef_std

    def coefficients_json(self) -> str:
        """Intercept and coefficients per unit of each feature (log-odds), as JSON."""
        values = {"intercept": round(self.intercept, 6)}
        for name, c in zip(self.features, self.coef, strict=True):
            values[name] = round(float(c), 6)
        return json.dumps(values)


def fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...] = FEATURES) -> ChurnModel:
    """Logistic regression (L2, C = 1) on standardised features, missing values at the
    mean; a constant model (the base rate) when the labels hold a single class."""
    x = np.asarray(x, dtype=float).reshape(len(y), len(names))
    y = np.asarray(y, dtype=bool)
    if len(x):
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
    else:
        mean = np.zeros(len(names))
    filled = np.where(np.isnan(x), mean, x)
    scale = filled.std(axis=0) if len(x) else np.ones(len(names))
    # a constant feature (up to rounding) carries no information: leave it unscaled
    scale = np.where(scale > 1e-9 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    base_rate = float(y.mean()) if len(y) else float("nan")
    if len(np.unique(y)) < 2:
        p = min(max(0.5 if np.isnan(base_rate) else base_rate, 1e-6), 1 - 1e-6)
        coef, intercept = np.zeros(len(names)), float(np.log(p / (1 - p)))
    else:
        # Imported here: scikit-learn takes about 1 s to import, and every command that
        # loads the pipeline imports this module, most of them without fitting anything.
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit((filled - mean) / scale, y)
        coef, intercept = model.coef_[0], float(model.intercept_[0])
    return ChurnModel(
        features=tuple(names),
        mean=mean,
        scale=scale,
        coef_std=np.asarray(coef, dtype=float),
        intercept_std=intercept,
        n=len(y),
        churners=int(y.sum()),
        base_rate=base_rate,
    )


def fit_snapshots(training: pd.DataFrame) -> ChurnModel:
    """The churn model fitted on snapshots (3-month label)."""
    return fit(
        model_features(training).to_numpy(float),
        training["is_churned_within_3_months"].astype(bool).to_numpy(),
    )


def risk_band(score: float, base_rate: float) -> str | None:
    """high: at least HIGH_LIFT x the average churn probability; medium: above the
    average (MEDIUM_LIFT x); low otherwise; None without a score."""
    if pd.isna(score) or pd.isna(base_rate):
        return None
    if score >= HIGH_LIFT * base_rate:
        return "high"
    if score > MEDIUM_LIFT * base_rate:
        return "medium"
    return "low"


# --- reasons (their words and codes: cx_insights.insights.reasons) -----------------


def reasons(
    model: ChurnModel, x: np.ndarray, facts: pd.DataFrame, max_reasons: int = MAX_REASONS
) -> list[str]:
    """Per row, the strongest reasons that raise its churn risk (chosen_reasons), in
    words, joined by '; '."""
    return _reason_texts(model, chosen_reasons(model, x, max_reasons), facts.to_dict("records"))


def _reason_texts(model: ChurnModel, chosen: list[list[str]], records: list[dict]) -> list[str]:
    coefficient = dict(zip(model.features, model.coef, strict=True))
    return [
        "; ".join(reason_text(r, records[i], coefficient.get(r, 1.0)) for r in keys)
        for i, keys in enumerate(chosen)
    ]


def chosen_reasons(
    model: ChurnModel, x: np.ndarray, max_reasons: int = MAX_REASONS
) -> list[list[str]]:
    """Per row, the keys of the strongest reasons that raise its churn risk.

    A reason is a feature, or a group of REASON_GROUPS read together, that adds at
    least REASON_MIN_LOG_ODDS to the log-odds of churn compared with the average
    snapshot; the strongest `max_reasons` are named, strongest first. Only what is
    adverse counts (ADVERSE): the fact itself is bad news and its coefficient has the
    expected sign; anything else adds nothing to a reason.
    """
    x = np.asarray(x, dtype=float)
    raw = model.contributions(x)
    coef_sign = np.sign(model.coef_std)
    with np.errstate(invalid="ignore"):
        for j, name in enumerate(model.features):
            rule = ADVERSE.get(name)
            if rule is None:
                raw[:, j] = 0.0
                continue
            is_adverse, expected_sign = rule
            counts = is_adverse(x[:, j]) & (coef_sign[j] == expected_sign)
            raw[:, j] = np.where(counts, raw[:, j], 0.0)
    contributions = pd.DataFrame(raw, columns=list(model.features))
    for reason, members in REASON_GROUPS.items():
        present = [m for m in members if m in contributions.columns]
        if present:
            contributions[reason] = contributions[present].sum(axis=1)
            contributions = contributions.drop(columns=present)
    names = np.array(contributions.columns)
    values = contributions.to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")[:, :max_reasons]
    return [
        [str(names[j]) for j in top if values[i, j] >= REASON_MIN_LOG_ODDS]
        for i, top in enumerate(order)
    ]


# --- scoring and the backtest ------------------------------------------------------------


def score(model: ChurnModel, snapshots: pd.DataFrame) -> pd.DataFrame:
    """The snapshots with their churn risk score, lift, band and reasons.

    An unfitted model (no churner to learn from) gives no score and no band. A
    customer with a cancellation scheduled after the data end is in band
    SCHEDULED_TO_END, the cancellation their first reason."""
    out = snapshots.reset_index(drop=True).copy()
    if "scheduled_end_at" not in out.columns:
        out["scheduled_end_at"] = pd.NaT
    x = model_features(out).to_numpy(float)
    out["churn_risk_score"] = model.predict(x) if len(out) else np.zeros(0)
    out["risk_lift"] = out["churn_risk_score"] / model.base_rate
    out["risk_band"] = [risk_band(s, model.base_rate) for s in out["churn_risk_score"]]
    if model.is_fitted:
        chosen = chosen_reasons(model, x)
        records = out.to_dict("records")
        out["reasons"] = _reason_texts(model, chosen, records)
        out["reason_codes"] = [
            ";".join(reason_code(r, records[i]) for r in keys) for i, keys in enumerate(chosen)
        ]
    else:
        out["reasons"] = ""
        out["reason_codes"] = ""
    scheduled = out["scheduled_end_at"].notna().to_numpy()
    if scheduled.any():
        out["risk_band"] = out["risk_band"].astype(object)
        out.loc[scheduled, "risk_band"] = SCHEDULED_TO_END
        out.loc[scheduled, "reasons"] = [
            "; ".join(t for t in (reason_text("scheduled_end", row), row["reasons"]) if t)
            for _, row in out[scheduled].iterrows()
        ]
        out.loc[scheduled, "reason_codes"] = [
            ";".join(c for c in ("scheduled_end", row["reason_codes"]) if c)
            for _, row in out[scheduled].iterrows()
        ]
    out["model_n"] = model.n
    out["model_churners"] = model.churners
    out["model_base_rate"] = model.base_rate
    out["is_low_sample"] = model.churners < LOW_SAMPLE_N
    return out


def baseline_scores(snapshots: pd.DataFrame) -> np.ndarray:
    """BASELINE_RULE: 1 for a latest NPS answer that was a detractor, plus 1 for any
    unresolved ticket (reopened tickets are not in the facts: fct_tickets keeps a
    ticket's latest state only)."""
    return (snapshots["latest_nps_category"] == "detractor").to_numpy(float) + (
        snapshots["unresolved_tickets"].astype(float) > 0
    ).to_numpy(float)


def backtest_scores(
    model: ChurnModel, test: pd.DataFrame, training_from: object, training_to: object
) -> pd.DataFrame:
    """BACKTEST_SCORE_COLUMNS: each customer active at the backtest's as-of instant with
    the model's score, the baseline's, and whether they churned within HORIZON_MONTHS
    (the label the model was trained for)."""
    test = test.reset_index(drop=True)
    x = model_features(test).to_numpy(float)
    out = pd.DataFrame(
        {
            "customer_id": test["customer_id"],
            "segment": test["segment"],
            "as_of_date": test["as_of_date"],
            "churn_risk_score": model.predict(x),
            "baseline_score": baseline_scores(test),
            "is_churned": test["is_churned_within_3_months"].astype(bool),
            "mrr": test["mrr"].astype(float),
        }
    )
    out["training_from_date"] = pd.Timestamp(training_from)
    out["training_to_date"] = pd.Timestamp(training_to)
    out["training_n"] = model.n
    out["training_churners"] = model.churners
    out["coefficients"] = model.coefficients_json() if model.is_fitted else None
    return out[list(BACKTEST_SCORE_COLUMNS)]


def empty_backtest_scores() -> pd.DataFrame:
    """backtest_scores() of no customer, typed (a table built from it must sum and sort)."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "segment": pd.Series(dtype=str),
            "as_of_date": pd.Series(dtype="datetime64[ns]"),
            "churn_risk_score": pd.Series(dtype=float),
            "baseline_score": pd.Series(dtype=float),
            "is_churned": pd.Series(dtype=bool),
            "mrr": pd.Series(dtype=float),
            "training_from_date": pd.Series(dtype="datetime64[ns]"),
            "training_to_date": pd.Series(dtype="datetime64[ns]"),
            "training_n": pd.Series(dtype="int64"),
            "training_churners": pd.Series(dtype="int64"),
            "coefficients": pd.Series(dtype=str),
        }
    )[list(BACKTEST_SCORE_COLUMNS)]


def backtest(scored: pd.DataFrame, as_of: object) -> dict:
    """BACKTEST_COLUMNS from the scores of backtest_scores(): how well the score ranks
    the customers who churned within HORIZON_MONTHS of `as_of` above the others (AUC,
    Hanley-McNeil 95 % interval), against BASELINE_RULE. The score is reliable when
    its interval lies above 0.5. No rows (the look-back and horizon do not fit, or
    nobody was active) or no fitted model give a null AUC, never a number."""
    churned = scored["is_churned"].astype(bool).to_numpy()
    n_pos, n_neg = int(churned.sum()), int((~churned).sum())
    scores = scored["churn_risk_score"].astype(float).to_numpy()
    area = auc(scores, churned) if len(scored) and not np.isnan(scores).any() else float("nan")
    low, high = auc_interval(area, n_pos, n_neg)
    baseline = auc(scored["baseline_score"].astype(float).to_numpy(), churned)
    base_low, base_high = auc_interval(baseline, n_pos, n_neg)
    first = scored.iloc[0] if len(scored) else None

    def meta(column: str, default: object = None) -> object:
        return default if first is None else first[column]

    training_churners = int(meta("training_churners", 0))
    return {
        "as_of_date": pd.Timestamp(as_of),
        "training_from_date": meta("training_from_date"),
        "training_to_date": meta("training_to_date"),
        "label_horizon_months": HORIZON_MONTHS,
        "test_horizon_months": HORIZON_MONTHS,
        "training_n": int(meta("training_n", 0)),
        "training_churners": training_churners,
        "n": len(scored),
        "churners": n_pos,
        "auc": area,
        "auc_ci_low": low,
        "auc_ci_high": high,
        "is_model_reliable": bool(not np.isnan(low) and low > 0.5),
        "baseline_rule": BASELINE_RULE,
        "baseline_auc": baseline,
        "baseline_auc_ci_low": base_low,
        "baseline_auc_ci_high": base_high,
        "auc_lift_over_baseline": area - baseline,
        "features": ",".join(FEATURES),
        "coefficients": meta("coefficients"),
        "is_low_sample": bool(n_pos < LOW_SAMPLE_N or training_churners < LOW_SAMPLE_N),
    }
