"""The Support and Product pages' takeaways: sentences from the marts, claims only when
significant."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from cx_insights.insights.stats import wilson_interval
from cx_insights.report.dashboard import data as ddata
from cx_insights.report.dashboard import takeaways


def test_wilson_interval_and_significance():
    low, high = wilson_interval(3, 326)
    assert low == pytest.approx(0.313, abs=0.01) and high == pytest.approx(2.67, abs=0.01)
    assert takeaways.differs(3, 326, 2.53) == 0  # 0.9 % on 326 sessions: not clearly below
    assert takeaways.differs(2, 302, 2.53) == -1
    assert takeaways.differs(38, 517, 2.53) == 1
    assert takeaways.differs(0, 29, 2.53) == 0  # fewer than 30: never a claim


def _kpi(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=["month", "level", "level_id", "metric", "value", "numerator", "denominator", "n"],
    )
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    frame["ci_low"] = frame["ci_high"] = None
    frame["is_low_sample"] = frame["n"] < 30
    return frame


def _data(frames: dict) -> ddata.DashboardData:
    return ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames=frames,
        reporting_month=date(2026, 9, 1),
    )


def test_support_takeaways_name_a_channel_only_when_it_is_significantly_worse():
    channels = pd.DataFrame(
        {
            "month": [date(2026, 9, 1)] * 3 + [date(2026, 8, 1)],
            "channel": ["email", "chat", "phone", "email"],
            "tickets_created": [100, 60, 40, 150],
            "responded_tickets": [100, 60, 40, 150],
            "median_first_response_minutes": [120.0, 3.0, 1.0, 100.0],
            "rated_good": [90, 20, 4, 80],
            "rated": [100, 50, 5, 100],
        }
    )
    kpi = _kpi(
        [
            (
                "2026-09-01",
                "company",
                "all",
                "median_first_response_minutes",
                30.0,
                None,
                None,
                200,
            ),
            (
                "2026-08-01",
                "company",
                "all",
                "median_first_response_minutes",
                40.0,
                None,
                None,
                150,
            ),
        ]
    )
    text = takeaways.support_takeaways(_data({"tickets_by_channel": channels, "kpi_monthly": kpi}))
    assert (
        text[0]
        == "200 tickets were created in Sep 2026 (+50 on the month before); 50 % came by email."
    )
    assert "30 minutes (−10 min on the month before)" in text[1]
    assert "email answers slowest (120 min) and phone fastest (1 min)" in text[1]
    # 114 of 155 good (73.5 %): chat's 20 of 50 is clearly below; phone's 4 of 5 is too few.
    assert text[2].endswith("chat rated significantly worse than that.")


def test_product_takeaways_say_when_nothing_differs_yet():
    kpi = _kpi(
        [
            ("2026-09-01", "company", "all", "sessions", 1000.0, None, None, 1000),
            ("2026-09-01", "company", "all", "conversion_rate", 2.0, 20.0, 1000.0, 1000),
            ("2026-09-01", "touchpoint", "TP-1", "conversion_rate", 3.0, 3.0, 100.0, 100),
            ("2026-09-01", "company", "all", "cart_abandonment_rate", 60.0, 60.0, 100.0, 100),
        ]
    )
    text = takeaways.product_takeaways(_data({"kpi_monthly": kpi}))
    assert text[0] == "1,000 web sessions in Sep 2026; 2.00 % of them bought."
    assert text[1].startswith("No landing touchpoint's conversion differs significantly")
