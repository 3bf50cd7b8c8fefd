"""Dagster resources: configuration comes from here (and the environment, read at run time)."""

from __future__ import annotations

import dagster as dg

from cx_insights.config import Settings, load_settings


class CxSettingsResource(dg.ConfigurableResource):
    """Where the landing data and the warehouse are.

    Every field left empty falls back to the environment variable of
    interface.md (`CX_LANDING_DIR`, `CX_WAREHOUSE`, ...), read when a run
    starts, never at import time.
    """

    landing_dir: str = ""
    warehouse: str = ""
    reporting_currency: str = ""
    max_reject_rate: str = ""

    def settings(self) -> Settings:
        import os

        env = dict(os.environ)
        for name, value in (
            ("CX_LANDING_DIR", self.landing_dir),
            ("CX_WAREHOUSE", self.warehouse),
            ("CX_REPORTING_CURRENCY", self.reporting_currency),
            ("CX_MAX_REJECT_RATE", self.max_reject_rate),
        ):
            if value:
                env[name] = value
        return load_settings(env)
