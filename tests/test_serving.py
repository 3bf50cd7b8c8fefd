"""BI readers and runs never meet: readers open the published file, which each
successful run swaps in whole (cx_insights.serve).

One module fixture builds the sample twice in its own folder (a full build over an
older published file, then an incremental re-run with one more landing file) while
readers query the published file: one thread opening a new read-only connection
for every read, and one process holding a single connection throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from cx_insights.config import SAMPLE_LANDING_DIR, load_settings
from cx_insights.serve import LockHolder, in_use_message, lock_holder
from tests.conftest import Build, run_cli

#: One read: the build's run id and a digest of marts.kpi_monthly, from one connection.
READ_SQL = (
    "select (select max(run_id) from marts._build), "
    "cast((select sum(hash(k)) from marts.kpi_monthly as k) as varchar)"
)

#: A reader that keeps one connection for the whole test (its own process: in this
#: process DuckDB would hand every new connection the database already open).
LONG_HELD_READER = """
import json, sys, time, duckdb
path, stop, sql = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(path, read_only=True)
print(json.dumps(con.execute(sql).fetchone()), flush=True)
while True:
    try:
        print(json.dumps(con.execute(sql).fetchone()), flush=True)
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
    if __import__("os").path.exists(stop):
        break
    time.sleep(0.2)
"""

NEW_TICKETS = (
    "ticket_id,created_at,status,solved_at,channel\n"
    "SERVE-1,2026-03-10T10:00:00Z,open,,email\n"
    "SERVE-2,2026-03-11T09:30:00Z,open,,chat\n"
)


def read_state(published: Path) -> tuple[str, str]:
    with duckdb.connect(str(published), read_only=True) as con:
        return tuple(con.execute(READ_SQL).fetchone())


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Readers:
    """Readers of the published file while a run writes the working file."""

    published: Path
    reads: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)
    held_errors: list[str] = field(default_factory=list)

    def __enter__(self) -> Readers:
        self._stop = threading.Event()
        self._stop_file = self.published.with_name(".stop-long-held-reader")
        self._stop_file.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        self._held = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LONG_HELD_READER,
                str(self.published),
                str(self._stop_file),
                READ_SQL,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.reads.append(read_state(self.published))
            except Exception as exc:  # every error counts, whatever it is
                self.errors.append(repr(exc))
            time.sleep(0.02)

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(1.0)  # a few reads of the new file
        self._stop.set()
        self._thread.join(timeout=30)
        self._stop_file.touch()
        out, err = self._held.communicate(timeout=60)
        self._stop_file.unlink(missing_ok=True)
        for line in out.splitlines():
            value = json.loads(line)
            if isinstance(value, dict):
                self.held_errors.append(value["error"])
            else:
                self.held.append(tuple(value))
        if self._held.returncode:
            self.held_errors.append(err)


@dataclass
class Served:
    landing: Path
    warehouse: Path
    published: Path
    full: Build
    incremental: Build
    states: dict[str, tuple[str, str]]
    readers: dict[str, Readers]


@pytest.fixture(scope="module")
def served(sample_build: Build, tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("served")
    landing = root / "landing"
    shutil.copytree(SAMPLE_LANDING_DIR, landing)
    warehouse = root / "w" / "cx.duckdb"
    warehouse.parent.mkdir()
    published = load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "x"}).published
    # An older build is being read when the full build starts (the session's sample build).
    sample_published = load_settings(
        {"CX_WAREHOUSE": str(sample_build.warehouse), "CX_PII_SALT": "x"}
    ).published
    shutil.copy2(sample_published, published)
    states = {"before": read_state(published)}
    readers = {}

    with Readers(published) as readers["full"]:
        full = run_cli(["run"], landing, warehouse)
    states["full"] = read_state(published)

    (landing / "tickets" / "tickets" / "zz-serving.csv").write_text(NEW_TICKETS)
    with Readers(published) as readers["incremental"]:
        incremental = run_cli(["run"], landing, warehouse)
    states["incremental"] = read_state(published)
    return Served(landing, warehouse, published, full, incremental, states, readers)


@pytest.mark.parametrize(
    ("phase", "old"), [("full", "before"), ("incremental", "full")], ids=["full", "incremental"]
)
def test_readers_see_one_whole_build_and_never_break_a_run(served: Served, phase, old):
    run = served.full if phase == "full" else served.incremental
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Could not set lock" not in run.stderr
    assert f"BI tools open:       {served.published}" in run.stdout
    before, after = served.states[old], served.states[phase]
    assert before[0] != after[0], "each run publishes a new build"
    readers = served.readers[phase]
    assert readers.errors == []
    assert readers.held_errors == []
    assert len(readers.reads) > 20
    assert set(readers.reads) <= {before, after}
    assert readers.reads[0] == before and readers.reads[-1] == after
    # The connection opened on the old file keeps reading it, unchanged, to the end.
    assert len(readers.held) > 20
    assert set(readers.held) == {before}


def test_incremental_run_publishes_the_new_rows(served: Served):
    assert served.states["incremental"][1] != served.states["full"][1]
    with duckdb.connect(str(served.published), read_only=True) as con:
        tickets = con.execute(
            "select value from marts.kpi_monthly where month = date '2026-03-01' "
            "and level = 'company' and metric = 'tickets_created'"
        ).fetchone()[0]
        build = dict(con.execute("select table_name, row_count from marts._build").fetchall())
        counts = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in build}
    with duckdb.connect(str(served.warehouse), read_only=True) as con:
        assert (
            tickets
            == con.execute(
                "select value from marts.kpi_monthly where month = date '2026-03-01' "
                "and level = 'company' and metric = 'tickets_created'"
            ).fetchone()[0]
        )
        run_id = con.execute(
            "select run_id from raw._runs order by started_at desc limit 1"
        ).fetchone()[0]
    assert build == counts and "kpi_monthly" in build
    assert served.states["incremental"][0] == run_id


def test_published_file_holds_only_the_marts(served: Served):
    with duckdb.connect(str(served.published), read_only=True) as con:
        schemas = {
            r[0]
            for r in con.execute(
                "select schema_name from duckdb_schemas() where database_name = current_database()"
            ).fetchall()
        }
        relations = con.execute(
            "select table_schema, table_type, count(*) from information_schema.tables "
            "group by all order by all"
        ).fetchall()
        with duckdb.connect(str(served.warehouse), read_only=True) as work:
            marts = {
                r[0]
                for r in work.execute(
                    "select table_name from information_schema.tables where table_schema = 'marts'"
                ).fetchall()
            }
        published = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    assert schemas == {"main", "marts"}
    assert {"raw", "quarantine", "staging", "intermediate"}.isdisjoint(schemas)
    assert [(s, t) for s, t, _ in relations] == [("marts", "BASE TABLE")]
    assert published == marts | {"_build"}


def test_blocked_run_leaves_the_published_file_as_it_was(served: Served, tmp_path: Path):
    landing = tmp_path / "landing"
    shutil.copytree(served.landing, landing)
    (landing / "crm" / "subscriptions" / "zz-broken.csv").write_text(
        "subscription_id,customer_id,currency,started_at\nS-X,C-1,EUR,2026-01-01\n"
    )
    warehouse = tmp_path / "w" / "cx.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(served.warehouse, warehouse)
    published = warehouse.with_name(served.published.name)
    shutil.copy2(served.published, published)
    before = file_digest(published)

    result = run_cli(["run"], landing, warehouse)

    assert result.returncode == 1
    assert "files_readable" in result.stderr and "zz-broken.csv" in result.stderr
    assert f"{published} (read-only) (the last good build, unchanged)" in result.stdout
    assert file_digest(published) == before
    assert [p.name for p in published.parent.iterdir() if p.name.startswith(".")] == []


def test_run_stops_with_one_line_when_another_process_holds_the_warehouse(
    served: Served, tmp_path: Path
):
    warehouse = tmp_path / "w" / "cx.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(served.warehouse, warehouse)
    runs_before = _runs(warehouse)
    published = warehouse.with_name(served.published.name)

    holder = duckdb.connect(str(warehouse))  # read-write, like a BI tool or notebook
    try:
        result = run_cli(["run"], served.landing, warehouse)
    finally:
        holder.close()

    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"cx-insights: {warehouse} is open in another process (PID {os.getpid()}: "
        f"{_program_in(result.stderr)}); close it (BI tools should open {published})"
    ]
    assert "Traceback" not in result.stderr + result.stdout
    assert _runs(warehouse) == runs_before  # stopped before anything changed
    assert not published.exists()


def _runs(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select run_id, status from raw._runs order by all").fetchall()


def _program_in(stderr: str) -> str:
    holder = stderr.split(f"(PID {os.getpid()}: ", 1)[1].split(");", 1)[0]
    assert holder  # DuckDB names the holding program (this Python)
    return holder


def test_lock_holder_is_read_from_duckdbs_message():
    message = (
        'IO Error: Could not set lock on file "/w/cx.duckdb": Conflicting lock is held in '
        "/usr/bin/dbeaver (PID 4242). See also https://duckdb.org/docs/stable/connect/concurrency"
    )
    assert lock_holder(message) == LockHolder(pid=4242, program="/usr/bin/dbeaver")
    assert lock_holder("Catalog Error: Table with name x does not exist") is None
    settings = load_settings({"CX_WAREHOUSE": "/tmp/w/cx.duckdb", "CX_PII_SALT": "x"})
    assert in_use_message(settings, LockHolder(pid=4242, program="/usr/bin/dbeaver")) == (
        "/tmp/w/cx.duckdb is open in another process (PID 4242: /usr/bin/dbeaver); close it "
        "(BI tools should open /tmp/w/cx_marts.duckdb)"
    )
