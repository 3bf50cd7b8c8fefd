"""The dbt sources, generated from the contract (the one definition).

`dbt_project/models/staging/<source>/_<source>__sources.yml` declares the
accepted tables the gate writes: their columns and descriptions, the enum
columns' accepted values and the freshness threshold, all taken from
`cx_insights.contract` and `cx_insights.config`. Nobody edits those files by
hand: `python -m cx_insights.dbt_sources` rewrites them, and `--check` (run by
`make lint`) fails when a committed file differs from what the contract gives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from cx_insights.config import DBT_PROJECT_DIR, DEFAULT_FRESHNESS_HOURS
from cx_insights.contract import (
    ENTITIES,
    REFERENCE_SOURCES,
    SOURCE_DOCS,
    SOURCES,
    Entity,
    accepted_table,
)

HEADER = (
    "# Generated from cx_insights/contract.py by `python -m cx_insights.dbt_sources`:\n"
    "# do not edit by hand (make lint checks that it is up to date).\n"
)


def _column(e: Entity, name: str, doc: str, enum: tuple[str, ...] | None) -> dict:
    column: dict = {"name": name, "description": doc}
    if enum:
        column["data_tests"] = [{"accepted_values": {"arguments": {"values": list(enum)}}}]
    return column


def _table(e: Entity) -> dict:
    columns = []
    for c in e.columns:
        columns.append(_column(e, c.name, c.doc, c.enum))
        if c.pseudonymise:
            columns.append(
                _column(
                    e,
                    f"{c.name}_hash",
                    f"Salted SHA-256 of the trimmed, lower-cased {c.name}, added by the gate.",
                    None,
                )
            )
    return {
        "name": e.name,
        "identifier": accepted_table(e),
        "description": e.description,
        "columns": columns,
    }


def render(source: str) -> str:
    """The YAML text of one source's `_<source>__sources.yml`."""
    freshness = (
        None
        if source in REFERENCE_SOURCES
        else {"warn_after": {"count": DEFAULT_FRESHNESS_HOURS, "period": "hour"}}
    )
    document = {
        "version": 2,
        "sources": [
            {
                "name": source,
                "description": SOURCE_DOCS[source],
                "schema": "raw",
                "config": {"loaded_at_field": "_loaded_at", "freshness": freshness},
                "tables": [_table(e) for e in ENTITIES if e.source == source],
            }
        ],
    }
    body = yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def path_of(source: str) -> Path:
    return DBT_PROJECT_DIR / "models" / "staging" / source / f"_{source}__sources.yml"


def stale() -> list[Path]:
    """The source files whose committed text differs from the contract's."""
    return [
        path_of(s)
        for s in SOURCES
        if not path_of(s).exists() or path_of(s).read_text(encoding="utf-8") != render(s)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    outdated = stale()
    if args.check:
        for path in outdated:
            print(
                f"{path}: out of date with cx_insights/contract.py; "
                "run `python -m cx_insights.dbt_sources`",
                file=sys.stderr,
            )
        return 1 if outdated else 0
    for path in outdated:
        source = path.parent.name
        path.write_text(render(source), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
