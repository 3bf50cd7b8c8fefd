"""Plotly figures of the framework: the journey -> job -> touchpoint roll-up and the
driver quadrant."""

from __future__ import annotations

import pandas as pd

from cx_insights.report.dashboard.data import DRIVER_WINDOWS, LOW_SAMPLE, DashboardData, derived
from cx_insights.report.dashboard.figure_spec import Spec, figure, title
from cx_insights.report.dashboard.formatting import (
    ACCENT,
    BAD,
    GOOD,
    NEUTRAL,
    esc,
    fmt_number,
    is_missing,
    month_label,
    shorten,
)


def rollup_rows(data: DashboardData) -> list[tuple[str, str, str, int]]:
    """(level, id, label, depth) in framework order: journey, its jobs, their touchpoints."""
    tp = data.frame("dim_touchpoint")
    if tp is None:
        return []
    return derived(tp, "rollup_rows", lambda: _rollup_rows(tp))


def _rollup_rows(tp: pd.DataFrame) -> list[tuple[str, str, str, int]]:
    if "is_unknown_member" in tp.columns:
        tp = tp[~tp["is_unknown_member"].fillna(False).astype(bool)]
    sort_cols = [c for c in ("stage_order", "journey_id", "job_id", "touchpoint_id") if c in tp]
    tp = tp.sort_values(sort_cols, na_position="last")
    out: list[tuple[str, str, str, int]] = []
    for journey_id, journey in tp.groupby("journey_id", sort=False):
        out.append(("journey", journey_id, str(journey["journey_name"].iloc[0]), 0))
        for job_id, job in journey.groupby("job_id", sort=False):
            out.append(("job", job_id, str(job["job_statement"].iloc[0]), 1))
            for row in job.itertuples(index=False):
                out.append(("touchpoint", row.touchpoint_id, str(row.touchpoint_name), 2))
    return out


def rollup_heatmap_figure(data: DashboardData) -> Spec | None:
    kpi = data.frame("kpi_monthly")
    month = data.reporting_month
    rows = rollup_rows(data)
    if kpi is None or month is None or not rows:
        return None
    metrics = ["nps", "csat", "ces"]
    month_rows = kpi[
        (pd.to_datetime(kpi["month"]) == pd.Timestamp(month)) & kpi["metric"].isin(metrics)
    ]
    lookup = {(r.level, r.level_id, r.metric): r for r in month_rows.itertuples(index=False)}
    company = {m: lookup.get(("company", "all", m)) for m in metrics}
    all_rows = [("company", "all", "Company (all answers)", 0), *rows]
    indent = {0: "", 1: "\u00a0\u00a0\u00a0", 2: "\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0· "}
    prefix = {"company": "", "journey": "Journey: ", "job": "Job: ", "touchpoint": ""}
    y_labels = []
    full_labels = [f"{prefix[level]}{esc(label)}" for level, _i, label, _d in all_rows]
    for level, _level_id, label, depth in all_rows:
        text = prefix[level] + shorten(label, 46 if level == "touchpoint" else 52)
        y_labels.append(
            f"<b>{esc(text)}</b>" if level in ("company", "journey") else indent[depth] + esc(text)
        )
    # Colour = distance from the company value, scaled per metric, so that one
    # colour scale serves three metrics of different units.
    spread = {"nps": 40.0, "csat": 25.0, "ces": 1.5}
    z_ok, z_low, text = [], [], []
    for level, level_id, _label, _depth in all_rows:
        zr_ok, zr_low, tr = [], [], []
        for m in metrics:
            r = lookup.get((level, level_id, m))
            base = company[m]
            if r is None or is_missing(r.value):
                zr_ok.append(None)
                zr_low.append(None)
                tr.append("")
                continue
            rel = (r.value - base.value) / spread[m] if base is not None else 0.0
            rel = max(-1.0, min(1.0, rel))
            low = bool(r.n < LOW_SAMPLE)
            zr_ok.append(None if low else rel)
            zr_low.append(rel if low else None)
            decimals = 2 if m == "ces" else 0
            mark = " †" if low else ""
            tr.append(f"{fmt_number(r.value, decimals)} (n={int(r.n)}){mark}")
        z_ok.append(zr_ok)
        z_low.append(zr_low)
        text.append(tr)
    x_labels = ["NPS", "CSAT %", "CES (1-7)"]
    colorscale = [[0, "#dc2626"], [0.5, "#f8fafc"], [1, "#16a34a"]]
    common = {
        "type": "heatmap",
        "x": x_labels,
        "y": y_labels,
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": colorscale,
        "zmin": -1,
        "zmax": 1,
        "xgap": 2,
        "ygap": 2,
        "customdata": [[full] * len(metrics) for full in full_labels],
        "hovertemplate": "%{customdata}<br>%{x}: %{text}<extra></extra>",
    }
    enough = {
        **common,
        "z": z_ok,
        "name": "n ≥ 30",
        "colorbar": {
            "title": {"text": "vs company"},
            "tickvals": [-1, 0, 1],
            "ticktext": ["worse", "same", "better"],
            "len": 0.5,
            "y": 1,
            "yanchor": "top",
        },
        "textfont": {"color": "#0f172a", "size": 12},
    }
    few = {
        **common,
        "z": z_low,
        "name": f"n < {LOW_SAMPLE}",
        "opacity": 0.35,
        "showscale": False,
        "textfont": {"color": "#475569", "size": 12},
    }
    return figure(
        [enough, few],
        title=title(
            f"Roll-up: journey → job → touchpoint, {month_label(month)} "
            "(value and n; † = fewer than 30 answers, faded)"
        ),
        xaxis={"side": "top", "tickfont": {"size": 13}, "showgrid": False},
        yaxis={"autorange": "reversed", "tickfont": {"size": 12}, "showgrid": False},
        margin={"l": 20, "r": 20, "t": 90, "b": 20},
    )


def rollup_height(data: DashboardData) -> int:
    return max(360, 150 + 24 * (len(rollup_rows(data)) + 1))


QUADRANT_COLORS = {
    "fix first": BAD,
    "keep up": GOOD,
    "maintain": ACCENT,
    "low priority": "#94a3b8",
}


def driver_groups(drivers: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per scope and element family, the company first.

    Relative-weight shares sum to 100 within one (level, level_id, element_type),
    so each family gets its own quadrant.
    """
    frame = drivers.dropna(subset=["relative_weight_share", "performance_top_2_box_pct"])
    if "window_name" not in frame.columns:
        frame = frame.assign(window_name="all")
    windows = {name: i for i, name in enumerate(DRIVER_WINDOWS)}
    frame = frame.assign(
        _window=frame["window_name"].map(windows).fillna(len(windows)),
        _company=(frame["level"] != "company").astype(int),
        _family=(frame["element_type"] != "driver").astype(int),
    ).sort_values(["_window", "_company", "level_name", "_family"], kind="stable")
    groups = []
    for (_w, window, _c, scope, _f, family), part in frame.groupby(
        ["_window", "window_name", "_company", "level_name", "_family", "element_type"],
        sort=False,
    ):
        what = "experience drivers" if family == "driver" else "touchpoint satisfaction"
        when = DRIVER_WINDOWS.get(window, window)
        groups.append((f"{scope}: {what}, {when}", part))
    return groups


def _padded(lo: float, hi: float, share: float = 0.15, min_span: float = 0.0) -> list[float]:
    """An axis range around [lo, hi] with room for labels, at least `min_span` wide
    (so that a spread of two points does not fill the chart as if it were fifty)."""
    if hi - lo < min_span:
        middle = (hi + lo) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
    pad = (hi - lo) * share or max(abs(hi) * share, 1.0)
    return [lo - pad, hi + pad]


def label_positions(xs: list[float]) -> list[str]:
    """Above and below in turn, by x: neighbours' labels then do not print over each other."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    positions = [""] * len(xs)
    for rank, i in enumerate(order):
        positions[i] = "top center" if rank % 2 == 0 else "bottom center"
    return positions


def driver_quadrant_figure(drivers: pd.DataFrame) -> Spec | None:
    """marts.driver_importance as an importance x performance quadrant, one view per scope."""
    groups = driver_groups(drivers)
    if not groups:
        return None
    traces = []
    buttons = []
    views = []
    for i, (label, part) in enumerate(groups):
        imp = part["relative_weight_share"].astype(float)
        perf = part["performance_top_2_box_pct"].astype(float)
        low = part["is_low_sample"].fillna(False).astype(bool).tolist()
        quadrants = part["quadrant"].fillna("").astype(str).tolist()
        has_ci = "relative_weight_share_ci_low" in part.columns
        significant = (
            part["is_significant"].fillna(False).astype(bool).tolist()
            if "is_significant" in part.columns
            else [True] * len(part)
        )
        ci_text = [
            (
                f" (95 % interval {fmt_number(r.relative_weight_share_ci_low, 1)} to "
                f"{fmt_number(r.relative_weight_share_ci_high, 1)})"
                if has_ci and not is_missing(r.relative_weight_share_ci_low)
                else ""
            )
            + (
                ""
                if sig
                else "<br><b>not significant</b>: its link with NPS cannot be told from none"
            )
            for r, sig in zip(part.itertuples(index=False), significant, strict=True)
        ]
        hover = [
            f"<b>{esc(r.element_name)}</b> ({esc(r.quadrant)})<br>"
            f"importance {fmt_number(r.relative_weight_share, 1)} % of the explained NPS "
            f"(rank {fmt_number(r.importance_rank)}){ci}<br>"
            f"Pearson r with NPS {fmt_number(r.pearson_r, 2)}, n = {fmt_number(r.n)}"
            f"{' (low sample)' if lo else ''}<br>"
            f"performance {fmt_number(r.performance_top_2_box_pct, 1)} % top-2-box, mean "
            f"{fmt_number(r.performance_mean, 2)} on {fmt_number(r.performance_scale_min)}-"
            f"{fmt_number(r.performance_scale_max)}"
            for r, lo, ci in zip(part.itertuples(index=False), low, ci_text, strict=True)
        ]
        error_x = None
        if has_ci:
            error_x = {
                "type": "data",
                "symmetric": False,
                "array": (part["relative_weight_share_ci_high"].astype(float) - imp).tolist(),
                "arrayminus": (imp - part["relative_weight_share_ci_low"].astype(float)).tolist(),
                "color": "#cbd5e1",
                "thickness": 1.5,
                "width": 0,
            }
        traces.append(
            {
                "type": "scatter",
                "x": imp.tolist(),
                "y": perf.tolist(),
                "mode": "markers+text",
                "text": [
                    shorten(str(v)[:1].upper() + str(v)[1:], 26) + (" †" if lo else "")
                    for v, lo in zip(part["element_name"], low, strict=True)
                ],
                "textposition": label_positions(imp.tolist()),
                "textfont": {"size": 12, "color": "#1e293b"},
                "marker": {
                    "size": 14,
                    "symbol": ["circle" if sig else "circle-open" for sig in significant],
                    "color": [QUADRANT_COLORS.get(q, NEUTRAL) for q in quadrants],
                    "opacity": [0.45 if lo else 1.0 for lo in low],
                    "line": {"color": "white", "width": 1},
                },
                "hovertext": hover,
                "hoverinfo": "text",
                "name": label,
                "visible": i == 0,
                "showlegend": False,
                **({"error_x": error_x} if error_x else {}),
            }
        )
        # The mart splits at the medians (at or above = high): draw the same lines.
        x_mid, y_mid = float(imp.median()), float(perf.median())
        view = {
            "shapes": [
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x_mid,
                    "x1": x_mid,
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dash", "color": "#94a3b8"},
                },
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": y_mid,
                    "y1": y_mid,
                    "line": {"dash": "dash", "color": "#94a3b8"},
                },
            ],
            "xaxis.range": _padded(float(imp.min()), float(imp.max()), 0.15, 20.0),
            "yaxis.range": _padded(float(perf.min()), float(perf.max()), 0.3, 20.0),
        }
        views.append(view)
        buttons.append(
            {
                "label": label,
                "method": "update",
                "args": [{"visible": [j == i for j in range(len(groups))]}, view],
            }
        )
    annotations = [
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": xa,
            "y": ya,
            "xanchor": xanchor,
            "yanchor": yanchor,
            "showarrow": False,
            "font": {"color": color, "size": 11},
        }
        for text, xa, ya, xanchor, yanchor, color in (
            ("FIX FIRST: important, below median", 1, 0, "right", "bottom", BAD),
            ("KEEP UP: important, performing", 1, 1, "right", "top", GOOD),
            ("LOW PRIORITY", 0, 0, "left", "bottom", "#64748b"),
            ("MAINTAIN: less important, performing", 0, 1, "left", "top", ACCENT),
        )
    ]
    fig = figure(
        traces,
        title=title("Key drivers: importance × performance (dashed: medians; † low sample, faded)"),
        xaxis={
            "title": title("Importance: share of the explained NPS (Johnson's relative weight, %)"),
            "range": views[0]["xaxis.range"],
        },
        yaxis={"title": title("Performance: top-2-box (%)"), "range": views[0]["yaxis.range"]},
        shapes=views[0]["shapes"],
        annotations=annotations,
        margin={"t": 100},
    )
    if len(groups) > 1:
        fig["layout"]["updatemenus"] = [
            {
                "buttons": buttons,
                "direction": "down",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
                "showactive": True,
            }
        ]
    return fig
