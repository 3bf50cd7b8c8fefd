"""Freshness as a data engineer means it: how old a source's newest file is, and how old
the newest event in its data is (a fresh file can carry weeks-old events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from cx_insights.contract import OBSERVED_AT_COLUMNS, Entity, accepted_table
from cx_insights.ingest.loader import newest_loaded_file
from cx_insights.warehouse import table_exists


@dataclass(frozen=True)
class SourceFreshness:
    entity: str
    last_loaded: datetime | None
    newest_file: datetime | None
    #: The newest observed instant among the entity's accepted rows (None: the entity
    #: has no event column, e.g. framework reference data, or no accepted row yet).
    newest_event: datetime | None
    event_columns: tuple[str, ...]


def newest_event(con: duckdb.DuckDBPyConnection, e: Entity) -> datetime | None:
    columns = OBSERVED_AT_COLUMNS.get(e.qualified, ())
    table = accepted_table(e)
    if not columns or not table_exists(con, "raw", table):
        return None
    maxima = ", ".join(f"max({c})" for c in columns)
    row = con.execute(f"select {maxima} from raw.{table}").fetchone()
    values = [v for v in (row or ()) if v is not None]
    return max(values) if values else None


def source_freshness(con: duckdb.DuckDBPyConnection, e: Entity) -> SourceFreshness:
    loaded, newest_file = newest_loaded_file(con, e.qualified)
    return SourceFreshness(
        entity=e.qualified,
        last_loaded=loaded,
        newest_file=newest_file,
        newest_event=newest_event(con, e),
        event_columns=OBSERVED_AT_COLUMNS.get(e.qualified, ()),
    )


def age_hours(then: datetime | None, now: datetime) -> float | None:
    return None if then is None else (now - then).total_seconds() / 3600


def verdict(age: float | None, limit: float) -> str:
    """`ok`, `STALE (n h late)` or `-` (nothing to judge)."""
    if age is None:
        return "-"
    return "ok" if age <= limit else f"STALE ({describe_age(age - limit)} late)"


def describe_age(hours: float) -> str:
    return f"{hours:,.1f} h" if hours < 72 else f"{hours / 24:,.1f} days"
