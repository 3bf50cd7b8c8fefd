"""The role dashboard: one static, self-contained HTML file built from the marts.

`write_dashboard(settings)` reads the marts (read-only, one short connection),
and writes `dashboard.html` beside the warehouse file: plotly.js inlined once,
no CDN, no server, so the file opens from disk and can be mailed.

One tab per role, each answering its role's question:

* Executive: the top line this month against last month and a year ago, NPS
  with its interval, revenue at risk, the value of a promoter, and three
  things to act on, in words.
* CX lead: the journey -> job -> touchpoint roll-up, key drivers in an
  importance x performance quadrant, verbatims of the worst touchpoints.
* Support lead, Product / digital, Initiatives, Data quality.

Numbers are read from the marts as they are (`kpi_monthly` and the insight
tables); where a breakdown is not in a mart (tickets by channel), it is
selected from the fact table in SQL with the definition of kpis.md. A table
that is missing renders a "not available yet" note, never an error.
"""

from cx_insights.report.dashboard.data import MARTS_READ
from cx_insights.report.dashboard.render import render_dashboard, write_dashboard

__all__ = ["MARTS_READ", "render_dashboard", "write_dashboard"]
