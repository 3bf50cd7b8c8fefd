"""How each metric of kpis.md is labelled, formatted and judged, and the chart theme."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

# --------------------------------------------------------------------------------------
# Metrics: how each one of kpis.md is labelled, formatted and judged.


@dataclass(frozen=True)
class MetricInfo:
    label: str
    kind: str  # score | percent | mean7 | money | count | minutes | hours
    higher_is_better: bool | None
    decimals: int = 1


METRICS: dict[str, MetricInfo] = {
    "nps": MetricInfo("NPS", "score", True, 1),
    "csat": MetricInfo("CSAT (top-2-box)", "percent", True, 1),
    "ces": MetricInfo("CES (1-7, higher = easier)", "mean7", True, 2),
    "active_customers_start": MetricInfo("Active customers (month start)", "count", True, 0),
    "active_customers_end": MetricInfo("Active customers", "count", True, 0),
    "new_customers": MetricInfo("New customers", "count", True, 0),
    "lost_customers": MetricInfo("Lost customers", "count", False, 0),
    "churn_rate": MetricInfo("Customer churn", "percent", False, 2),
    "mrr_start": MetricInfo("MRR (month start)", "money", True, 0),
    "mrr_end": MetricInfo("MRR", "money", True, 0),
    "revenue_churn_rate": MetricInfo("Revenue churn", "percent", False, 2),
    "revenue": MetricInfo("Revenue (paid invoices)", "money", True, 0),
    "tickets_created": MetricInfo("Tickets created", "count", False, 0),
    "avg_resolution_hours": MetricInfo("Avg resolution time", "hours", False, 1),
    "median_first_response_minutes": MetricInfo("Median first response", "minutes", False, 0),
    "sessions": MetricInfo("Web sessions", "count", True, 0),
    "conversion_rate": MetricInfo("Conversion rate", "percent", True, 2),
    "bounce_rate": MetricInfo("Bounce rate", "percent", False, 1),
    "cart_abandonment_rate": MetricInfo("Cart abandonment", "percent", False, 1),
}

#: The executive's top line, in the order the cards appear.
TOP_LINE = (
    "nps",
    "csat",
    "ces",
    "active_customers_end",
    "churn_rate",
    "revenue_churn_rate",
    "mrr_end",
    "revenue",
    "tickets_created",
    "median_first_response_minutes",
    "conversion_rate",
)

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}

GOOD = "#15803d"
BAD = "#b91c1c"
NEUTRAL = "#475569"
ACCENT = "#2563eb"
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"]
NPS_CATEGORY_COLORS = {
    "promoter": "#15803d",
    "passive": "#f59e0b",
    "detractor": "#b91c1c",
    "no_answer": "#94a3b8",
}


def _template() -> go.layout.Template:
    """A small template: plotly's default embeds ~10 kB of JSON into every figure."""
    return go.layout.Template(
        layout=go.Layout(
            font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
            title={"font": {"size": 16}, "x": 0.01, "xanchor": "left"},
            paper_bgcolor="white",
            plot_bgcolor="white",
            colorway=PALETTE,
            xaxis={"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", "automargin": True},
            yaxis={"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", "automargin": True},
            margin={"l": 60, "r": 30, "t": 90, "b": 50},
            # Above the plot, under the title: below it, it collides with the x-axis title.
            legend={
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.02,
                "xanchor": "left",
                "x": 0,
            },
            hoverlabel={"namelength": -1},
        )
    )


TEMPLATE = _template()


# --------------------------------------------------------------------------------------
# Formatting helpers (pure).


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def is_true(value: object) -> bool:
    """A boolean read from a mart (numpy, pandas or Python; null is false)."""
    return not is_missing(value) and bool(value)


def fmt_number(value: object, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    text = f"{v:,.{decimals}f}"
    return text.replace("-", "−") if v < 0 else text


def fmt_money(value: object, currency: str, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency)
    number = fmt_number(abs(float(value)), decimals)  # type: ignore[arg-type]
    sign = "−" if float(value) < 0 else ""  # type: ignore[arg-type]
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def metric_label(metric: str) -> str:
    info = METRICS.get(metric)
    return info.label if info else metric.replace("_", " ")


def fmt_metric(metric: str, value: object, currency: str) -> str:
    info = METRICS.get(metric, MetricInfo(metric, "count", None, 1))
    if is_missing(value):
        return "–"
    if info.kind == "money":
        return fmt_money(value, currency, info.decimals)
    if info.kind == "percent":
        return f"{fmt_number(value, info.decimals)} %"
    if info.kind == "minutes":
        return f"{fmt_number(value, info.decimals)} min"
    if info.kind == "hours":
        return f"{fmt_number(value, info.decimals)} h"
    return fmt_number(value, info.decimals)


def fmt_delta(metric: str, delta: object, currency: str) -> str:
    """A change, signed, in the metric's unit (percentage points for rates)."""
    info = METRICS.get(metric, MetricInfo(metric, "count", None, 1))
    if is_missing(delta):
        return "–"
    d = float(delta)  # type: ignore[arg-type]
    sign = "+" if d > 0 else ("−" if d < 0 else "±")
    body = (
        fmt_money(abs(d), currency, info.decimals)
        if info.kind == "money"
        else fmt_number(abs(d), info.decimals)
    )
    unit = {"percent": " pts", "score": " pts", "minutes": " min", "hours": " h"}.get(info.kind, "")
    return f"{sign}{body}{unit}"


def delta_class(metric: str, delta: object) -> str:
    info = METRICS.get(metric)
    if info is None or info.higher_is_better is None or is_missing(delta) or float(delta) == 0:  # type: ignore[arg-type]
        return "flat"
    better = (float(delta) > 0) == info.higher_is_better  # type: ignore[arg-type]
    return "good" if better else "bad"


def month_label(month: object) -> str:
    if is_missing(month):
        return "–"
    return pd.Timestamp(month).strftime("%b %Y")


def add_months(month: date, k: int) -> date:
    total = month.year * 12 + (month.month - 1) + k
    return date(total // 12, total % 12 + 1, 1)


def nps_category(score: object) -> str:
    """promoter 9..10, passive 7..8, detractor 0..6 (kpis.md); `none` without a score."""
    if is_missing(score):
        return "none"
    v = float(score)  # type: ignore[arg-type]
    return "promoter" if v >= 9 else ("passive" if v >= 7 else "detractor")


def shorten(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def segment_label(segment: str) -> str:
    """A segment as the filter names it ('unknown': rows without a customer or segment)."""
    return "No segment (anonymous or unknown)" if segment == "unknown" else segment
