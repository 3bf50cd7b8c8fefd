"""Baseline (b): the same company-level monthly KPIs with a plain pandas script,
the way an analyst would. Prints the row count and the seconds taken."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def read(landing: Path, source: str, entity: str, columns: list[str]) -> pd.DataFrame:
    folder = landing / source / entity
    frames = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            frames.append(pd.read_parquet(path, columns=columns))
        elif path.suffix == ".csv":
            frames.append(pd.read_csv(path, usecols=lambda c: c.lower() in columns, dtype=str))
        elif path.suffix == ".jsonl":
            frames.append(pd.read_json(path, lines=True, dtype=False)[columns])
    return pd.concat(frames, ignore_index=True)


def utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_localize(None)


def kpis(landing: Path) -> int:
    q = read(landing, "feedback", "questions", ["question_id", "metric", "scale_min", "scale_max"])
    r = read(landing, "feedback", "responses", ["response_id", "submitted_at"])
    a = read(landing, "feedback", "answers", ["response_id", "question_id", "value_number"])
    df = a.merge(q, on="question_id").merge(r, on="response_id")
    df["month"] = utc(df["submitted_at"]).dt.to_period("M")
    df["v"] = pd.to_numeric(df["value_number"], errors="coerce")
    lo, hi = pd.to_numeric(df["scale_min"]), pd.to_numeric(df["scale_max"])
    nps = (
        df[df.metric == "nps"]
        .groupby("month")["v"]
        .apply(lambda v: 100 * ((v >= 9).sum() - (v <= 6).sum()) / len(v))
    )
    csat = (
        df[df.metric == "csat"]
        .assign(top=lambda d: d.v >= hi[d.index] - 1)
        .groupby("month")["top"]
        .mean()
        * 100
    )
    ces = (
        df[df.metric == "ces"]
        .assign(r=lambda d: 1 + 6 * (d.v - lo[d.index]) / (hi[d.index] - lo[d.index]))
        .groupby("month")["r"]
        .mean()
    )
    t = read(landing, "tickets", "tickets", ["ticket_id", "created_at"]).drop_duplicates(
        "ticket_id"
    )
    tickets = t.groupby(utc(t.created_at).dt.to_period("M")).size()
    e = read(landing, "web", "events", ["anonymous_id", "occurred_at", "event_name"])
    e["ts"] = utc(e["occurred_at"])
    e = e.sort_values(["anonymous_id", "ts"])
    gap = e.groupby("anonymous_id")["ts"].diff()
    e["sess"] = (gap.isna() | (gap > pd.Timedelta(minutes=30))).cumsum()
    s = e.groupby("sess").agg(
        start=("ts", "min"), bought=("event_name", lambda x: (x == "purchase").any())
    )
    web = s.groupby(s.start.dt.to_period("M")).agg(
        sessions=("bought", "size"), conv=("bought", "mean")
    )
    fx = read(landing, "framework", "fx_rates", ["rate_date", "currency", "rate_to_reporting"])
    fx["d"] = pd.to_datetime(fx.rate_date)
    fx["rate"] = pd.to_numeric(fx.rate_to_reporting)
    inv = read(landing, "crm", "invoices", ["issued_at", "amount", "currency", "status"])
    inv = inv[inv.status == "paid"].copy()
    inv["ts"] = utc(inv.issued_at)
    inv["amount"] = pd.to_numeric(inv.amount)
    inv = pd.merge_asof(
        inv.sort_values("ts"),
        fx.sort_values("d")[["d", "currency", "rate"]],
        left_on="ts",
        right_on="d",
        by="currency",
    )
    revenue = (inv.amount * inv.rate).groupby(inv.ts.dt.to_period("M")).sum()
    result = pd.concat(
        {
            "nps": nps,
            "csat": csat,
            "ces": ces,
            "tickets": tickets,
            "sessions": web.sessions,
            "conversion": web.conv * 100,
            "revenue": revenue,
        },
        axis=1,
    )
    return int(np.isfinite(result.fillna(0).to_numpy()).any(axis=1).sum())


if __name__ == "__main__":
    started = time.monotonic()
    n = kpis(Path(sys.argv[1]))
    print(f"{n} months in {time.monotonic() - started:.1f} s")
