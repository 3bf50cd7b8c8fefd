"""Which rows of an incremental mart a publish has to replace: those written since.

An incremental mart rewrites, in each dbt run, the rows of the keys its upstream
rows written since its watermark carry, and deletes the rows whose key went missing
upstream (a complete re-gate); nothing else changes its rows. Its key test says which
upstream rows those are (`unique_keys_written_since_tested`'s `written_upstream` in the
model's yml: each upstream relation, its expressions named as the mart's key columns,
an optional condition; dbt_project/tests/generic/unique_keys_written_since_tested.sql).
The publish reads the same from dbt's manifest: the published copy of such a mart is
brought up to date by deleting and inserting the rows of the keys written after the
upstream marker its rows already include (`Plan.latest_marker` at the previous
publish: the mart's watermark), and then by deleting the keys no longer in the mart,
instead of hashing every column of both sides (cx_insights.serve).

A mart built whole since that marker (first build, full refresh, a stored table of an
older version: `<model>:built_whole` in the watermarks) has no usable markers: the
publish falls back to the hash difference. So does every table without a plan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from cx_insights.warehouse import quote_ident, sql_literal

#: The key test whose configuration names the upstream rows a mart's rewrite follows.
KEY_TEST = "unique_keys_written_since_tested"
#: Where the incremental models note when each was built whole (incremental_helpers.sql).
WATERMARKS = "intermediate._incremental_watermarks"
_AS = re.compile(r"\s+as\s+", re.IGNORECASE)
_REF = re.compile(r"""ref\(\s*['"](?P<name>\w+)['"]\s*\)""")


@dataclass(frozen=True)
class Upstream:
    """Upstream rows a mart's rewrite follows: `relation` (schema.table) where
    `_written_at` is after the marker and `where` holds, `keys` its expressions named
    as (some of) the mart's key columns."""

    relation: str
    keys: tuple[str, ...]
    where: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        """The mart's key columns the expressions give (`subject_id as response_id`)."""
        return tuple(_AS.split(key)[-1].strip() for key in self.keys)

    def keys_sql(self, database: str, since: datetime) -> str:
        condition = f" and ({self.where})" if self.where else ""
        return (
            f"select distinct {', '.join(self.keys)} from {database}.{self.relation} "
            f"where _written_at > {timestamp_sql(since)}{condition}"
        )


@dataclass(frozen=True)
class Plan:
    """How to find the rows of incremental mart `model` written since a marker."""

    model: str
    key: tuple[str, ...]
    upstreams: tuple[Upstream, ...]

    def latest_marker(self, con: duckdb.DuckDBPyConnection, database: str) -> datetime | None:
        """The latest upstream marker the mart's rows include: its watermark (the
        latest `_written_at` of the upstream rows its last build read; the upstream
        may hold later rows it has not read yet, a run that built only the upstream),
        or, for a mart without one, the latest `_written_at` of its upstream (the
        customer-month marts: their digests are their own, written by their build).
        Rows written later carry a later marker (a later dbt run's start)."""
        watermark = con.execute(
            f"select max(watermark) from {database}.{WATERMARKS} where model_name = ?",
            [self.model],
        ).fetchone()[0]
        if watermark is not None:
            return watermark
        parts = " union all ".join(
            f"select max(_written_at) as marker from {database}.{u.relation}"
            for u in self.upstreams
        )
        return con.execute(f"select max(marker) from ({parts})").fetchone()[0]

    def built_whole_since(
        self, con: duckdb.DuckDBPyConnection, database: str, since: datetime
    ) -> bool:
        return (
            con.execute(
                f"select count(*) from {database}.{WATERMARKS} "
                f"where model_name = ? and watermark > {timestamp_sql(since)}",
                [f"{self.model}:built_whole"],
            ).fetchone()[0]
            > 0
        )


def timestamp_sql(value: datetime) -> str:
    return f"cast({sql_literal(value.isoformat(sep=' '))} as timestamp)"


def plans(manifest: Path, schema: str = "marts") -> dict[str, Plan]:
    """{mart: Plan} for the incremental models of `schema` whose key test names its
    written upstream rows; empty when the manifest is missing or unreadable."""
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError):
        return {}
    models = {n["name"]: n for n in nodes.values() if n.get("resource_type") == "model"}
    found: dict[str, Plan] = {}
    for node in nodes.values():
        test = node.get("test_metadata") or {}
        kwargs = test.get("kwargs") or {}
        written = kwargs.get("written_upstream")
        model = nodes.get(node.get("attached_node") or "")
        if test.get("name") != KEY_TEST or not written or model is None:
            continue
        if model["schema"] != schema or model["config"].get("materialized") != "incremental":
            continue
        upstreams = [_upstream(entry, models) for entry in written]
        if all(upstreams):  # an unknown ref: no plan, the mart's rows are compared
            found[model["alias"]] = Plan(model["alias"], tuple(kwargs["columns"]), tuple(upstreams))
    return found


def _upstream(entry: dict, models: dict[str, dict]) -> Upstream | None:
    """One `written_upstream` entry: `model` is `ref('name')` or schema.table."""
    ref = _REF.search(entry["model"])
    if ref:
        parent = models.get(ref["name"])
        if parent is None:
            return None
        relation = f"{quote_ident(parent['schema'])}.{quote_ident(parent['alias'])}"
    else:
        relation = ".".join(quote_ident(part) for part in entry["model"].split("."))
    return Upstream(relation, tuple(entry["select"]), entry.get("where") or "")


def replace_written(
    con: duckdb.DuckDBPyConnection, name: str, plan: Plan, since: datetime, rewrite_share: float
) -> bool | None:
    """Bring `pub.<name>` (a copy of `work.<name>` as it was when its latest marker,
    Plan.latest_marker, was `since`) to `work.<name>`'s rows: delete the rows of the keys written
    since and insert them again from work, then delete the rows whose key is no longer
    in work. True when done; False, with nothing changed, when at least `rewrite_share`
    of the rows were written (a whole copy is cheaper); None when the mart was built
    whole since, or the counts do not add up after it (the caller then compares every
    row: it brings any state to work's rows)."""
    if plan.built_whole_since(con, "work", since):
        return None
    for side in ("work", "pub"):
        ids = " union ".join(
            f"select rowid as row_id from {side}.{name} "
            f"semi join ({upstream.keys_sql('work', since)}) as written "
            f"using ({', '.join(quote_ident(c) for c in upstream.columns)})"
            for upstream in plan.upstreams
        )
        con.execute(f"create or replace temp table _{side}_written as {ids}")
    try:
        written = con.execute("select count(*) from _work_written").fetchone()[0]
        rows = con.execute(f"select count(*) from work.{name}").fetchone()[0]
        if written >= rewrite_share * max(rows, 1):
            return False
        con.execute(f"delete from pub.{name} where rowid in (select row_id from _pub_written)")
        con.execute(
            f"insert into pub.{name} select * from work.{name} "
            "where rowid in (select row_id from _work_written)"
        )
        published = con.execute(f"select count(*) from pub.{name}").fetchone()[0]
        if published > rows:  # keys deleted from the mart since (gone upstream)
            key = ", ".join(quote_ident(c) for c in plan.key)
            con.execute(
                f"delete from pub.{name} where rowid in ("
                f"select gone.rowid from pub.{name} as gone anti join work.{name} using ({key}))"
            )
            published = con.execute(f"select count(*) from pub.{name}").fetchone()[0]
        return True if published == rows else None
    finally:
        for side in ("work", "pub"):
            con.execute(f"drop table _{side}_written")
