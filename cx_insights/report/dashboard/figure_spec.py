"""Plotly figures as plain dicts: the JSON plotly.js draws, built without graph objects.

The dashboard draws about 300 figures (the role pages once per segment and month).
Built as `plotly.graph_objects`, every property is validated and copied on the way in
and turned back into dicts on the way out; at 100 k customers that was about half of
the page's time (2026-12-07). Plotly's maintainers recommend plain dicts when a figure
only goes to JSON (plotly/plotly.py#1052, #1812). Two rules follow from leaving the
graph objects: write properties in full (`{"marker": {"color": ...}}`, not
`marker_color`) and every title as `{"text": ...}` (plotly.js 3 dropped string titles).

The layout of a row of panels still comes from plotly's own `make_subplots`, computed
once per shape and copied.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

from plotly.subplots import make_subplots

Spec = dict[str, Any]


def figure(data: list[dict[str, Any]], **layout: Any) -> Spec:
    return {"data": data, "layout": layout}


def title(text: str) -> dict[str, str]:
    return {"text": text}


def right_axis(text: str, **settings: Any) -> dict[str, Any]:
    """A second y axis on the right, over the first (its traces say `"yaxis": "y2"`)."""
    return {
        "title": title(text),
        "overlaying": "y",
        "side": "right",
        "showgrid": False,
        "tickmode": "auto",
        **settings,
    }


def axis_name(letter: str, col: int) -> str:
    """The layout key of panel `col`'s axis: xaxis, xaxis2, ..."""
    return f"{letter}axis{'' if col == 1 else col}"


def axis(spec: Spec, letter: str, col: int = 1) -> dict[str, Any]:
    """Panel `col`'s x or y axis in the layout (created empty when absent)."""
    return spec["layout"].setdefault(axis_name(letter, col), {})


def on_panel(trace: dict[str, Any], col: int) -> dict[str, Any]:
    """The trace drawn on panel `col` of a row of panels."""
    if col > 1:
        trace["xaxis"], trace["yaxis"] = f"x{col}", f"y{col}"
    return trace


def panels(
    titles: Sequence[str],
    *,
    shared_yaxes: bool = False,
    column_widths: Sequence[float] | None = None,
    horizontal_spacing: float | None = None,
    **layout: Any,
) -> Spec:
    """An empty figure with one row of panels, as plotly's `make_subplots` lays it out
    (axis domains, shared axes, the panel titles as annotations)."""
    base = _panels_layout(
        tuple(titles),
        shared_yaxes,
        tuple(column_widths) if column_widths else None,
        horizontal_spacing,
    )
    return {"data": [], "layout": {**copy.deepcopy(base), **layout}}


@functools.lru_cache(maxsize=64)
def _panels_layout(
    titles: tuple[str, ...],
    shared_yaxes: bool,
    column_widths: tuple[float, ...] | None,
    horizontal_spacing: float | None,
) -> dict[str, Any]:
    grid = make_subplots(
        rows=1,
        cols=len(titles),
        shared_yaxes=shared_yaxes,
        column_widths=list(column_widths) if column_widths else None,
        horizontal_spacing=horizontal_spacing,
        subplot_titles=list(titles),
    )
    layout = grid.to_plotly_json()["layout"]
    layout.pop("template", None)  # the page sets one template for every figure
    return layout
