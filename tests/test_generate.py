"""The data generator: layout, determinism, contract columns, planted signals and bad rows.

Files are read back here with plain pyarrow/pandas (not the generator's own
reader) so the tests check what a loader would see.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cx_insights.config import SAMPLE_LANDING_DIR
from cx_insights.contract import ENTITIES, ENTITY_BY_QUALIFIED, FORMATS
from cx_insights.generate import add_daily_drop, generate

#: The exact call that produced seeds/landing (see seeds/README.md).
SAMPLE_CALL = {"customers": 2500, "seed": 42, "months": 24, "end_month": "2026-10"}


def files_of(root: Path, qualified: str) -> list[Path]:
    """An entity's files in load order: modification time, then name."""
    e = ENTITY_BY_QUALIFIED[qualified]
    folder = root / e.source / e.name
    files = [p for p in folder.iterdir() if p.suffix in FORMATS] if folder.is_dir() else []
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def read(path: Path) -> pd.DataFrame:
    """A landing file as text columns (null stays null)."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=True
        )
        return pacsv.read_csv(path, convert_options=options).to_pandas()
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return table.cast(pa.schema([(f.name, pa.string()) for f in table.schema])).to_pandas()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pd.DataFrame(rows, dtype=object)


def latest(root: Path, qualified: str) -> pd.DataFrame:
    """The latest row per key, as the contract defines it."""
    key = list(ENTITY_BY_QUALIFIED[qualified].key)
    frames = [read(p) for p in files_of(root, qualified)]
    return pd.concat(frames, ignore_index=True).drop_duplicates(key, keep="last")


def utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("gen") / "landing"
    return out, generate(out, customers=200, seed=7)


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough for the planted signals to show (about half a second to write)."""
    out = tmp_path_factory.mktemp("gen") / "landing"
    generate(out, customers=2000, seed=11)
    return out


# --- layout and contract ----------------------------------------------------------


def test_tiny_generate_covers_every_entity(small: tuple[Path, dict[str, int]]) -> None:
    out, counts = small
    assert list(counts) == [e.qualified for e in ENTITIES]
    for e in ENTITIES:
        files = files_of(out, e.qualified)
        assert files, f"no files for {e.qualified}"
        assert counts[e.qualified] > 0
        assert sum(len(read(p)) for p in files) == counts[e.qualified]
        for p in files:
            assert p.parent == out / e.source / e.name


def test_all_three_formats_are_used(small: tuple[Path, dict[str, int]]) -> None:
    out, _ = small
    suffixes = {p.suffix for p in out.rglob("*") if p.is_file()}
    assert suffixes == {".csv", ".parquet", ".jsonl"}


def test_every_file_has_contract_columns(small: tuple[Path, dict[str, int]]) -> None:
    out, _ = small
    for e in ENTITIES:
        for path in files_of(out, e.qualified):
            columns = set(read(path).columns)
            assert columns <= set(e.column_names), (path, columns - set(e.column_names))
            assert set(e.required_columns) <= columns, path


def test_load_order_by_mtime_matches_name_order(small: tuple[Path, dict[str, int]]) -> None:
    """A git checkout loses modification times: names must sort in the same order."""
    out, _ = small
    for e in ENTITIES:
        files = files_of(out, e.qualified)
        assert files == sorted(files, key=lambda p: p.name)


def test_same_seed_same_bytes_and_times(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, customers=150, seed=3, months=6)
    generate(b, customers=150, seed=3, months=6)
    generate(c, customers=150, seed=4, months=6)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        assert (a / rel).stat().st_mtime == (b / rel).stat().st_mtime, rel
    events = Path("web/events")
    assert any(
        (a / rel).read_bytes() != (c / rel).read_bytes() for rel in files_a if rel.parent == events
    )


def test_refuses_to_mix_with_existing_landing_data(small: tuple[Path, dict[str, int]]) -> None:
    out, _ = small
    with pytest.raises(FileExistsError):
        generate(out, customers=10, seed=1)


def test_values_follow_the_contract(small: tuple[Path, dict[str, int]]) -> None:
    out, _ = small
    tickets = pd.concat([read(p) for p in files_of(out, "tickets__tickets")])
    stamps = tickets["created_at"]
    assert stamps.str.endswith("Z").mean() > 0.7
    assert stamps.str.contains(r"[+-]\d\d:\d\d$").any()
    assert (~stamps.str.contains(r"(?:Z|[+-]\d\d:\d\d)$")).any()  # naive = UTC
    fx = latest(out, "framework__fx_rates")
    assert set(fx["currency"]) == {"EUR", "USD", "GBP"}
    assert (pd.to_datetime(fx["rate_date"]).dt.day == 1).all()
    subs = latest(out, "crm__subscriptions")
    first_money = utc(subs["started_at"]).min()
    assert pd.Timestamp(fx["rate_date"].min(), tz="UTC") <= first_money
    assert subs["mrr"].str.fullmatch(r"-?\d+\.\d\d").all()
    questions = latest(out, "feedback__questions")
    nps = questions[questions["metric"] == "nps"]
    assert (nps["scale_min"] == "0").all() and (nps["scale_max"] == "10").all()
    ces_max = set(questions.loc[questions["metric"] == "ces", "scale_max"])
    assert ces_max == {"5", "7"}


def test_framework_is_complete(small: tuple[Path, dict[str, int]]) -> None:
    out, _ = small
    journeys = latest(out, "framework__journeys")
    touchpoints = latest(out, "framework__touchpoints")
    rules = latest(out, "framework__touchpoint_rules")
    initiatives = latest(out, "framework__initiatives")
    assert len(journeys) >= 4
    assert len(touchpoints) >= 10
    assert {"web", "app", "email", "phone", "chat", "store"} <= set(touchpoints["channel"])
    assert set(rules["touchpoint_id"]) <= set(touchpoints["touchpoint_id"])
    assert {"web", "tickets"} == set(rules["source"])
    assert len(initiatives) >= 2
    assert (initiatives["touchpoint_id"].notna() ^ initiatives["journey_id"].notna()).all()


# --- planted signals --------------------------------------------------------------


def _survey_answers(root: Path) -> pd.DataFrame:
    answers = latest(root, "feedback__answers")
    responses = latest(root, "feedback__responses")
    questions = latest(root, "feedback__questions")
    df = answers.merge(responses, on="response_id").merge(questions, on="question_id")
    df["value"] = pd.to_numeric(df["value_number"])
    return df


def test_detractors_churn_more_than_promoters(medium: Path) -> None:
    df = _survey_answers(medium)
    nps = df[(df["metric"] == "nps") & df["customer_id"].notna() & df["value"].between(0, 10)]
    nps = nps.assign(at=utc(nps["submitted_at"])).sort_values("at")
    last = nps.groupby("customer_id")["value"].last()
    subs = latest(medium, "crm__subscriptions")
    subs = subs[pd.to_numeric(subs["mrr"]) >= 0]
    active = subs.groupby("customer_id")["ended_at"].apply(lambda s: s.isna().any())
    churned = ~active.reindex(last.index)
    detractors = churned[last <= 6].mean()
    promoters = churned[last >= 9].mean()
    assert detractors > promoters + 0.08, (detractors, promoters)


def test_ease_is_the_strongest_driver_at_company_level(medium: Path) -> None:
    df = _survey_answers(medium)
    nps = df[df["metric"] == "nps"].set_index("response_id")["value"]
    drivers = df[df["metric"] == "driver"].pivot(
        index="response_id", columns="driver", values="value"
    )
    corr = drivers.corrwith(nps.reindex(drivers.index)).sort_values(ascending=False)
    assert corr.index[0] == "ease", corr
    assert corr["ease"] - corr.iloc[1] > 0.05, corr


def test_first_initiative_raises_its_touchpoint_csat(medium: Path) -> None:
    initiatives = latest(medium, "framework__initiatives").set_index("initiative_id")
    first = initiatives.iloc[0]
    df = _survey_answers(medium)
    csat = df[(df["metric"] == "csat") & (df["touchpoint_id"] == first["touchpoint_id"])]
    csat = csat[csat["submitted_at"].notna()]
    after = utc(csat["submitted_at"]) >= utc(pd.Series([first["started_at"]]))[0]
    top2 = csat["value"] >= 4
    assert top2[after].mean() - top2[~after].mean() > 0.15


def test_more_tickets_in_november_and_december(medium: Path) -> None:
    created = utc(latest(medium, "tickets__tickets")["created_at"])
    per_month = created.dt.tz_convert(None).dt.to_period("M").value_counts().sort_index()
    peak = per_month[per_month.index.month.isin([11, 12])].mean()
    rest = per_month[per_month.index.month.isin([2, 3, 4, 5, 6, 7])].mean()
    assert peak > 1.2 * rest


def test_late_rows_update_earlier_keys(medium: Path) -> None:
    ticket_files = files_of(medium, "tickets__tickets")
    first, later = read(ticket_files[0]), pd.concat([read(p) for p in ticket_files[1:]])
    assert set(later["ticket_id"]) <= set(first["ticket_id"])
    solved_later = later[later["status"].isin(["solved", "closed"])]
    was_open = first.set_index("ticket_id").loc[solved_later["ticket_id"], "solved_at"].isna()
    assert was_open.any()
    sub_files = files_of(medium, "crm__subscriptions")
    ends = read(sub_files[-1])
    before = read(sub_files[0]).set_index("subscription_id")
    assert before.loc[ends["subscription_id"], "ended_at"].isna().all()
    assert ends["ended_at"].notna().all()
    answer_files = files_of(medium, "feedback__answers")
    assert len(answer_files) == 2 and len(read(answer_files[1])) > 0


def test_multi_currency_and_returning_customers(medium: Path) -> None:
    subs = latest(medium, "crm__subscriptions")
    per_customer = subs.groupby("customer_id")
    assert (per_customer.size() > 1).sum() > 20
    assert (per_customer["currency"].nunique() > 1).sum() > 0
    assert set(subs["currency"]) >= {"EUR", "USD", "GBP"}


def test_bad_rows_are_planted_and_rare(medium: Path) -> None:
    df = _survey_answers(medium)
    numeric = df[df["metric"] != "verbatim"]
    scale_min = pd.to_numeric(numeric["scale_min"])
    scale_max = pd.to_numeric(numeric["scale_max"])
    out_of_scale = ~numeric["value"].between(scale_min, scale_max)
    tickets = pd.concat([read(p) for p in files_of(medium, "tickets__tickets")])
    solved_early = utc(tickets["solved_at"]) < utc(tickets["created_at"])
    subs = pd.concat([read(p) for p in files_of(medium, "crm__subscriptions")])
    negative = pd.to_numeric(subs["mrr"]) < 0
    ends_early = utc(subs["ended_at"]) < utc(subs["started_at"])
    invoices = latest(medium, "crm__invoices")
    events = pd.concat([read(p) for p in files_of(medium, "web__events")])
    no_device = events["anonymous_id"].isna()
    planted = [out_of_scale, solved_early, negative, ends_early, no_device]
    assert all(mask.sum() >= 1 for mask in planted)
    assert (~invoices["currency"].isin(["EUR", "USD", "GBP"])).sum() == 1
    assert (~invoices["status"].isin(["paid", "open", "void"])).sum() == 1
    total_bad = sum(int(mask.sum()) for mask in planted) + 2
    total_rows = len(df) + len(tickets) + len(subs) + len(invoices) + len(events)
    assert total_bad / total_rows < 0.002
    for mask in planted:
        assert mask.mean() < 0.01


def test_verbatims_sometimes_carry_contact_details(medium: Path) -> None:
    text = latest(medium, "feedback__answers")["value_text"].dropna()
    assert text.str.contains("@").any()
    assert text.str.contains(r"\+\d").any()


# --- daily drop ----------------------------------------------------------------


def test_daily_drop_appends_new_files_only(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    generate(out, customers=300, seed=5, months=6)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    last_mtime = max(p.stat().st_mtime for p in before)
    counts = add_daily_drop(out, seed=5, day=date(2026, 11, 1))

    after = [p for p in out.rglob("*") if p.is_file()]
    assert all(p.read_bytes() == content for p, content in before.items())
    new = [p for p in after if p not in before]
    assert new and all(p.stat().st_mtime > last_mtime for p in new)
    for p in new:  # names sort after the existing files too
        assert all(p.name > q.name for q in before if q.parent == p.parent)
    assert sum(counts.values()) == sum(len(read(p)) for p in new)
    for name in ("web__events", "feedback__responses", "feedback__answers", "tickets__tickets"):
        assert counts[name] > 0, name

    # Updates by key: an existing subscription ends, and no update breaks a rule.
    subs = latest(out, "crm__subscriptions")
    daily_subs = pd.concat(
        [read(p) for p in new if p.parent.name == "subscriptions"], ignore_index=True
    )
    ended = daily_subs[daily_subs["ended_at"].notna()]
    assert len(ended) >= 1
    first_subs = read(files_of(out, "crm__subscriptions")[0])
    assert set(ended["subscription_id"]) <= set(first_subs["subscription_id"])
    row = subs.set_index("subscription_id").loc[ended["subscription_id"]]
    assert (utc(row["ended_at"]) >= utc(row["started_at"])).all()


def test_daily_drop_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate(tmp_path / name, customers=120, seed=9, months=4)
        add_daily_drop(tmp_path / name, seed=9, day=date(2026, 11, 2))
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*daily*"))
    assert a
    for rel in a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


# --- the shipped sample ---------------------------------------------------------


def test_shipped_sample_is_reproduced_by_its_documented_call(tmp_path: Path) -> None:
    """seeds/landing is exactly what seeds/README.md says produced it.

    Compared by content, not bytes: Parquet bytes depend on the pyarrow version.
    """
    out = tmp_path / "landing"
    generate(out, **SAMPLE_CALL)
    shipped = sorted(p.relative_to(SAMPLE_LANDING_DIR) for p in SAMPLE_LANDING_DIR.rglob("*.*"))
    assert shipped == sorted(p.relative_to(out) for p in out.rglob("*.*"))
    for rel in shipped:
        pd.testing.assert_frame_equal(read(SAMPLE_LANDING_DIR / rel), read(out / rel))


def test_shipped_sample_is_big_enough_and_small_enough() -> None:
    size = sum(p.stat().st_size for p in SAMPLE_LANDING_DIR.rglob("*") if p.is_file())
    assert size < 8_000_000
    df = _survey_answers(SAMPLE_LANDING_DIR)
    touchpoints = latest(SAMPLE_LANDING_DIR, "framework__touchpoints")
    jobs = latest(SAMPLE_LANDING_DIR, "framework__jobs")
    tp_journey = touchpoints.merge(jobs, on="job_id").set_index("touchpoint_id")["journey_id"]
    nps = df[df["metric"] == "nps"]
    per_journey = nps["touchpoint_id"].map(tp_journey).value_counts()
    assert len(per_journey) == 4 and per_journey.min() >= 300
    subs = latest(SAMPLE_LANDING_DIR, "crm__subscriptions")
    ended = utc(subs["ended_at"]).dropna()
    assert (ended >= pd.Timestamp("2024-11-01", tz="UTC")).sum() >= 300
    assert np.isfinite(nps["value"]).all()
