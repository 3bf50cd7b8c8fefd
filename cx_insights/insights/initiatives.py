"""Initiative impact: before/after on the initiative's scope, net of untouched journeys.

For each initiative the target metric is measured, as kpis.md defines it, on
the initiative's touchpoint (or journey) in two equal windows before and from
`started_at`, and on the *control* (the known journeys other than the
initiative's own that no other initiative touched while the windows ran): the
change on the control is what would have happened anyway, and the difference
in differences is the initiative's effect. The metrics, their sample sizes and
standard errors are computed in SQL, once: the windows in
int_initiative_windows (dbt var `initiative_window_days`, 90, shortened to
the data and the initiative), the control journeys in
int_initiative_control_journeys and the estimates in int_initiative_estimates.
This module combines them.

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

from cx_insights.insights.stats import Z95, is_low_sample


@dataclass(frozen=True)
class Metric:
    """How a target metric reads (int_initiative_estimates computes it)."""

    higher_is_better: bool
    label: str
    value_format: str
    change_unit: str


METRICS: dict[str, Metric] = {
    "nps": Metric(True, "NPS", "{:.1f}", "points"),
    "csat": Metric(True, "CSAT", "{:.1f} %", "points"),
    "ces": Metric(True, "CES", "{:.2f}", "points"),
    "tickets_created": Metric(False, "tickets", "{:.0f}", "tickets"),
    "avg_resolution_hours": Metric(False, "average resolution time", "{:.1f} h", "h"),
    "median_first_response_minutes": Metric(
        False, "median first response time", "{:.0f} min", "min"
    ),
    "sessions": Metric(True, "sessions", "{:.0f}", "sessions"),
    "conversion_rate": Metric(True, "conversion", "{:.1f} %", "points"),
    "bounce_rate": Metric(False, "bounce rate", "{:.1f} %", "points"),
    "cart_abandonment_rate": Metric(False, "cart abandonment", "{:.1f} %", "points"),
}


@dataclass(frozen=True)
class Estimate:
    """A metric over a set of rows, its sample size and its standard error."""

    value: float
    n: int
    se: float


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
        return self.value - Z95 * self.se, self.value + Z95 * self.se

    @property
    def smallest_n(self) -> int:
        return min(self.before.n, self.after.n, self.control_before.n, self.control_after.n)


#: (initiative_id, metric, side, period) -> its estimate; side 'scope' or 'control',
#: period 'before' or 'after' (the rows of int_initiative_estimates).
Estimates = dict[tuple[str, str, str, str], Estimate]


def estimates_by_key(rows: pd.DataFrame) -> Estimates:
    """int_initiative_estimates' rows (initiative_id, metric, side, period, n,
    metric_value, standard_error) as a lookup; nulls become NaN."""
    return {
        (r.initiative_id, r.metric, r.side, r.period): Estimate(
            float("nan") if pd.isna(r.metric_value) else float(r.metric_value),
            int(r.n),
            float("nan") if pd.isna(r.standard_error) else float(r.standard_error),
        )
        for r in rows.itertuples(index=False)
    }


def _did(estimates: Estimates, initiative_id: str, metric: str) -> DiD:
    """The four estimates of `metric` for the initiative; none (n = 0, NaN) where the
    metric cannot be measured on a scope or the windows are empty."""

    def get(side: str, period: str) -> Estimate:
        return estimates.get((initiative_id, metric, side, period), _NONE)

    return DiD(
        get("scope", "before"),
        get("scope", "after"),
        get("control", "before"),
        get("control", "after"),
    )


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
    estimates: Estimates,
    value_per_detractor_moved: float,
    is_value_reliable: bool = True,
) -> pd.DataFrame:
    """One row per initiative; see the module docstring.

    initiatives: initiative_id, initiative_name, owner_name, touchpoint_id,
    journey_id, scope_journey_id (the journey of its touchpoint, or its
    journey), scope_name, started_at, ended_at, cost (reporting currency),
    currency, target_metric, target_value, customers_reached
    (int_initiative_reach_counted), window_days, before_start_at, after_end_at
    (int_initiative_windows) and control_journey_ids (the control journeys,
    comma-separated). estimates: estimates_by_key() of
    int_initiative_estimates. is_value_reliable: whether the value per
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
        target = ini["target_metric"]
        effect = _did(estimates, ini["initiative_id"], target)
        sign = 1 if target in METRICS and METRICS[target].higher_is_better else -1
        low, high = effect.ci
        after = effect.after.value

        # The revenue effect, through NPS on the same scope and windows.
        nps = _did(estimates, ini["initiative_id"], "nps")
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
