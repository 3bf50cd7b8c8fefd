"""Hostile and careless landing input (issue 13): every case ends in a correct load or
a one-line reason naming the file (or the setting), never a traceback, a silent
change of numbers or a lost row."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_insights.config import SettingsError, check_landing_dir, load_settings
from cx_insights.contract import entity
from cx_insights.ingest import loader, readers
from cx_insights.ingest.loader import RAW_META_COLUMNS, load_entity
from cx_insights.quality.gate import run_gate
from cx_insights.quality.results import failed_files
from cx_insights.warehouse import connect, table_columns
from tests.conftest import gate_order, run_cli

TICKETS = entity("tickets__tickets")
INVOICES = entity("crm__invoices")
TICKET_HEADER = "ticket_id,created_at,status"
INVOICE_HEADER = "invoice_id,customer_id,issued_at,amount,currency,status"
RESERVED = [
    "_loaded_at",
    "_source_file",
    "_source_line",
    "_file_mtime",
    "_parse_error",
    "_raw_record",
    "_rule",
    "_reason",
    "rowid",
    "__t_customer_id",
    "__t_status",
]


def _files(query) -> dict[str, tuple[str, str | None]]:
    return {r[0]: (r[1], r[2]) for r in query("select path, status, error from raw._files")}


def _landed_columns(query, q: str) -> list[str]:
    cols = [r[0] for r in query(f"describe raw.{q}")]
    return [c for c in cols if c not in RAW_META_COLUMNS]


# --- 1. reserved names --------------------------------------------------------


def test_reserved_column_names_never_reach_the_control_columns(landing, load_and_gate, query):
    extra = ",".join(RESERVED)
    landing.write(
        "crm/invoices/a.csv",
        f"{INVOICE_HEADER},{extra}\n"
        f"I1,C1,2024-01-01,10,EUR,paid,{','.join('v' for _ in RESERVED)}\n"
        f"I2,C2,2024-01-01,10,EUR,teleported,{','.join('v' for _ in RESERVED)}\n",
    )
    results = load_and_gate(only=["crm__invoices"])
    assert _files(query)["crm/invoices/a.csv"][0] == "loaded"
    assert not [c for c in _landed_columns(query, "crm__invoices") if c.startswith("_")]
    assert query(
        "select original_name, stored_name from raw._schema_drift order by original_name"
    ) == sorted((name, "x_" + name) for name in RESERVED)
    # The gate still works: the bad row is quarantined, the good one accepted with its
    # own (typed) key, and the lineage is the loader's, not the file's.
    assert query("select invoice_id, _rule from quarantine.crm__invoices") == [
        ("I2", "enum:status")
    ]
    assert query(
        "select invoice_id, customer_id, _source_file, _source_line "
        "from raw.crm__invoices__accepted"
    ) == [("I1", "C1", "crm/invoices/a.csv", 2)]
    assert results["crm__invoices"].reconciles


def test_json_empty_key_is_an_extra_column_with_a_safe_name(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.jsonl",
        '{"ticket_id": "J1", "created_at": "2024-01-07", "status": "new", "": "?", "_rule": "x"}\n',
    )
    load_and_gate(only=["tickets__tickets"])
    assert _files(query)["tickets/tickets/a.jsonl"] == ("loaded", None)
    drift = dict(query("select original_name, stored_name from raw._schema_drift"))
    assert drift == {"": drift[""], "_rule": "x__rule"}
    assert drift[""].startswith("x_unnamed_")
    assert query("select ticket_id from raw.tickets__tickets__accepted") == [("J1",)]


def test_an_old_raw_table_with_a_reserved_column_is_migrated(landing, warehouse, query):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,teleported\n")
    with connect(warehouse) as con:
        # The layout before namespacing: the extra column `_rule` as landed.
        con.execute(
            "create table raw.tickets__tickets as select * from (values "
            "('T0', '2024-01-05', 'open')) as t(ticket_id, created_at, status)"
        )
        for c in TICKETS.column_names:
            con.execute(f'alter table raw.tickets__tickets add column if not exists "{c}" varchar')
        for c, t in RAW_META_COLUMNS.items():
            con.execute(f"alter table raw.tickets__tickets add column {c} {t}")
        con.execute('alter table raw.tickets__tickets add column "_rule" varchar')
        load_entity(con, landing.root, TICKETS)
        assert "x__rule" in table_columns(con, "raw", "tickets__tickets")
        assert "_rule" not in table_columns(con, "raw", "tickets__tickets")
        result = run_gate(con, TICKETS, "EUR")
    assert result.by_rule.get("enum:status") == 1


# --- 2. duplicate column names --------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "content", "column"),
    [
        (
            "crm/customers/a.csv",
            "customer_id,signed_up_at,segment,segment\nC1,2024-01-01,smb,ent\n",
            "segment",
        ),
        (
            "crm/customers/a.csv",
            "customer_id,signed_up_at,email,EMAIL\nC1,2024-01-01,a@x.io,b@x.io\n",
            "email",
        ),
        (
            "tickets/tickets/a.jsonl",
            '{"TICKET_ID": "J1", "ticket_id": "J2", "created_at": "2024-01-07", "status": "new"}\n',
            "ticket_id",
        ),
    ],
)
def test_a_column_landed_twice_fails_the_file(landing, warehouse, rel, content, column):
    landing.write(rel, content)
    e = entity("__".join(rel.split("/")[:2]))
    with connect(warehouse) as con:
        load_entity(con, landing.root, e)
        (failed,) = failed_files(con, e)
        assert con.execute(f"select count(*) from raw.{e.qualified}").fetchone() == (0,)
    assert failed[0] == rel
    assert column in failed[1].lower() and "twice" in failed[1]


def test_json_lines_spelling_a_column_differently_per_line_is_one_column(landing, warehouse):
    landing.write(
        "tickets/tickets/a.jsonl",
        '{"TICKET_ID": "J1", "created_at": "2024-01-07", "status": "new"}\n'
        '{"ticket_id": "J2", "created_at": "2024-01-07", "status": "new"}\n',
    )
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        rows = con.execute("select ticket_id from raw.tickets__tickets order by 1").fetchall()
    assert rows == [("J1",), ("J2",)]


# --- 3. unreadable files --------------------------------------------------------


def test_an_unreadable_file_fails_with_the_os_reason_and_later_files_load(
    landing, warehouse, monkeypatch
):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    landing.write("tickets/tickets/b.csv", f"{TICKET_HEADER}\nT2,2024-01-05,open\n")
    real_open = Path.open

    def no_permission(self, *args, **kwargs):
        if self.name == "a.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", no_permission)
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        files = dict(
            (r[0], (r[1], r[2]))
            for r in con.execute("select path, status, error from raw._files").fetchall()
        )
        rows = con.execute("select ticket_id from raw.tickets__tickets").fetchall()
    assert files["tickets/tickets/a.csv"] == ("failed", "cannot be read: Permission denied")
    assert files["tickets/tickets/b.csv"][0] == "loaded"
    assert rows == [("T2",)]


def test_a_named_pipe_is_never_opened(landing, warehouse):
    landing.write("tickets/tickets/b.csv", f"{TICKET_HEADER}\nT2,2024-01-05,open\n")
    os.mkfifo(landing.root / "tickets/tickets/a.csv")  # opening it would block for ever
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        files = dict(
            (r[0], (r[1], r[2]))
            for r in con.execute("select path, status, error from raw._files").fetchall()
        )
    assert files["tickets/tickets/a.csv"][0] == "failed"
    assert "not a regular file" in files["tickets/tickets/a.csv"][1]
    assert files["tickets/tickets/b.csv"][0] == "loaded"


# --- 4. CSV shapes --------------------------------------------------------------


def test_mixed_line_endings_load(landing, warehouse):
    landing.write(
        "tickets/tickets/a.csv",
        f"{TICKET_HEADER}\nT1,2024-01-05,open\r\nT2,2024-01-05,new\nT3,2024-01-05,open\n".encode(),
    )
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        rows = con.execute(
            "select ticket_id, status, _source_line from raw.tickets__tickets order by 1"
        ).fetchall()
    assert rows == [("T1", "open", 2), ("T2", "new", 3), ("T3", "open", 4)]


def test_a_long_field_loads_and_one_above_the_limit_names_line_and_limit(
    landing, warehouse, monkeypatch
):
    long = "x" * 5_000_000
    landing.write(
        "tickets/tickets/a.csv",
        f"{TICKET_HEADER},category\nT1,2024-01-05,open,a\nT2,2024-01-05,open,{long}\n",
    )
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        rows = con.execute(
            "select ticket_id, length(category), _source_line from raw.tickets__tickets order by 1"
        ).fetchall()
        assert rows == [("T1", 1, 2), ("T2", 5_000_000, 3)]
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1 << 20)
    landing.write(
        "tickets/tickets/a.csv",
        f"{TICKET_HEADER},category\nT1,2024-01-05,open,b\nT2,2024-01-05,open,{long}\n",
    )
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        status, error = con.execute("select status, error from raw._files").fetchone()
    assert status == "failed"
    assert "line 3" in error and "1 MiB" in error and "max_line_size" in error
    assert "xxxx" not in error


def test_source_line_is_the_physical_line_where_the_record_starts(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv",
        f"{TICKET_HEADER},category\n"  # line 1
        'T1,2024-01-05,open,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4, blank
        "T2,2024-01-05,open,a,too many\n"  # line 5, rejected
        'T3,2024-01-05,open,"three\r\nphysical\nlines"\n'  # lines 6-8
        "T4,2024-01-05,open,b\n",  # line 9
    )
    results = load_and_gate(only=["tickets__tickets"])
    assert query("select ticket_id, _source_line from raw.tickets__tickets order by 2") == [
        ("T1", 2),
        (None, 5),
        ("T3", 6),
        ("T4", 9),
    ]
    assert query("select _source_line, _rule from quarantine.tickets__tickets") == [
        (5, "parse_error")
    ]
    assert results["tickets__tickets"].reconciles


# --- 5. files skipped -----------------------------------------------------------


def test_hidden_and_unsupported_files_are_recorded_as_ignored(landing, warehouse):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    landing.write("tickets/tickets/.a.csv.swp", "junk")
    landing.write("tickets/tickets/_tmp.csv", f"{TICKET_HEADER}\nT9,2024-01-05,open\n")
    landing.write("tickets/tickets/export.xlsx", b"PK\x03\x04")
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        files = {
            r[0]: (r[1], r[2])
            for r in con.execute("select path, status, error from raw._files").fetchall()
        }
        rows = con.execute("select ticket_id from raw.tickets__tickets").fetchall()
    assert files["tickets/tickets/a.csv"][0] == "loaded"
    for rel in ("tickets/tickets/.a.csv.swp", "tickets/tickets/_tmp.csv"):
        assert files[rel][0] == "ignored" and "hidden" in files[rel][1]
    assert files["tickets/tickets/export.xlsx"][0] == "ignored"
    assert "unsupported extension" in files["tickets/tickets/export.xlsx"][1]
    assert rows == [("T1",)]


# --- 6. symbolic links ----------------------------------------------------------


def test_a_link_out_of_the_landing_directory_is_refused_without_its_content(
    landing, warehouse, tmp_path
):
    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0:TOPSECRET\n")
    landing.write("crm/invoices/ok.csv", f"{INVOICE_HEADER}\nI1,C1,2024-01-01,10,EUR,paid\n")
    (landing.root / "crm/invoices/passwd.csv").symlink_to(secret)
    (landing.root / "crm/invoices/inside.csv").symlink_to(landing.root / "crm/invoices/ok.csv")
    with connect(warehouse) as con:
        load_entity(con, landing.root, INVOICES)
        files = {
            r[0]: (r[1], r[2])
            for r in con.execute("select path, status, error from raw._files").fetchall()
        }
    status, error = files["crm/invoices/passwd.csv"]
    assert status == "failed"
    assert error == loader.EXTERNAL_LINK_REASON
    assert "CX_FOLLOW_EXTERNAL_LINKS=1" in error and "TOPSECRET" not in error
    assert files["crm/invoices/inside.csv"][0] == "loaded"
    # Allowed explicitly, the link is read like any file (and fails on its header).
    with connect(warehouse) as con:
        load_entity(con, landing.root, INVOICES, follow_external_links=True)
        status, error = con.execute(
            "select status, error from raw._files where path = 'crm/invoices/passwd.csv'"
        ).fetchone()
    assert status == "failed" and "required column" in error


# --- 7. same bytes, different file ---------------------------------------------


def test_a_byte_copy_of_an_earlier_file_is_a_later_file_and_wins(landing, load_and_gate, query):
    day1 = "journey_id,journey_name,stage_order\nJ1,Onboarding,1\n"
    landing.write("framework/journeys/day1.csv", day1, mtime=1_000)
    landing.write(
        "framework/journeys/day2.csv",
        "journey_id,journey_name,stage_order\nJ1,Welcome,1\n",
        mtime=2_000,
    )
    load_and_gate(only=["framework__journeys"])
    landing.write("framework/journeys/day3.csv", day1, mtime=3_000)  # reverted
    load_and_gate(only=["framework__journeys"])
    assert query("select journey_name from raw.framework__journeys__accepted") == [("Onboarding",)]
    assert query("select status from raw._files where path = 'framework/journeys/day3.csv'") == [
        ("loaded",)
    ]


def test_a_legacy_duplicate_row_is_loaded_on_the_next_run(landing, warehouse):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    landing.write("tickets/tickets/b.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        # What an older loader left: b.csv skipped as a duplicate (or marked missing
        # by a mistyped landing directory), with the file's size and mtime.
        con.execute("delete from raw.tickets__tickets where _source_file = 'tickets/tickets/b.csv'")
        con.execute(
            "update raw._files set status = 'duplicate', rows_landed = 0 "
            "where path = 'tickets/tickets/b.csv'"
        )
        load_entity(con, landing.root, TICKETS)
        files = dict(con.execute("select path, status from raw._files").fetchall())
        rows = con.execute("select count(*) from raw.tickets__tickets").fetchone()[0]
    assert files["tickets/tickets/b.csv"] == "loaded"
    assert rows == 2


# --- 8. deleted files -----------------------------------------------------------


def _snapshot(con, q):
    accepted = con.execute(
        f"select * exclude (_gated_at, _loaded_at) from raw.{q}__accepted order by all"
    ).fetchall()
    quarantined = con.execute(
        f"select * exclude (_loaded_at, _quarantined_at) from quarantine.{q} order by all"
    ).fetchall()
    return accepted, quarantined


def query_status(snapshot) -> list[str]:
    columns = list(TICKETS.column_names)
    return [row[columns.index("status")] for row in snapshot["tickets__tickets"][0]]


def _load_and_gate_all(con, root):
    for q in gate_order():
        load_entity(con, root, entity(q))
    for q in gate_order():
        run_gate(con, entity(q), "EUR")


def test_a_deleted_file_takes_its_rows_out_incremental_equals_fresh(landing, tmp_path):
    landing.write("crm/customers/main.csv", "customer_id,signed_up_at\nC1,2024-01-01\n")
    landing.write(
        "crm/customers/copy.csv", "customer_id,signed_up_at\nC1,2024-01-01\nC2,2024-01-02\n"
    )
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    landing.write("tickets/tickets/b.csv", f"{TICKET_HEADER}\nT1,2024-01-05,solved\n")
    incremental = tmp_path / "incremental.duckdb"
    with connect(incremental) as con:
        _load_and_gate_all(con, landing.root)
        (landing.root / "crm/customers/copy.csv").unlink()
        (landing.root / "tickets/tickets/b.csv").unlink()
        _load_and_gate_all(con, landing.root)
        status = con.execute(
            "select status from raw._files where path = 'tickets/tickets/b.csv'"
        ).fetchone()
        after = {q: _snapshot(con, q) for q in ("crm__customers", "tickets__tickets")}
        raw = con.execute("select count(*) from raw.tickets__tickets").fetchone()[0]
    assert status == ("missing",)
    assert raw == 1
    with connect(tmp_path / "fresh.duckdb") as con:
        _load_and_gate_all(con, landing.root)
        fresh = {q: _snapshot(con, q) for q in ("crm__customers", "tickets__tickets")}
    assert after == fresh
    assert [r[0] for r in after["crm__customers"][0]] == ["C1"]
    assert query_status(after) == ["open"]


# --- 9. mistyped or empty landing directory -------------------------------------


def test_a_mistyped_landing_directory_changes_nothing(landing, warehouse, tmp_path):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    with connect(warehouse) as con:
        load_entity(con, landing.root, TICKETS)
        before = con.execute("select * from raw._files").fetchall()
        with pytest.raises(SettingsError, match="does not exist"):
            load_entity(con, tmp_path / "typo", TICKETS)
        (tmp_path / "empty").mkdir()
        with pytest.raises(SettingsError, match="holds no landing files"):
            load_entity(con, tmp_path / "empty", TICKETS)
        assert con.execute("select * from raw._files").fetchall() == before
        assert con.execute("select count(*) from raw.tickets__tickets").fetchone() == (1,)


def test_some_sources_missing_is_normal(landing, warehouse):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    check_landing_dir(landing.root)  # no web, no crm: fine
    with connect(warehouse) as con:
        load_entity(con, landing.root, entity("web__events"))
        assert con.execute("select count(*) from raw.web__events").fetchone() == (0,)


def test_cli_stops_on_a_mistyped_or_empty_landing_directory(tmp_path):
    missing = tmp_path / "typo"
    done = run_cli(["run"], missing, tmp_path / "w" / "cx.duckdb")
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"cx-insights: CX_LANDING_DIR={missing} does not exist"
    )
    empty = tmp_path / "empty"
    (empty / "crm" / "customers").mkdir(parents=True)
    done = run_cli(["run"], empty, tmp_path / "w" / "cx.duckdb")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"cx-insights: CX_LANDING_DIR={empty} holds no landing files "
        "(expected <source>/<entity>/*.csv|parquet|jsonl)"
    )
    assert not (tmp_path / "w" / "cx.duckdb").exists()


# --- 10. settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CX_MAX_REJECT_RATE", "5%"),
        ("CX_MAX_REJECT_RATE", "1.5"),
        ("CX_MAX_REJECT_RATE", "nan"),
        ("CX_FRESHNESS_HOURS", "-1"),
        ("CX_FRESHNESS_HOURS", "a day"),
        ("CX_DUCKDB_MEMORY_LIMIT", "5G"),
        ("CX_DUCKDB_MEMORY_LIMIT", "lots"),
        ("CX_TARGET", "bigquery"),
        ("CX_REPORTING_CURRENCY", "EURO"),
        ("CX_REPORTING_CURRENCY", "€"),
        ("CX_WAREHOUSE", "/etc/hostname/cx.duckdb"),
    ],
)
def test_a_bad_setting_is_one_line_naming_variable_value_and_accepted(name, value, tmp_path):
    env = {"CX_PII_SALT": "x", "CX_WAREHOUSE": str(tmp_path / "cx.duckdb"), name: value}
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{name}=")
    assert value in message


def test_good_settings_are_read(tmp_path):
    s = load_settings(
        {
            "CX_PII_SALT": "x",
            "CX_WAREHOUSE": str(tmp_path / "new" / "cx.duckdb"),
            "CX_MAX_REJECT_RATE": "0.1",
            "CX_FRESHNESS_HOURS": "12",
            "CX_DUCKDB_MEMORY_LIMIT": "800MB",
            "CX_TARGET": "duckdb",
            "CX_REPORTING_CURRENCY": "usd",
        }
    )
    assert (s.max_reject_rate, s.freshness_hours, s.duckdb_memory_limit) == (0.1, 12.0, "800MB")
    assert s.reporting_currency == "USD"


def test_cli_reports_a_bad_setting_in_one_line(tmp_path):
    done = run_cli(["status"], tmp_path, tmp_path / "cx.duckdb", CX_MAX_REJECT_RATE="lots")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cx-insights: CX_MAX_REJECT_RATE='lots' is not valid: expected a number from 0 to 1 "
        "(e.g. 0.05)"
    ]


# --- property: any header name ----------------------------------------------------

header_name = st.one_of(
    st.sampled_from([*RESERVED, "_rule", "_Reason", " _loaded_at ", "__T_STATUS", ""]),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='\x00",\r\n'),
        min_size=0,
        max_size=8,
    ),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(header_name, min_size=1, max_size=4))
def test_any_extra_header_is_stored_without_a_leading_underscore(names):
    extra = ",".join(f'"{n}"' for n in names)
    values = ",".join("v" for _ in names)
    content = (
        f"{INVOICE_HEADER},{extra}\n"
        f"I1,C1,2024-01-01,10,EUR,paid,{values}\n"
        f"I2,C1,2024-01-01,10,EUR,teleported,{values}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        (root / "crm" / "invoices").mkdir(parents=True)
        (root / "crm" / "invoices" / "a.csv").write_text(content, encoding="utf-8")
        with connect(Path(tmp) / "w.duckdb") as con:
            load_entity(con, root, entity("framework__fx_rates"))
            load_entity(con, root, INVOICES)
            status, error = con.execute("select status, error from raw._files").fetchone()
            if status == "failed":
                # Only a name landed twice (case-insensitively) may fail the file.
                assert "twice" in error or "would both be stored" in error
                return
            landed = [
                c for c in table_columns(con, "raw", "crm__invoices") if c not in RAW_META_COLUMNS
            ]
            assert not [c for c in landed if c.startswith("_")]
            run_gate(con, entity("framework__fx_rates"), "EUR")
            result = run_gate(con, INVOICES, "EUR")
            quarantined = con.execute(
                "select invoice_id, _rule from quarantine.crm__invoices"
            ).fetchall()
            accepted = con.execute("select invoice_id from raw.crm__invoices__accepted").fetchall()
    assert quarantined == [("I2", "enum:status")]
    assert accepted == [("I1",)]
    assert result.reconciles


def test_a_touched_file_is_hashed_once_and_orders_by_its_new_time(landing, warehouse, monkeypatch):
    """Same bytes, newer mtime: the rows stay, the new time is stored (no re-hash on
    the next run) and the file now wins over a file it used to precede."""
    tickets = entity("tickets__tickets")
    header = "ticket_id,created_at,status\n"
    first = landing.write("tickets/tickets/a.csv", header + "T1,2024-01-05T10:00Z,open\n")
    landing.write("tickets/tickets/b.csv", header + "T1,2024-01-05T10:00Z,solved\n")
    with connect(warehouse) as con:
        load_entity(con, landing.root, tickets)
        run_gate(con, tickets, "EUR")
        assert con.execute("select status from raw.tickets__tickets__accepted").fetchall() == [
            ("solved",)
        ]
    later = first.stat().st_mtime + 3600
    os.utime(first, (later, later))
    hashed: list[str] = []
    real = loader.sha256_of
    monkeypatch.setattr(loader, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    with connect(warehouse) as con:
        load_entity(con, landing.root, tickets)
        load_entity(con, landing.root, tickets)
        run_gate(con, tickets, "EUR")
        assert con.execute("select status from raw.tickets__tickets__accepted").fetchall() == [
            ("open",)
        ]
    assert hashed == ["a.csv"]
