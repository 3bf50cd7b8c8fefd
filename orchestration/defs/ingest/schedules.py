"""The daily run of the whole graph."""

import dagster as dg

from orchestration.defs.jobs import all_assets_job

daily_schedule = dg.ScheduleDefinition(
    name="cx_daily",
    job=all_assets_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every day at 05:00 UTC: load the day's drops, check them, rebuild the marts.",
)
