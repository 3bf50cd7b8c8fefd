"""The calendar the generator works on: the data window and the history before it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cx_insights.generate.files import NO_TIME
from cx_insights.generate.framework import INITIATIVES

DEFAULT_END_MONTH = "2026-10"
DAY = 86_400
HOUR = 3_600
#: Demand by calendar month (January first): busier in November and December.
SEASON = np.array([1.0, 0.95, 0.95, 0.95, 0.95, 0.9, 0.85, 0.9, 1.0, 1.05, 1.3, 1.45])


@dataclass(frozen=True)
class Window:
    """Months as int64 epoch seconds.

    The simulation runs over `pre` months of history (the existing customer
    base signed up then, and some of it churned before the data window) and
    then the `months` of the data window. CRM rows (customers, subscriptions,
    invoices) cover the whole history, as a billing system would; web events,
    surveys and tickets only the data window.
    """

    months: int
    pre: int
    #: Start of every simulated month plus the end of the last one.
    bounds: np.ndarray
    #: Calendar month (1..12) of every simulated month.
    calendar: np.ndarray

    @property
    def start(self) -> int:
        return int(self.bounds[self.pre])

    @property
    def end(self) -> int:
        return int(self.bounds[-1])

    @property
    def n_sim(self) -> int:
        return self.pre + self.months

    def season(self, sim_month: np.ndarray | int) -> np.ndarray:
        return SEASON[self.calendar[sim_month] - 1]

    def month_at(self, seconds: np.ndarray) -> np.ndarray:
        """Simulated month index of each instant."""
        return np.searchsorted(self.bounds, seconds, side="right") - 1

    def initiative_times(self) -> list[tuple[int, int]]:
        """(started_at, ended_at or NO_TIME) of each initiative, on month starts."""
        out = []
        for ini in INITIATIVES:
            m = self.pre + int(round(ini.start_fraction * self.months))
            end = NO_TIME
            if ini.duration_months is not None:
                end = int(self.bounds[min(m + ini.duration_months, len(self.bounds) - 1)])
            out.append((int(self.bounds[m]), end))
        return out


def make_window(months: int, end_month: str | None = None) -> Window:
    if months < 2:
        raise ValueError(f"months must be at least 2, got {months}")
    last = np.datetime64(end_month or DEFAULT_END_MONTH, "M")
    pre = max(1, months // 2)
    first = last - (months - 1) - pre
    starts = first + np.arange(pre + months + 1)
    bounds = starts.astype("datetime64[s]").astype(np.int64)
    calendar = (starts[:-1].astype(np.int64) % 12) + 1
    return Window(months=months, pre=pre, bounds=bounds, calendar=calendar)


def add_months(seconds: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The same day-of-month (capped at 28) and time of day, `k` months later."""
    t = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")
    month = t.astype("datetime64[M]")
    day = np.minimum(
        (t.astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64), 27
    )
    tod = (t - t.astype("datetime64[D]")).astype(np.int64)
    target = (month + np.asarray(k)).astype("datetime64[D]") + day
    return target.astype("datetime64[s]").astype(np.int64) + tod
