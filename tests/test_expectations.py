"""The Great Expectations suites confirm the accepted rows, and each row once.

The first validation reads every accepted row; later ones only the rows the
gate accepted since the last successful validation. A failure names the
expectation and its unexpected values and does not move the mark, so the same
rows fail again until they are fixed.
"""

from __future__ import annotations

from cx_insights.warehouse import connect
from expectations.runner import validate_new_rows

TICKETS = "ticket_id,created_at,status,solved_at\n"


def test_each_accepted_row_is_validated_once(landing, load_and_gate, warehouse):
    landing.write(
        "tickets/tickets/day1.csv",
        TICKETS + "T1,2024-01-05T10:00Z,solved,2024-01-05T12:00Z\nT2,2024-01-05T11:00Z,open,\n",
    )
    load_and_gate()
    with connect(warehouse) as con:
        first = validate_new_rows(con, "tickets__tickets")
        again = validate_new_rows(con, "tickets__tickets")
    assert first.success and first.rows == 2 and first.since is None
    assert again.success and again.rows == 0 and again.since == first.through
    landing.write("tickets/tickets/day2.csv", TICKETS + "T3,2024-01-06T10:00Z,open,\n")
    load_and_gate()
    with connect(warehouse) as con:
        delta = validate_new_rows(con, "tickets__tickets")
    assert delta.success and delta.rows == 1 and delta.since == first.through


def test_no_validated_chunk_stays_in_memory(landing, load_and_gate, warehouse):
    """GX's pandas engine would keep each asset's last chunk for the life of the
    process (the run's dbt step then started with them still held)."""
    from expectations.runner import _context

    landing.write("tickets/tickets/day1.csv", TICKETS + "T1,2024-01-05T10:00Z,open,\n")
    load_and_gate()
    with connect(warehouse) as con:
        assert validate_new_rows(con, "tickets__tickets").rows == 1
    engine = _context().data_sources.get("cx_accepted").get_execution_engine()
    assert engine.batch_manager.batch_data_cache == {}
    assert engine.batch_manager.active_batch is None


def test_chunks_are_not_fingerprinted(monkeypatch, landing, load_and_gate, warehouse):
    """GX would hash every value of each chunk for a batch marker nothing reads (a
    quarter of the answers' validation time)."""
    from great_expectations.execution_engine import pandas_execution_engine

    def fingerprint(frame):
        raise AssertionError("GX fingerprinted a validated chunk")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", fingerprint)
    landing.write("tickets/tickets/day1.csv", TICKETS + "T1,2024-01-05T10:00Z,open,\n")
    load_and_gate()
    with connect(warehouse) as con:
        outcome = validate_new_rows(con, "tickets__tickets")
    assert outcome.rows == 1 and outcome.success


def test_a_row_breaking_the_suite_fails_until_it_is_fixed(landing, load_and_gate, warehouse):
    landing.write("tickets/tickets/day1.csv", TICKETS + "T1,2024-01-05T10:00Z,open,\n")
    load_and_gate()
    with connect(warehouse) as con:
        assert validate_new_rows(con, "tickets__tickets").success
        # A row that skipped the gate (written straight into the accepted table).
        con.execute(
            "insert into raw.tickets__tickets__accepted (ticket_id, created_at, status, "
            "solved_at, _gated_at) values ('T9', '2024-01-05 10:00', 'lost', "
            "'2024-01-01 00:00', now())"
        )
        first = validate_new_rows(con, "tickets__tickets")
        second = validate_new_rows(con, "tickets__tickets")
    failed = {f.expectation: f for f in first.failed}
    assert not first.success and first.rows == 1
    assert failed["expect_column_values_to_be_in_set"].sample == ["lost"]
    assert failed["expect_column_pair_values_a_to_be_greater_than_b"].unexpected_count == 1
    assert not second.success and second.rows == 1  # the mark did not move


def test_suite_hash_is_the_same_in_every_process():
    """GX gives expectations random ids: the hash must not see them, or every run
    would validate every row again."""
    import subprocess
    import sys

    from expectations.runner import suite_hash

    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from expectations.runner import suite_hash as h; print(h('web__events'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == suite_hash("web__events")
