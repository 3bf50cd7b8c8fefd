"""Runtime settings, read from the environment when asked for (never at import)."""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

#: The repository root (the package is installed in editable mode from it).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SAMPLE_LANDING_DIR = PROJECT_ROOT / "seeds" / "landing"
DEV_PII_SALT = "cx-insights-development-salt"
TARGETS = ("duckdb", "postgres", "spark")
DEFAULT_MEMORY_LIMIT = "5GiB"
#: Age in hours of a source's newest data above which its freshness warns
#: (Dagster's freshness checks and the generated dbt sources use this one number).
DEFAULT_FRESHNESS_HOURS = 36
#: Age in hours of a source's newest event in the data (`submitted_at`, `occurred_at`,
#: ... of its accepted rows) above which its data freshness warns.
DEFAULT_DATA_FRESHNESS_HOURS = 72
#: Timestamps before this date are rejected unless CX_EARLIEST_DATE says otherwise.
DEFAULT_EARLIEST_DATE = date(2000, 1, 1)
LANDING_FORMATS = ("csv", "parquet", "jsonl")
_MEMORY_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting (environment variable) has a value the warehouse cannot run with.

    The message is one line: the variable, the bad value and what is accepted.
    """


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    reporting_currency: str
    pii_salt: str
    target: str
    max_reject_rate: float
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS
    data_freshness_hours: float = DEFAULT_DATA_FRESHNESS_HOURS
    duckdb_memory_limit: str = DEFAULT_MEMORY_LIMIT
    follow_external_links: bool = False
    #: Timestamps before this date are rejected rows (a typo or a placeholder).
    earliest_date: date = DEFAULT_EARLIEST_DATE
    #: Observed timestamps more than this many days after the run date are rejected.
    days_ahead: int = 1
    #: Where alerts are POSTed as JSON besides the outbox (None: the outbox only).
    alert_webhook: str | None = None
    #: How often the insight models recompute when their inputs changed (None: every
    #: run; cx_insights/insights/schedule.py).
    insights_every: timedelta | None = None

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

    @property
    def published(self) -> Path:
        """The read-only copy of the marts that BI tools open (`cx_marts.duckdb` beside
        `cx.duckdb`); each successful run swaps a new one in (cx_insights.serve)."""
        return self.warehouse.with_name(f"{self.warehouse.stem}_marts.duckdb")

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt needs, with absolute paths."""
        env = {
            "CX_WAREHOUSE": str(self.warehouse),
            "CX_REPORTING_CURRENCY": self.reporting_currency,
            "CX_TARGET": self.target,
        }
        if self.target == "postgres":
            from cx_insights import postgres

            env.update(postgres.connection(self, start=False).dbt_env())
        elif self.target == "spark":
            from cx_insights import spark

            env.update(spark.dbt_env(self))
        return env


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """The settings from the environment, every value checked (SettingsError if not)."""
    env = dict(os.environ if env is None else env)
    landing = Path(env.get("CX_LANDING_DIR") or SAMPLE_LANDING_DIR).expanduser().resolve()
    salt = env.get("CX_PII_SALT")
    if not salt:
        warnings.warn(
            "CX_PII_SALT is not set: e-mail hashes use the fixed development salt. "
            "Set CX_PII_SALT to a secret value in production.",
            stacklevel=2,
        )
        salt = DEV_PII_SALT
    return Settings(
        landing_dir=landing,
        warehouse=_warehouse(env),
        reporting_currency=_currency(env),
        pii_salt=salt,
        target=_choice(env, "CX_TARGET", TARGETS, "duckdb"),
        max_reject_rate=_number(env, "CX_MAX_REJECT_RATE", 0.05, low=0.0, high=1.0),
        freshness_hours=_number(
            env, "CX_FRESHNESS_HOURS", float(DEFAULT_FRESHNESS_HOURS), low=0.0, positive=True
        ),
        data_freshness_hours=_number(
            env,
            "CX_DATA_FRESHNESS_HOURS",
            float(DEFAULT_DATA_FRESHNESS_HOURS),
            low=0.0,
            positive=True,
        ),
        duckdb_memory_limit=_memory_limit(env),
        follow_external_links=_flag(env, "CX_FOLLOW_EXTERNAL_LINKS"),
        earliest_date=_date(env, "CX_EARLIEST_DATE", DEFAULT_EARLIEST_DATE),
        days_ahead=_days(env, "CX_DAYS_AHEAD", 1),
        alert_webhook=_url(env, "CX_ALERT_WEBHOOK"),
        insights_every=_period(env, "CX_INSIGHTS_EVERY"),
    )


_PERIOD_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def _period(env: dict[str, str], name: str) -> timedelta | None:
    """`run` (or unset): None; `12h`, `1d`, `2w`: that period."""
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "run"):
        return None
    match = re.fullmatch(r"(\d{1,4})\s*([hdw])", raw)
    if not match or int(match[1]) == 0:
        raise _bad(name, env[name], "`run` or a period such as 12h, 1d or 2w")
    return int(match[1]) * _PERIOD_UNITS[match[2]]


def _url(env: dict[str, str], name: str) -> str | None:
    value = _raw(env, name)
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise _bad(name, env[name], "an http:// or https:// URL")
    return value


def _days(env: dict[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 3650:
        raise _bad(name, raw, "a whole number of days from 0 to 3650 (e.g. 1)")
    return int(raw)


def _date(env: dict[str, str], name: str, default: date) -> date:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _bad(name, raw, "a date YYYY-MM-DD (e.g. 2000-01-01)") from None


def _bad(name: str, value: str, accepted: str) -> SettingsError:
    return SettingsError(f"{name}={value!r} is not valid: expected {accepted}")


def _raw(env: dict[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _number(
    env: dict[str, str],
    name: str,
    default: float,
    *,
    low: float,
    high: float | None = None,
    positive: bool = False,
) -> float:
    value = _raw(env, name)
    if value is None:
        return default
    accepted = (
        f"a number from {low:g} to {high:g} (e.g. 0.05)"
        if high is not None
        else "a positive number of hours (e.g. 36)"
    )
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, env[name], accepted) from None
    if (
        not math.isfinite(number)
        or number < low
        or (high is not None and number > high)
        or (positive and number <= 0)
    ):
        raise _bad(name, env[name], accepted)
    return number


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(env, name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise _bad(name, env[name], "one of " + ", ".join(choices))
    return value.lower()


def _currency(env: dict[str, str]) -> str:
    value = _raw(env, "CX_REPORTING_CURRENCY")
    if value is None:
        return "EUR"
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise _bad(
            "CX_REPORTING_CURRENCY",
            env["CX_REPORTING_CURRENCY"],
            "an ISO 4217 code of three letters A-Z (e.g. EUR)",
        )
    return value.upper()


def _memory_limit(env: dict[str, str]) -> str:
    value = _raw(env, "CX_DUCKDB_MEMORY_LIMIT")
    if value is None:
        return DEFAULT_MEMORY_LIMIT
    if not _MEMORY_SIZE.fullmatch(value):
        raise _bad(
            "CX_DUCKDB_MEMORY_LIMIT",
            env["CX_DUCKDB_MEMORY_LIMIT"],
            "a DuckDB size: a number and one of KB, MB, GB, TB, KiB, MiB, GiB, TiB (e.g. 5GiB)",
        )
    return value


def _flag(env: dict[str, str], name: str) -> bool:
    value = _raw(env, name)
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise _bad(name, env[name], "1 or 0 (true or false)")


def _warehouse(env: dict[str, str]) -> Path:
    """CX_WAREHOUSE, absolute; its folder must exist or be creatable, and be writable."""
    raw = env.get("CX_WAREHOUSE") or ""
    warehouse = Path(raw or PROJECT_ROOT / "warehouse" / "cx.duckdb").expanduser()
    if not warehouse.is_absolute():
        warehouse = (Path.cwd() / warehouse).resolve()
    shown = raw or str(warehouse)
    accepted = "a file path whose folder exists or can be created, and is writable"
    if warehouse.is_dir():
        raise SettingsError(
            f"CX_WAREHOUSE={shown!r} is a directory: expected a file path such as "
            f"{warehouse / 'cx.duckdb'}"
        )
    folder = warehouse.parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SettingsError(
            f"CX_WAREHOUSE={shown!r} is not valid: {existing} is a file, not a folder "
            f"(expected {accepted})"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(
            f"CX_WAREHOUSE={shown!r} is not valid: the folder {existing} is not writable "
            f"(expected {accepted})"
        )
    return warehouse


def landing_file_count(landing_dir: Path, limit: int = 1) -> int:
    """How many landing files `<source>/<entity>/**/*.csv|parquet|jsonl` there are (up to
    `limit`), hidden ones (`.` or `_`) not counted."""
    from cx_insights.contract import ENTITIES

    found = 0
    for e in ENTITIES:
        folder = landing_dir / e.source / e.name
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if (
                path.suffix.lower().lstrip(".") in LANDING_FORMATS
                and not path.name.startswith((".", "_"))
                and not path.is_dir()
            ):
                found += 1
                if found >= limit:
                    return found
    return found


def check_landing_dir(landing_dir: Path) -> None:
    """Stop (SettingsError) before anything changes when CX_LANDING_DIR is mistyped or empty.

    A landing directory holding some sources and not others is normal (a company
    without web analytics): only a directory with no landing file at all is refused.
    """
    if not landing_dir.exists():
        raise SettingsError(f"CX_LANDING_DIR={landing_dir} does not exist")
    if not landing_dir.is_dir():
        raise SettingsError(f"CX_LANDING_DIR={landing_dir} is not a directory")
    if not landing_file_count(landing_dir):
        raise SettingsError(
            f"CX_LANDING_DIR={landing_dir} holds no landing files "
            "(expected <source>/<entity>/*.csv|parquet|jsonl)"
        )


def dagster_home(settings: Settings, env: dict[str, str] | None = None) -> Path:
    """`DAGSTER_HOME` if set, else `<warehouse dir>/dagster_home`."""
    env = dict(os.environ if env is None else env)
    raw = (env.get("DAGSTER_HOME") or "").strip()
    return Path(raw).expanduser().resolve() if raw else settings.output_dir / "dagster_home"


@functools.cache
def _dbt_vars() -> dict[str, object]:
    import yaml

    with (DBT_PROJECT_DIR / "dbt_project.yml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)["vars"]


def dbt_var(name: str) -> object:
    """A var of dbt_project.yml: a threshold defined there once, for the SQL and the Python."""
    return _dbt_vars()[name]


#: A KPI or insight on fewer observations than this is flagged is_low_sample
#: (dbt var `low_sample_n`).
LOW_SAMPLE_N: int = int(dbt_var("low_sample_n"))  # type: ignore[call-overload]
