"""Baseline (a): company-level monthly KPIs in one hand-written DuckDB SQL script,
straight over the landing files, the way an analyst would (no quarantine, no
lineage, no incremental state). Prints the row count and the seconds taken."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb


def scan(landing: Path, source: str, entity: str) -> str:
    folder = landing / source / entity
    if any(folder.glob("*.parquet")):
        return f"read_parquet('{folder}/*.parquet', union_by_name = true)"
    if any(folder.glob("*.csv")):
        return f"read_csv('{folder}/*.csv', union_by_name = true, all_varchar = true)"
    return f"read_json('{folder}/*.jsonl', format = 'newline_delimited', union_by_name = true)"


def kpis(landing: Path) -> int:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    s = {
        name: scan(landing, *name.split("/"))
        for name in (
            "feedback/questions",
            "feedback/responses",
            "feedback/answers",
            "tickets/tickets",
            "web/events",
            "crm/invoices",
            "framework/fx_rates",
            "crm/subscriptions",
        )
    }
    con.execute(f"""
    create table result as
    with q as (select question_id, metric, cast(scale_min as int) as lo,
                      cast(scale_max as int) as hi
               from {s["feedback/questions"]}),
    r as (select response_id, cast(cast(submitted_at as timestamptz) as timestamp) as ts
          from {s["feedback/responses"]}),
    a as (select response_id, question_id, cast(value_number as double) as v
          from {s["feedback/answers"]}),
    survey as (
        select date_trunc('month', r.ts) as month,
               100.0 * (count(*) filter (where q.metric = 'nps' and v >= 9)
                      - count(*) filter (where q.metric = 'nps' and v <= 6))
                     / nullif(count(*) filter (where q.metric = 'nps'), 0) as nps,
               100.0 * count(*) filter (where q.metric = 'csat' and v >= q.hi - 1)
                     / nullif(count(*) filter (where q.metric = 'csat'), 0) as csat,
               avg(1 + 6 * (v - q.lo) / (q.hi - q.lo)) filter (where q.metric = 'ces') as ces
        from a join q using (question_id) join r using (response_id) group by 1),
    t as (select ticket_id, cast(cast(created_at as timestamptz) as timestamp) as created_at
          from {s["tickets/tickets"]}),
    tickets as (select date_trunc('month', created_at) as month,
                       count(distinct ticket_id) as tickets
                from t group by 1),
    e as (select anonymous_id, event_name,
                 cast(cast(occurred_at as timestamptz) as timestamp) as ts from {s["web/events"]}),
    marked as (select *, case when ts - lag(ts) over (partition by anonymous_id order by ts)
                              <= interval 30 minute then 0 else 1 end as starts from e),
    numbered as (select *, sum(starts) over (partition by anonymous_id order by ts
                                             rows unbounded preceding) as sess from marked),
    sessions as (select anonymous_id, sess, min(ts) as started_at,
                        bool_or(event_name = 'purchase') as bought from numbered group by 1, 2),
    web as (select date_trunc('month', started_at) as month, count(*) as sessions,
                   100.0 * count(*) filter (where bought) / count(*) as conversion_rate
            from sessions group by 1),
    fx as (select cast(rate_date as date) as d, currency, cast(rate_to_reporting as double) as rate
           from {s["framework/fx_rates"]}),
    inv as (select cast(cast(issued_at as timestamptz) as timestamp) as ts,
                   cast(amount as double) as amount, currency, status
            from {s["crm/invoices"]}),
    revenue as (
        select date_trunc('month', inv.ts) as month,
               sum(inv.amount * (select rate from fx where fx.currency = inv.currency
                                 and fx.d <= cast(inv.ts as date) order by d desc limit 1))
                   as revenue
        from inv where status = 'paid' group by 1)
    select * from survey full join tickets using (month) full join web using (month)
        full join revenue using (month) order by month
    """)
    return con.execute("select count(*) from result").fetchone()[0]


if __name__ == "__main__":
    started = time.monotonic()
    n = kpis(Path(sys.argv[1]))
    print(f"{n} months in {time.monotonic() - started:.1f} s")
