"""What the gate decided, read back from the warehouse: counts per entity
(GateResult), files that failed to load, a sample of quarantined rows, and
whether the FX table converts into the reporting currency. The checks, the
data-quality page and the status command read these; the gate writes them
(cx_insights.quality.gate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from cx_insights.contract import WAITING_RULES, Entity, accepted_table, entity
from cx_insights.warehouse import sql_literal, table_exists


@dataclass
class GateResult:
    entity: str
    rows_landed: int
    rows_accepted: int
    rows_quarantined: int
    rows_current: int
    by_rule: dict[str, int] = field(default_factory=dict)
    rows_waiting: int = 0
    skipped: bool = False
    mode: str = "skipped"  # full | delta | skipped
    plan_reason: str = "unchanged input"
    rows_checked: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_landed == self.rows_accepted + self.rows_quarantined

    @property
    def rows_rejected(self) -> int:
        """Quarantined rows that are wrong in themselves (not merely waiting)."""
        return self.rows_quarantined - self.rows_waiting

    @property
    def reject_rate(self) -> float:
        """Rejected rows over landed rows; waiting rows never count."""
        return self.rows_rejected / self.rows_landed if self.rows_landed else 0.0


def gate_counts(con: duckdb.DuckDBPyConnection, e: Entity, *, skipped: bool) -> GateResult:
    landed = con.execute(f"select count(*) from raw.{e.qualified}").fetchone()[0]
    quarantined = con.execute(f"select count(*) from quarantine.{e.qualified}").fetchone()[0]
    current = con.execute(f"select count(*) from raw.{accepted_table(e)}").fetchone()[0]
    by_rule = dict(
        con.execute(
            f"select _rule, count(*) from quarantine.{e.qualified} group by _rule order by _rule"
        ).fetchall()
    )
    waiting = sum(int(n) for rule, n in by_rule.items() if rule in WAITING_RULES)
    # Accepted rows counted independently of the quarantine: rows of raw whose
    # (file, line) is not quarantined. The reconciliation compares the two.
    accepted = con.execute(
        f"""
        select count(*) from raw.{e.qualified} as landed
        where not exists (
            select 1 from quarantine.{e.qualified} as rejected
            where rejected._source_file = landed._source_file
              and rejected._source_line = landed._source_line
        )
        """
    ).fetchone()[0]
    return GateResult(
        e.qualified,
        rows_landed=int(landed),
        rows_accepted=int(accepted),
        rows_quarantined=int(quarantined),
        rows_current=int(current),
        by_rule={str(k): int(v) for k, v in by_rule.items()},
        skipped=skipped,
        rows_waiting=waiting,
    )


def failed_files(con: duckdb.DuckDBPyConnection, e: Entity) -> list[tuple[str, str]]:
    """(path, reason) of the entity's files that could not be read."""
    if not table_exists(con, "raw", "_files"):
        return []
    return [
        (r[0], r[1])
        for r in con.execute(
            "select path, error from raw._files where entity = ? and status = 'failed' "
            "order by path",
            [e.qualified],
        ).fetchall()
    ]


def quarantine_sample(
    con: duckdb.DuckDBPyConnection, e: Entity, limit: int = 5, *, rejected_only: bool = False
) -> list[dict[str, object]]:
    waiting = ", ".join(sql_literal(r) for r in sorted(WAITING_RULES))
    where = f"where _rule not in ({waiting})" if rejected_only else ""
    rows = con.execute(
        f"""
        select _source_file, _source_line, _rule, _reason from quarantine.{e.qualified}
        {where} order by _file_mtime, _source_file, _source_line limit {int(limit)}
        """
    ).fetchall()
    return [{"file": r[0], "line": int(r[1]), "rule": r[2], "reason": r[3]} for r in rows]


def reporting_currency_problem(con: duckdb.DuckDBPyConnection, currency: str) -> str | None:
    """Why the fx table cannot convert to `currency` (CX_REPORTING_CURRENCY), or None.

    Rates are "1 unit of currency = this many units of the reporting currency",
    so the reporting currency itself, where listed, has rate 1; and a table
    that gives another currency rate 1 on every date and never lists the
    reporting currency converts to that other currency.
    """
    fx = "raw." + accepted_table(entity("framework__fx_rates"))
    if not table_exists(con, "raw", accepted_table(entity("framework__fx_rates"))):
        return None
    rates = con.execute(
        f"select currency, min(rate_to_reporting), max(rate_to_reporting) from {fx} "
        "group by currency order by currency"
    ).fetchall()
    own = [r for r in rates if r[0] == currency]
    if own and (own[0][1] != 1 or own[0][2] != 1):
        return (
            f"CX_REPORTING_CURRENCY={currency}, but framework/fx_rates gives {currency} rates "
            f"from {own[0][1]:g} to {own[0][2]:g}, not 1: the table converts to another currency"
        )
    base = [r[0] for r in rates if r[1] == 1 and r[2] == 1 and r[0] != currency]
    if not own and base:
        return (
            f"CX_REPORTING_CURRENCY={currency}, but framework/fx_rates converts to {base[0]} "
            f"({base[0]} has rate 1 on every date and {currency} is not listed): set "
            f"CX_REPORTING_CURRENCY={base[0]} or supply rates into {currency}"
        )
    return None
