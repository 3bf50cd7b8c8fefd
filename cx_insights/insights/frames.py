"""Reading dbt relations into pandas inside dbt Python models.

Projections, filters and counts run in the database (a DuckDB relation, as
dbt-duckdb hands to Python models), so only what a model needs is copied
into pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def to_pandas(
    relation: object, columns: Sequence[str] | None = None, where: str | None = None
) -> pd.DataFrame:
    """`columns` (default all) of a dbt relation as a pandas frame, filtered by SQL `where`."""
    if isinstance(relation, pd.DataFrame):
        if where:
            raise ValueError("a pandas frame cannot be filtered with SQL")
        return (relation if columns is None else relation[list(columns)]).copy()
    rel = relation.filter(where) if where else relation
    rel = rel if columns is None else rel.project(", ".join(columns))
    # A fixed row order: sums and model fits must not depend on how parallel
    # scans happened to deliver the rows, or a rerun would change the marts.
    ordering = ", ".join(f'"{c}"' for c in rel.columns)
    return rel.order(ordering).df()


def count_rows(relation: object, where: str | None = None) -> int:
    rel = relation.filter(where) if where else relation
    return int(rel.aggregate("count(*)").fetchone()[0])


def first_row(relation: object, columns: Sequence[str]) -> dict | None:
    frame = relation.project(", ".join(columns)).limit(1).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def sql_date(value: object) -> str:
    """A SQL date literal."""
    return f"date '{pd.Timestamp(value):%Y-%m-%d}'"


def customer_sample(rows: int, max_rows: int, column: str = "customer_id") -> str:
    """A SQL condition keeping a deterministic sample of customers (by a hash of their
    id) of about max_rows / rows, or 'true' when everything fits."""
    if rows <= max_rows:
        return "true"
    per_mille = max(1, int(1000 * max_rows / rows))
    return f"hash({column}) % 1000 < {per_mille}"


def untyped_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its object columns that hold no value (an empty result: a drop
    without initiatives or without CRM) as text. DuckDB stores such a column as
    INTEGER, which PostgreSQL and Spark cannot cast to a date or timestamp in the
    marts; a null text casts to every type."""
    untyped = [c for c in frame.select_dtypes("object") if frame[c].isna().all()]
    return frame.astype(dict.fromkeys(untyped, "string")) if untyped else frame
