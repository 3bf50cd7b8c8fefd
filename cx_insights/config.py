"""Runtime settings, read from the environment when asked for (never at import)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

#: The repository root (the package is installed in editable mode from it).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SAMPLE_LANDING_DIR = PROJECT_ROOT / "seeds" / "landing"
DEV_PII_SALT = "cx-insights-development-salt"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    reporting_currency: str
    pii_salt: str
    target: str
    max_reject_rate: float

    @property
    def output_dir(self) -> Path:
        """Reports (data-quality page, dashboard) sit beside the warehouse file."""
        return self.warehouse.parent

    @property
    def quality_report(self) -> Path:
        return self.output_dir / "data_quality.html"

    @property
    def dashboard(self) -> Path:
        return self.output_dir / "dashboard.html"

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt needs, with absolute paths."""
        return {
            "CX_WAREHOUSE": str(self.warehouse),
            "CX_REPORTING_CURRENCY": self.reporting_currency,
            "CX_PII_SALT": self.pii_salt,
            "CX_TARGET": self.target,
        }


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    landing = Path(env.get("CX_LANDING_DIR") or SAMPLE_LANDING_DIR).expanduser().resolve()
    warehouse = Path(env.get("CX_WAREHOUSE") or PROJECT_ROOT / "warehouse" / "cx.duckdb")
    warehouse = warehouse.expanduser()
    if not warehouse.is_absolute():
        warehouse = (Path.cwd() / warehouse).resolve()
    salt = env.get("CX_PII_SALT")
    if not salt:
        warnings.warn(
            "CX_PII_SALT is not set: e-mail hashes use the fixed development salt. "
            "Set CX_PII_SALT to a secret value in production.",
            stacklevel=2,
        )
        salt = DEV_PII_SALT
    try:
        max_reject = float(env.get("CX_MAX_REJECT_RATE") or 0.05)
    except ValueError as exc:
        raise ValueError(
            f"CX_MAX_REJECT_RATE must be a fraction such as 0.05, got {env['CX_MAX_REJECT_RATE']!r}"
        ) from exc
    return Settings(
        landing_dir=landing,
        warehouse=warehouse,
        reporting_currency=(env.get("CX_REPORTING_CURRENCY") or "EUR").strip().upper(),
        pii_salt=salt,
        target=env.get("CX_TARGET") or "duckdb",
        max_reject_rate=max_reject,
    )
