"""`cx-insights export`: every mart table, one file each, with a manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from cx_insights.config import load_settings
from tests.conftest import Build, run_cli


def mart_counts(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_name <> '_build'"
            ).fetchall()
        ]
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}


def published_of(build: Build) -> Path:
    return load_settings({"CX_WAREHOUSE": str(build.warehouse), "CX_PII_SALT": "x"}).published


def test_csv_export_has_every_mart_and_is_byte_identical_twice(sample_build, tmp_path):
    published = published_of(sample_build)
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = run_cli(
            ["export", "--out", str(out), "--format", "csv"],
            sample_build.landing,
            sample_build.warehouse,
        )
        assert result.returncode == 0, result.stderr
    counts = mart_counts(sample_build.warehouse)
    assert {p.name for p in first.iterdir()} == {f"{t}.csv" for t in counts} | {"manifest.json"}
    for path in first.iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name

    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["source"] == str(published)
    with duckdb.connect(str(published), read_only=True) as con:
        built_at, run_id = con.execute(
            "select max(built_at), max(run_id) from marts._build"
        ).fetchone()
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name <> '_build' "
            "order by table_name, ordinal_position"
        ).fetchall()
        kpi_sorted = con.execute("select * from marts.kpi_monthly order by all").fetchall()
        kpi_csv = con.execute(
            f"select * from read_csv('{first / 'kpi_monthly.csv'}', header = true, "
            "columns = {'month': 'date', 'level': 'varchar', 'level_id': 'varchar', "
            "'metric': 'varchar', 'value': 'double', 'numerator': 'double', "
            "'denominator': 'double', 'n': 'bigint', 'ci_low': 'double', 'ci_high': 'double', "
            "'is_low_sample': 'boolean'})"
        ).fetchall()
    assert manifest["run_id"] == run_id
    assert manifest["built_at"].startswith(built_at.isoformat())
    assert {t["table"]: t["rows"] for t in manifest["tables"]} == counts
    assert [
        (t["table"], c["name"], c["type"]) for t in manifest["tables"] for c in t["columns"]
    ] == columns
    assert kpi_csv == kpi_sorted  # ordered rows, values as in the warehouse


def test_parquet_export_matches_the_warehouse(sample_build, tmp_path):
    out = tmp_path / "parquet"
    result = run_cli(["export", "--out", str(out)], sample_build.landing, sample_build.warehouse)
    assert result.returncode == 0, result.stderr
    counts = mart_counts(sample_build.warehouse)
    with duckdb.connect() as con:
        exported = {
            p.stem: con.execute(f"select count(*) from read_parquet('{p}')").fetchone()[0]
            for p in out.glob("*.parquet")
        }
    assert exported == counts
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "parquet"
    assert [t["file"] for t in manifest["tables"]] == [f"{t}.parquet" for t in sorted(counts)]


def test_export_reads_the_working_file_before_anything_is_published(sample_build, tmp_path):
    warehouse = tmp_path / "w" / "cx.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(sample_build.warehouse, warehouse)
    out = tmp_path / "out"
    result = run_cli(
        ["export", "--out", str(out), "--format", "csv"], sample_build.landing, warehouse
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == str(warehouse)
    assert {t["table"]: t["rows"] for t in manifest["tables"]} == mart_counts(warehouse)
    assert manifest["built_at"] and manifest["run_id"]


def test_export_without_a_warehouse_says_so(tmp_path):
    result = run_cli(
        ["export", "--out", str(tmp_path / "out")], tmp_path, tmp_path / "none" / "cx.duckdb"
    )
    assert result.returncode == 1
    assert "run `cx-insights run` first" in result.stderr
