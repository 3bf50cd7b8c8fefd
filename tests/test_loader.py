"""One small test per landing-contract rule of the loader, on files the tests write."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

TICKET_HEADER = "ticket_id,created_at,status"


def test_bom_and_upper_case_headers(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv", "\ufeffTICKET_ID,Created_At,STATUS\nT1,2024-01-05,open\n"
    )
    load_and_gate()
    assert query("select ticket_id, status from raw.tickets__tickets__accepted") == [("T1", "open")]


def test_rfc4180_quoting_newline_and_quotes_inside_fields(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv",
        "ticket_id,created_at,status,category\n"
        'T1,2024-01-05,open,"billing, ""urgent""\nsecond line"\n'
        "T2,2024-01-06,new,delivery\n",
    )
    load_and_gate()
    rows = query("select ticket_id, category, _source_line from raw.tickets__tickets order by 1")
    # `_source_line` is the physical line where the record starts: T2 is on line 4.
    assert rows == [("T1", 'billing, "urgent"\nsecond line', 2), ("T2", "delivery", 4)]


def test_empty_field_is_null(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv", "ticket_id,created_at,status,category\nT1,2024-01-05,open,\n"
    )
    load_and_gate()
    assert query("select category from raw.tickets__tickets__accepted") == [(None,)]


def test_offset_converted_to_utc_across_a_month_boundary(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv",
        f"{TICKET_HEADER}\nT1,2026-02-01T00:30:00+01:00,open\nT2,2026-01-31T23:30:00,open\n"
        "T3,2026-01-31T20:00:00-05:00,open\n",
    )
    load_and_gate()
    rows = dict(query("select ticket_id, created_at from raw.tickets__tickets__accepted"))
    assert rows["T1"] == dt.datetime(2026, 1, 31, 23, 30)  # January in UTC
    assert rows["T2"] == dt.datetime(2026, 1, 31, 23, 30)  # no offset: taken as UTC
    assert rows["T3"] == dt.datetime(2026, 2, 1, 1, 0)  # February in UTC


def test_extra_column_is_kept_in_raw_and_reported(landing, load_and_gate, query):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER},Mood\nT1,2024-01-05,open,grumpy\n")
    load_and_gate()
    # Stored namespaced (`x_<name>`): a landed name never collides with a control column.
    assert query("select x_mood from raw.tickets__tickets") == [("grumpy",)]
    assert query(
        "select entity, column_name, original_name, stored_name from raw._schema_drift"
    ) == [("tickets__tickets", "mood", "Mood", "x_mood")]
    assert query("select count(*) from raw.tickets__tickets__accepted") == [(1,)]


def test_later_file_wins_by_modification_time_then_name(landing, load_and_gate, query):
    # b.csv is older than a.csv: a.csv's row is the later one despite its name.
    landing.write("tickets/tickets/b.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n", mtime=1_000)
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,solved\n", mtime=2_000)
    # Same mtime: the name decides (z after y).
    landing.write("tickets/tickets/y.csv", f"{TICKET_HEADER}\nT2,2024-01-05,open\n", mtime=3_000)
    landing.write("tickets/tickets/z.csv", f"{TICKET_HEADER}\nT2,2024-01-05,pending\n", mtime=3_000)
    # Within one file, the last line wins.
    landing.write(
        "tickets/tickets/c.csv", f"{TICKET_HEADER}\nT3,2024-01-05,new\nT3,2024-01-05,open\n"
    )
    load_and_gate()
    assert dict(query("select ticket_id, status from raw.tickets__tickets__accepted")) == {
        "T1": "solved",
        "T2": "pending",
        "T3": "open",
    }


def test_same_file_twice_changes_nothing(landing, load_and_gate, query):
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    load_and_gate()
    before = query("select * from raw.tickets__tickets order by all")
    load_and_gate()
    assert query("select * from raw.tickets__tickets order by all") == before
    # The same content under another name is a later file: loaded on its own.
    landing.write("tickets/tickets/copy.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    load_and_gate()
    assert query("select _source_file from raw.tickets__tickets order by all") == [
        ("tickets/tickets/a.csv",),
        ("tickets/tickets/copy.csv",),
    ]
    assert query("select status from raw._files where path like '%copy.csv'") == [("loaded",)]
    assert query("select _source_file from raw.tickets__tickets__accepted") == [
        ("tickets/tickets/copy.csv",)
    ]


def test_changed_file_replaces_its_rows(landing, load_and_gate, query):
    landing.write(
        "tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\nT2,2024-01-05,open\n"
    )
    load_and_gate()
    landing.write("tickets/tickets/a.csv", f"{TICKET_HEADER}\nT1,2024-01-05,solved\n")
    load_and_gate()
    assert query("select ticket_id, status from raw.tickets__tickets") == [("T1", "solved")]


def test_unreadable_files_are_recorded_and_do_not_stop_the_others(landing, load_and_gate, query):
    landing.write("tickets/tickets/good.csv", f"{TICKET_HEADER}\nT1,2024-01-05,open\n")
    landing.write(
        "tickets/tickets/latin1.csv", f"{TICKET_HEADER}\nT2,2024-01-05,café\n".encode("latin-1")
    )
    landing.write("tickets/tickets/broken.parquet", b"PAR1 this is not parquet")
    landing.write("tickets/tickets/nostatus.csv", "ticket_id,created_at\nT3,2024-01-05\n")
    load_and_gate()
    files = dict(query("select path, status from raw._files"))
    assert files == {
        "tickets/tickets/good.csv": "loaded",
        "tickets/tickets/latin1.csv": "failed",
        "tickets/tickets/broken.parquet": "failed",
        "tickets/tickets/nostatus.csv": "failed",
    }
    errors = dict(query("select path, error from raw._files where status = 'failed'"))
    assert "UTF-8" in errors["tickets/tickets/latin1.csv"]
    assert "Parquet" in errors["tickets/tickets/broken.parquet"]
    assert "status" in errors["tickets/tickets/nostatus.csv"]
    assert query("select ticket_id from raw.tickets__tickets__accepted") == [("T1",)]


def test_parquet_and_json_lines(landing, load_and_gate, query, tmp_path):
    table = pa.table(
        {
            "Ticket_ID": ["P1", "P2"],
            "created_at": pa.array(
                [dt.datetime(2024, 1, 5, 10), dt.datetime(2024, 1, 6, 11)], pa.timestamp("us")
            ),
            "status": ["open", "solved"],
        }
    )
    path = landing.root / "tickets/tickets/p.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    landing.write(
        "tickets/tickets/j.jsonl",
        '{"ticket_id": "J1", "created_at": "2024-01-07T10:00:00Z", "STATUS": "new"}\n'
        "\n"
        "{not json}\n"
        '{"ticket_id": "J2", "created_at": "2024-01-07T10:00:00Z", "status": "new", "n": 3}\n',
    )
    load_and_gate()
    assert sorted(query("select ticket_id from raw.tickets__tickets__accepted")) == [
        ("J1",),
        ("J2",),
        ("P1",),
        ("P2",),
    ]
    # The bad JSON line is quarantined with its line number, not lost.
    assert query("select _source_line, _rule from quarantine.tickets__tickets") == [
        (3, "parse_error")
    ]
