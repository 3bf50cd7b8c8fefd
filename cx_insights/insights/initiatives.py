"""Initiative impact: before/after on the initiative's scope, net of untouched journeys.

For each initiative the target metric is computed, as kpis.md defines it, on
the initiative's touchpoint (or journey) in two equal windows: the
WINDOW_DAYS before `started_at` and the WINDOW_DAYS from it, both shortened
to what the data covers and to the initiative's end, whichever is shortest.
The same metric on the *control* (every known journey other than the
initiative's own that no initiative touched while either window ran) gives
the change that would have happened anyway; the difference in differences is
the initiative's effect.

The revenue effect goes through NPS, whatever the target metric: the NPS
difference in differences on the initiative's scope, in points, moves
nps_did / 200 of the customers reached from detractor to promoter (moving one
detractor to promoter lifts NPS by 200 / N points), each worth the financial
link's 12-month value of moving one detractor to promoter. Customers reached
are the distinct customers with a survey response, ticket or web session on
the scope in the days of the dbt var `initiative_reach_days` (365) from
`started_at` (fewer where the data or the initiative ends sooner; not
extrapolated; int_initiative_reach_counted counts them). No revenue effect (nor ROI) is
claimed when that value is not established: not positive, its interval
including 0, or fewer than 30 customers behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cx_insights.insights.stats import is_low_sample

WINDOW_DAYS = 90


@dataclass(frozen=True)
class Metric:
    family: str  # answers, tickets or sessions
    time_column: str  # the instant that places a row in a window (kpis.md "counted in")
    higher_is_better: bool
    label: str
    value_format: str
    change_unit: str


METRICS: dict[str, Metric] = {
    "nps": Metric("answers", "submitted_at", True, "NPS", "{:.1f}", "points"),
    "csat": Metric("answers", "submitted_at", True, "CSAT", "{:.1f} %", "points"),
    "ces": Metric("answers", "submitted_at", True, "CES", "{:.2f}", "points"),
    "tickets_created": Metric("tickets", "created_at", False, "tickets", "{:.0f}", "tickets"),
    "avg_resolution_hours": Metric(
        "tickets", "solved_at", False, "average resolution time", "{:.1f} h", "h"
    ),
    "median_first_response_minutes": Metric(
        "tickets", "created_at", False, "median first response time", "{:.0f} min", "min"
    ),
    "sessions": Metric("sessions", "started_at", True, "sessions", "{:.0f}", "sessions"),
    "conversion_rate": Metric("sessions", "started_at", True, "conversion", "{:.1f} %", "points"),
    "bounce_rate": Metric("sessions", "started_at", False, "bounce rate", "{:.1f} %", "points"),
    "cart_abandonment_rate": Metric(
        "sessions", "started_at", False, "cart abandonment", "{:.1f} %", "points"
    ),
}


@dataclass(frozen=True)
class Estimate:
    """A metric over a set of rows, its sample size and its standard error."""

    value: float
    n: int
    se: float


def _sample(metric: str, rows: pd.DataFrame) -> tuple[str, np.ndarray]:
    """The metric's kind and the per-unit values it is computed from."""
    if metric in ("nps", "csat", "ces"):
        rows = rows[(rows["metric"] == metric) & rows["value"].notna()]
        v = rows["value"].astype(float)
        if metric == "nps":
            return "nps", v.to_numpy()
        if metric == "csat":
            return "proportion", (v >= rows["scale_max"] - 1).to_numpy(float)
        span = (rows["scale_max"] - rows["scale_min"]).astype(float)
        return "mean", (1 + 6 * (v - rows["scale_min"]) / span).to_numpy(float)
    if metric in ("tickets_created", "sessions"):
        return "count", np.ones(len(rows))
    if metric == "avg_resolution_hours":
        return "mean", rows.loc[rows["solved_at"].notna(), "resolution_hours"].to_numpy(float)
    if metric == "median_first_response_minutes":
        return "median", rows["first_response_minutes"].dropna().to_numpy(float)
    if metric in ("conversion_rate", "bounce_rate"):
        flag = "has_purchase" if metric == "conversion_rate" else "is_bounce"
        return "proportion", rows[flag].astype(bool).to_numpy(float)
    if metric == "cart_abandonment_rate":
        carts = rows[rows["has_add_to_cart"].astype(bool)]
        return "proportion", (~carts["has_purchase"].astype(bool)).to_numpy(float)
    raise ValueError(f"metric {metric!r} cannot be measured on a touchpoint or journey")


def metric_estimate(metric: str, rows: pd.DataFrame) -> Estimate:
    """A kpis.md metric over the rows of its family, with n and a standard error.

    answers: metric, value, scale_min, scale_max. tickets: solved_at,
    first_response_minutes, resolution_hours. sessions: has_purchase, is_bounce,
    has_add_to_cart. Standard errors: NPS as kpis.md gives it, 100 x
    sqrt((p + d - (p - d)^2) / n); a percentage 100 x sqrt(p (1 - p) / n); a
    mean s / sqrt(n); a count sqrt(count) (Poisson); a median from the
    distribution-free 95 % interval of order statistics n/2 -+ 0.98 sqrt(n),
    divided by 2 x 1.96. Value and error are NaN without data.
    """
    kind, x = _sample(metric, rows)
    n = len(x)
    if kind == "count":
        return Estimate(float(n), n, float(np.sqrt(n)))
    if n == 0:
        return Estimate(float("nan"), 0, float("nan"))
    if kind == "nps":
        p, d = float((x >= 9).mean()), float((x <= 6).mean())
        return Estimate(100 * (p - d), n, 100 * float(np.sqrt((p + d - (p - d) ** 2) / n)))
    if kind == "proportion":
        p = float(x.mean())
        return Estimate(100 * p, n, 100 * float(np.sqrt(p * (1 - p) / n)))
    if kind == "mean":
        se = float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        return Estimate(float(x.mean()), n, se)
    ordered = np.sort(x)
    half_width = 0.98 * np.sqrt(n)
    lower = int(np.floor(n / 2 - half_width))
    upper = int(np.ceil(n / 2 + half_width))
    if n < 3 or lower < 1 or upper > n:
        return Estimate(float(np.median(x)), n, float("nan"))
    return Estimate(float(np.median(x)), n, float((ordered[upper - 1] - ordered[lower - 1]) / 3.92))


def metric_value(metric: str, rows: pd.DataFrame) -> tuple[float, int]:
    """(value, n) of a kpis.md metric over the rows of its family (see metric_estimate)."""
    estimate = metric_estimate(metric, rows)
    return estimate.value, estimate.n


def window_days(
    started_at: pd.Timestamp,
    ended_at: pd.Timestamp | None,
    data_start: pd.Timestamp,
    data_end: pd.Timestamp,
    days: int = WINDOW_DAYS,
) -> int:
    """Length of the two equal windows: `days`, or less where the data starts later,
    the data ends sooner or the initiative ended sooner (0 = cannot be measured)."""
    after_end = data_end if ended_at is None or pd.isna(ended_at) else min(data_end, ended_at)
    available_before = (started_at - data_start) / pd.Timedelta(days=1)
    available_after = (after_end - started_at) / pd.Timedelta(days=1)
    return int(max(0, np.floor(min(days, available_before, available_after))))


def difference_in_differences(
    before: float, after: float, control_before: float, control_after: float
) -> float:
    """(after - before) on the scope minus (after - before) on the control."""
    return (after - before) - (control_after - control_before)


def roi(revenue_effect: float, cost: float | None) -> float:
    """(revenue effect - cost) / cost; NaN without a positive cost."""
    if cost is None or pd.isna(cost) or cost <= 0:
        return float("nan")
    return (revenue_effect - cost) / cost


def detractors_moved(nps_did: float, customers_reached: int) -> float:
    """Detractors turned promoters that an NPS change of `nps_did` points implies among
    `customers_reached` customers (one such move lifts NPS by 200 / N points)."""
    return nps_did * customers_reached / 200


def control_journeys(
    initiative_id: str,
    journey_id: str | None,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    initiatives: pd.DataFrame,
    journeys: list[str],
) -> list[str]:
    """Known journeys other than `journey_id` that no other initiative touched while
    [window_start, window_end) ran; every other journey when none is left."""
    others = [j for j in journeys if j != journey_id and j != "unknown"]
    touched = set()
    for row in initiatives.itertuples(index=False):
        if row.initiative_id == initiative_id or pd.isna(row.scope_journey_id):
            continue
        ends = row.ended_at if not pd.isna(row.ended_at) else pd.Timestamp.max
        if row.started_at < window_end and ends > window_start:
            touched.add(row.scope_journey_id)
    untouched = [j for j in others if j not in touched]
    return untouched or others


def you_said_we_did(row: dict | pd.Series) -> str:
    """The dashboard's one-sentence story of an initiative."""
    metric = METRICS.get(row["target_metric"])
    name = row["initiative_name"]
    if metric is None or pd.isna(row["value_before"]) or pd.isna(row["value_after"]):
        return f"We did: {name}. Its effect on {row['target_metric']} cannot be measured yet."
    fmt = metric.value_format.format
    started_at = pd.Timestamp(row["started_at"])
    started = f"{started_at.day} {started_at:%B %Y}"
    text = (
        f"You said {row['scope_name']} needed work ({metric.label} {fmt(row['value_before'])} "
        f"in the {row['window_days']} days before {started}). We did: {name}. "
        f"Since then {metric.label} is {fmt(row['value_after'])} "
        f"({row['value_after'] - row['value_before']:+.1f} {metric.change_unit}"
    )
    if pd.isna(row["did"]):
        text += ")."
    else:
        direction = "better" if row["improvement"] >= 0 else "worse"
        text += (
            f", {abs(row['did']):.1f} {metric.change_unit} {direction} than the change on "
            "untouched journeys)."
        )
        if row.get("is_significant") is False:
            text += (
                f" That is within the noise of the samples (95 % interval "
                f"{row['did_ci_low']:+.1f} to {row['did_ci_high']:+.1f} {metric.change_unit})."
            )
    if pd.isna(row["revenue_effect"]) and row.get("is_value_per_detractor_reliable") is False:
        text += (
            " No revenue effect is claimed: the value of turning a detractor into a promoter "
            "is not established on this data (not positive, within the noise, or too few "
            "customers)."
        )
    if not pd.isna(row["revenue_effect"]) and not pd.isna(row["cost"]):
        currency = row["currency"]
        text += f" Estimated 12-month revenue effect {row['revenue_effect']:,.0f} {currency}"
        low, high = row.get("revenue_effect_ci_low"), row.get("revenue_effect_ci_high")
        if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
            text += f" (95 % interval {low:,.0f} to {high:,.0f})"
        text += f" for a cost of {row['cost']:,.0f} {currency}"
        text += f" (ROI {row['roi']:+.0%})." if not pd.isna(row["roi"]) else "."
    if row.get("is_low_sample"):
        text += " Small sample: treat with care."
    return text


def families_needed(target_metrics: list[str]) -> set[str]:
    """The fact families the metrics of these initiatives are computed from."""
    return {"answers"} | {METRICS[m].family for m in target_metrics if m in METRICS}


def _in_window(rows: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp):
    at = rows[column]
    return rows[(at >= start) & (at < end)]


def _scope(rows: pd.DataFrame, touchpoint_id: str | None, journey_ids: list[str]):
    if touchpoint_id is not None:
        return rows[rows["touchpoint_id"] == touchpoint_id]
    return rows[rows["journey_id"].isin(journey_ids)]


def _before_after(
    facts: dict[str, pd.DataFrame],
    metric: str,
    touchpoint_id: str | None,
    journey_ids: list[str],
    windows: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp],
) -> tuple[Estimate, Estimate]:
    """`metric` on the scope in [before_start, started) and [started, after_end)."""
    before_start, started, after_end = windows
    m = METRICS[metric]
    scoped = _scope(facts[m.family], touchpoint_id, journey_ids)
    before = _in_window(scoped, m.time_column, before_start, started)
    after = _in_window(scoped, m.time_column, started, after_end)
    return metric_estimate(metric, before), metric_estimate(metric, after)


_NONE = Estimate(float("nan"), 0, float("nan"))


@dataclass(frozen=True)
class DiD:
    """A difference in differences with its 95 % interval."""

    before: Estimate
    after: Estimate
    control_before: Estimate
    control_after: Estimate

    @property
    def value(self) -> float:
        return difference_in_differences(
            self.before.value, self.after.value, self.control_before.value, self.control_after.value
        )

    @property
    def se(self) -> float:
        """The four samples are independent: the variances add."""
        parts = (self.before, self.after, self.control_before, self.control_after)
        return float(np.sqrt(sum(e.se**2 for e in parts)))

    @property
    def ci(self) -> tuple[float, float]:
        return self.value - 1.96 * self.se, self.value + 1.96 * self.se

    @property
    def smallest_n(self) -> int:
        return min(self.before.n, self.after.n, self.control_before.n, self.control_after.n)


def _did(
    facts: dict[str, pd.DataFrame],
    metric: str,
    touchpoint_id: str | None,
    scope_journey: str,
    controls: list[str],
    windows: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp],
) -> DiD:
    if metric not in METRICS or windows[0] >= windows[1]:
        return DiD(_NONE, _NONE, _NONE, _NONE)
    before, after = _before_after(facts, metric, touchpoint_id, [scope_journey], windows)
    control_before, control_after = _before_after(facts, metric, None, controls, windows)
    return DiD(before, after, control_before, control_after)


def _is_significant(interval: tuple[float, float]) -> bool | None:
    low, high = interval
    if pd.isna(low) or pd.isna(high):
        return None
    return bool(low > 0 or high < 0)


#: The columns initiative_impact() adds to each initiative's own.
RESULT_COLUMNS: tuple[str, ...] = (
    "window_days",
    "before_start_at",
    "after_end_at",
    "control_journey_ids",
    "value_before",
    "value_after",
    "change",
    "n_before",
    "n_after",
    "control_value_before",
    "control_value_after",
    "control_change",
    "control_n_before",
    "control_n_after",
    "did",
    "did_ci_low",
    "did_ci_high",
    "is_significant",
    "improvement",
    "is_improved",
    "is_target_met",
    "is_low_sample",
    "nps_before",
    "nps_after",
    "nps_n_before",
    "nps_n_after",
    "control_nps_before",
    "control_nps_after",
    "nps_did",
    "nps_did_ci_low",
    "nps_did_ci_high",
    "is_nps_significant",
    "is_nps_low_sample",
    "customers_reached",
    "detractors_moved",
    "value_per_detractor_moved",
    "is_value_per_detractor_reliable",
    "revenue_effect",
    "revenue_effect_ci_low",
    "revenue_effect_ci_high",
    "roi",
    "you_said_we_did",
)


def initiative_impact(
    initiatives: pd.DataFrame,
    facts: dict[str, pd.DataFrame],
    value_per_detractor_moved: float,
    data_start: pd.Timestamp,
    data_end: pd.Timestamp,
    journeys: list[str],
    is_value_reliable: bool = True,
) -> pd.DataFrame:
    """One row per initiative; see the module docstring.

    initiatives: initiative_id, initiative_name, owner_name, touchpoint_id,
    journey_id, scope_journey_id (the journey of its touchpoint, or its
    journey), scope_name, started_at, ended_at, cost (reporting currency),
    currency, target_metric, target_value, customers_reached (counted by the
    SQL model int_initiative_reach_counted). facts: the frames of the
    families the metrics need ('answers' always, for NPS; 'tickets' or
    'sessions' for a target metric of theirs), with touchpoint_id, journey_id
    and the columns metric_estimate() and METRICS' time columns need.
    journeys: every known journey. is_value_reliable: whether the value per
    detractor moved is significant and on enough customers
    (financial.ValueEstimate.is_reliable); without it, or with a value that is not
    positive, revenue effect and ROI are null.
    """
    value_is_usable = bool(
        is_value_reliable
        and not pd.isna(value_per_detractor_moved)
        and value_per_detractor_moved > 0
    )
    rows = []
    for ini in initiatives.to_dict("records"):
        started = pd.Timestamp(ini["started_at"])
        ended = None if pd.isna(ini["ended_at"]) else pd.Timestamp(ini["ended_at"])
        days = window_days(started, ended, data_start, data_end)
        span = pd.Timedelta(days=days)
        before_start, after_end = started - span, started + span
        tp = None if pd.isna(ini["touchpoint_id"]) else ini["touchpoint_id"]
        scope_journey = ini["scope_journey_id"]
        controls = control_journeys(
            ini["initiative_id"], scope_journey, before_start, after_end, initiatives, journeys
        )
        windows = (before_start, started, after_end)
        target = ini["target_metric"]
        effect = _did(facts, target, tp, scope_journey, controls, windows)
        sign = 1 if target in METRICS and METRICS[target].higher_is_better else -1
        low, high = effect.ci
        after = effect.after.value

        # The revenue effect, through NPS on the same scope and windows.
        nps = _did(facts, "nps", tp, scope_journey, controls, windows)
        reached = 0 if pd.isna(ini["customers_reached"]) else int(ini["customers_reached"])
        nps_low, nps_high = nps.ci
        if value_is_usable:
            per_point = reached / 200 * value_per_detractor_moved
            revenue = detractors_moved(nps.value, reached) * value_per_detractor_moved
            # the ends of the interval, whichever way the products fall
            ends = (nps_low * per_point, nps_high * per_point)
            revenue_low, revenue_high = min(ends), max(ends)
        else:
            revenue = revenue_low = revenue_high = float("nan")
        out = {
            **ini,
            "window_days": days,
            "before_start_at": before_start,
            "after_end_at": after_end,
            "control_journey_ids": ",".join(controls),
            "value_before": effect.before.value,
            "value_after": after,
            "change": after - effect.before.value,
            "n_before": effect.before.n,
            "n_after": effect.after.n,
            "control_value_before": effect.control_before.value,
            "control_value_after": effect.control_after.value,
            "control_change": effect.control_after.value - effect.control_before.value,
            "control_n_before": effect.control_before.n,
            "control_n_after": effect.control_after.n,
            "did": effect.value,
            "did_ci_low": low,
            "did_ci_high": high,
            "is_significant": _is_significant(effect.ci),
            "improvement": sign * effect.value,
            "is_improved": None if pd.isna(effect.value) else bool(sign * effect.value > 0),
            "is_target_met": (
                None
                if pd.isna(after) or pd.isna(ini["target_value"]) or target not in METRICS
                else bool(sign * (after - float(ini["target_value"])) >= 0)
            ),
            "is_low_sample": is_low_sample(effect.smallest_n),
            "nps_before": nps.before.value,
            "nps_after": nps.after.value,
            "nps_n_before": nps.before.n,
            "nps_n_after": nps.after.n,
            "control_nps_before": nps.control_before.value,
            "control_nps_after": nps.control_after.value,
            "nps_did": nps.value,
            "nps_did_ci_low": nps_low,
            "nps_did_ci_high": nps_high,
            "is_nps_significant": _is_significant(nps.ci),
            "is_nps_low_sample": is_low_sample(nps.smallest_n),
            "customers_reached": reached,
            "detractors_moved": detractors_moved(nps.value, reached),
            "value_per_detractor_moved": value_per_detractor_moved,
            "is_value_per_detractor_reliable": value_is_usable,
            "revenue_effect": revenue,
            "revenue_effect_ci_low": revenue_low,
            "revenue_effect_ci_high": revenue_high,
            "roi": roi(revenue, ini["cost"]),
        }
        out["you_said_we_did"] = you_said_we_did(out)
        rows.append(out)
    if not rows:
        # No initiative (a company that tracks none yet): an empty table with
        # every column, so that the mart exists and says so.
        columns = list(dict.fromkeys([*initiatives.columns, *RESULT_COLUMNS]))
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.DataFrame(rows)
