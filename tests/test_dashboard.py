"""The role dashboard: pure helpers, missing marts, and the page as a person sees it.

The browser tests build the sample warehouse once (`cx-insights run`, as
`make run` does), open `dashboard.html` from disk in headless Chromium
(Debian's `chromium`, driven by Playwright), click every tab, and check that
it shows its charts without a JavaScript error and without reaching for the
network. A screenshot of each tab is kept under tests/artifacts/dashboard/.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cx_insights.config import Settings, load_settings
from cx_insights.report.dashboard import actions as dactions
from cx_insights.report.dashboard import charts, render
from cx_insights.report.dashboard import data as ddata
from cx_insights.report.dashboard import formatting as fmt
from cx_insights.report.dashboard.pages import cx_lead, quality
from tests.browser import (
    choose_view,
    chromium_page,
    count_chart_slots,
    count_charts,
    find_chromium,
    show_tab,
    tab_keys,
    visible_view,
)

ARTIFACTS = Path(__file__).parent / "artifacts" / "dashboard"
TABS = ["executive", "cx-lead", "support", "product", "initiatives", "quality"]


def settings_for(warehouse: Path) -> Settings:
    return load_settings({"CX_WAREHOUSE": str(warehouse), "CX_PII_SALT": "test"})


# ------------------------------------------------------------------------------------
# Pure helpers.


def test_reporting_month_skips_a_month_the_data_has_not_finished() -> None:
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    assert ddata.choose_reporting_month(months, datetime(2026, 10, 31, 22)) == (
        date(2026, 10, 1),
        date(2026, 10, 1),
    )
    assert ddata.choose_reporting_month(months, datetime(2026, 10, 14)) == (
        date(2026, 9, 1),
        date(2026, 10, 1),
    )
    assert ddata.choose_reporting_month([], None) == (None, None)
    assert ddata.choose_reporting_month([date(2026, 10, 1)], datetime(2026, 10, 2)) == (
        date(2026, 10, 1),
        date(2026, 10, 1),
    )


def test_deltas_are_signed_in_the_metrics_unit_and_judged_by_its_direction() -> None:
    assert fmt.fmt_delta("nps", 2.04, "EUR") == "+2.0 pts"
    assert fmt.fmt_delta("churn_rate", -0.5, "EUR") == "−0.50 pts"
    assert fmt.fmt_delta("revenue", -1234.4, "EUR") == "−€1,234"
    assert fmt.fmt_delta("revenue", None, "EUR") == "–"
    assert fmt.delta_class("nps", 1.0) == "good"
    assert fmt.delta_class("churn_rate", 1.0) == "bad"
    assert fmt.delta_class("median_first_response_minutes", -3) == "good"
    assert fmt.delta_class("nps", 0) == "flat"


def test_money_and_metric_formats() -> None:
    assert fmt.fmt_money(1234.5, "EUR") == "€1,234"
    assert fmt.fmt_money(10, "SEK") == "10 SEK"
    assert fmt.fmt_metric("csat", 69.94, "EUR") == "69.9 %"
    assert fmt.fmt_metric("ces", 5.1234, "EUR") == "5.12"
    assert fmt.fmt_metric("nps", float("nan"), "EUR") == "–"


def test_verbatims_are_masked_again_before_they_are_mailed() -> None:
    """The page masks with cx_insights.privacy.mask_pii, the patterns of the SQL macro."""
    kpi = _kpi([("2026-10-01", "touchpoint", "TP-1", "nps", -10.0, 40, -30.0, 10.0)])
    verbatims = pd.DataFrame(
        {
            "touchpoint_id": ["TP-1"] * 3,
            "submitted_at": pd.to_datetime(["2026-10-03", "2026-10-04", "2026-10-05"]),
            "value_text": [
                "Call me on 0151 - 123 456 78 or write to zoë.müller@exämple.de",
                "Refund to DE89 3704 0044 0532 0130 00 please, ０１５１ １２３４５６７８",
                "Parcel came on 2026-03-05 10:00, order 1234567, paid 1,234.56",
            ],
            "nps_score": [0, 1, 2],
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"kpi_monthly": kpi, "verbatims": verbatims},
        reporting_month=date(2026, 10, 1),
    )
    html = cx_lead._verbatims_section(data)
    for secret in ("123 456 78", "zoë", "exämple", "3704", "１２３４"):
        assert secret not in html
    assert "Call me on [phone] or write to [email]" in html
    assert "Refund to [iban] please, [phone]" in html
    assert "Parcel came on 2026-03-05 10:00, order 1234567, paid 1,234.56" in html


def test_nps_category_follows_kpis_md() -> None:
    assert [fmt.nps_category(v) for v in (0, 6, 7, 8, 9, 10, None)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
        "none",
    ]


def _kpi(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["month", "level", "level_id", "metric", "value", "n", "ci_low", "ci_high"]
    )
    frame["month"] = pd.to_datetime(frame["month"])
    frame["is_low_sample"] = frame["n"] < 30
    return frame


def test_top_line_compares_with_last_month_and_a_year_ago() -> None:
    kpi = _kpi(
        [
            ("2025-10-01", "company", "all", "nps", 20.0, 400, 12.0, 28.0),
            ("2026-09-01", "company", "all", "nps", 24.0, 410, 16.0, 32.0),
            ("2026-10-01", "company", "all", "nps", 25.5, 463, 19.0, 32.0),
        ]
    )
    (card,) = ddata.top_line(kpi, date(2026, 10, 1), ["nps"])
    assert card.value == 25.5 and card.n == 463
    assert card.vs_previous == pytest.approx(1.5)
    assert card.vs_year_ago == pytest.approx(5.5)
    assert (card.ci_low, card.ci_high) == (19.0, 32.0)


def test_a_low_sample_top_line_card_says_so() -> None:
    """`is_low_sample` comes from the frame as a numpy bool: the card must still see it."""
    kpi = _kpi(
        [
            ("2026-09-01", "company", "all", "nps", 24.0, 410, 16.0, 32.0),
            ("2026-10-01", "company", "all", "nps", 25.0, 12, -20.0, 60.0),
            ("2026-10-01", "company", "all", "csat", 70.0, 300, None, None),
        ]
    )
    nps, csat = ddata.top_line(kpi, date(2026, 10, 1), ["nps", "csat"])
    assert nps.is_low_sample is True
    assert csat.is_low_sample is False
    kpi = kpi.astype({"is_low_sample": object})
    kpi.loc[1, "is_low_sample"] = None  # a missing flag is not a low sample
    (unknown,) = ddata.top_line(kpi, date(2026, 10, 1), ["nps"])
    assert unknown.is_low_sample is False


def test_the_low_sample_badge_shows_on_the_page(tmp_path: Path) -> None:
    warehouse = tmp_path / "cx.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.kpi_monthly as select * from (values
                (date '2026-09-01', 'company', 'all', 'nps', 20.0, 8.0, 40.0, 40, 5.0, 35.0,
                    false),
                (date '2026-10-01', 'company', 'all', 'nps', 25.0, 3.0, 12.0, 12, -20.0, 60.0,
                    true)
            ) as t(month, level, level_id, metric, value, numerator, denominator, n, ci_low,
                   ci_high, is_low_sample)
            """
        )
    text = render.write_dashboard(settings_for(warehouse)).read_text(encoding="utf-8")
    assert "n = 12 <span class='low'>low sample</span>" in text


def test_three_things_are_sentences_from_the_data() -> None:
    kpi = _kpi(
        [
            ("2026-10-01", "company", "all", "nps", 26.0, 463, 19.0, 32.0),
            ("2026-10-01", "touchpoint", "TP-1", "nps", 4.0, 60, -10.0, 18.0),
            # Lower, but five answers: its interval reaches far above TP-1's.
            ("2026-10-01", "touchpoint", "TP-2", "nps", -40.0, 5, -95.0, 45.0),
            ("2026-10-01", "touchpoint", "TP-3", "nps", 40.0, 80, 25.0, 55.0),
            ("2026-09-01", "company", "all", "median_first_response_minutes", 20, 100, None, None),
            ("2026-10-01", "company", "all", "median_first_response_minutes", 30, 100, None, None),
        ]
    )
    touchpoints = pd.DataFrame(
        {
            "touchpoint_id": ["TP-1", "TP-2", "TP-3"],
            "touchpoint_name": ["Pricing page", "Welcome call", "Checkout"],
            "job_id": ["J1", "J1", "J1"],
            "job_statement": ["Choose a plan"] * 3,
            "journey_id": ["JR1"] * 3,
            "journey_name": ["Discover & buy"] * 3,
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"kpi_monthly": kpi, "dim_touchpoint": touchpoints},
        reporting_month=date(2026, 10, 1),
    )
    actions = dactions.three_things(data)
    assert [a.rank for a in actions] == [1, 4]
    assert "Pricing page" in actions[0].headline and "Discover & buy" in actions[0].headline
    assert "22 points below" in actions[0].detail  # 26 - 4: the five answers of TP-2 rank lower
    assert ddata.worst_touchpoints(data) == ["TP-1", "TP-2", "TP-3"]
    assert "50 % slower" in actions[1].detail


def test_the_reporting_month_is_the_last_complete_one_unless_asked() -> None:
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    dim = pd.DataFrame({"month_start_date": months, "is_complete": [True, True, False]})
    dim = ddata.complete_months(dim)
    # The data reaches October's last minute, but nothing past it: October is partial.
    until = datetime(2026, 10, 31, 23, 59)
    assert ddata.reporting_month_from(months, dim, until) == (date(2026, 9, 1), date(2026, 10, 1))
    assert ddata.reporting_month_from(months, dim, until, date(2026, 10, 1)) == (
        date(2026, 10, 1),
        date(2026, 10, 1),
    )
    with pytest.raises(ddata.ReportingMonthError, match="2026-08 to 2026-10"):
        ddata.reporting_month_from(months, dim, until, date(2019, 1, 1))
    # No month complete yet (a first drop): the data's end decides, as before.
    assert ddata.reporting_month_from(months, set(), until) == (
        date(2026, 10, 1),
        date(2026, 10, 1),
    )


def _driver_rows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "level",
            "element_type",
            "element_name",
            "quadrant",
            "relative_weight_share",
            "performance_top_2_box_pct",
            "performance_n",
        ],
    )


def test_only_significant_gaps_are_recommended_and_the_rest_say_what_they_need() -> None:
    kpi = _kpi(
        [
            ("2026-10-01", "company", "all", "nps", 29.0, 536, 22.7, 34.8),
            # The case: lowest, but n = 29 and its interval contains the company.
            ("2026-10-01", "touchpoint", "TP-1", "nps", 3.0, 29, -24.0, 31.0),
            ("2026-10-01", "touchpoint", "TP-2", "nps", 27.0, 90, 12.0, 42.0),
        ]
    )
    drivers = _driver_rows(
        # 46.3 % against a median of 46.4 %: no different.
        ("company", "driver", "price", "fix first", 19.0, 46.3, 2000),
        ("company", "driver", "speed", "keep", 25.0, 47.6, 2000),
        ("company", "driver", "ease", "keep", 20.0, 46.4, 2000),
        ("company", "driver", "courtesy", "keep", 18.0, 45.5, 2000),
        ("company", "driver", "knowledge", "keep", 18.0, 46.9, 2000),
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"kpi_monthly": kpi, "driver_importance": drivers},
        reporting_month=date(2026, 10, 1),
    )
    assert dactions.action_worst_touchpoint(data, {}) is None
    assert dactions.action_key_driver(data) is None
    gaps = dactions.evidence_gaps(data, {})
    assert [g.subject for g in gaps] == ["“TP-1”", "“price”"]
    # Half-width 27.5 at n = 29 against a gap of 26: 29 x (27.5 / 26)^2 = 32.4 -> 33, 4 more.
    assert "About 4 more answers would tell" in gaps[0].text
    assert "no different from the other drivers" in gaps[1].text
    # A driver rated clearly worse than the others on enough answers is recommended.
    clear = drivers.copy()
    clear.loc[0, "performance_top_2_box_pct"] = 38.0
    data.frames["driver_importance"] = clear
    action = dactions.action_key_driver(data)
    assert action is not None and "Price" in action.headline
    assert (
        "95 % interval 36 to 40 %" in action.detail and "over every answer so far" in action.detail
    )
    # With windows, the action reads the last 12 complete months and says so.
    windowed = pd.concat(
        [clear.assign(window_name="all"), drivers.assign(window_name="last_12_months")]
    )
    data.frames["driver_importance"] = windowed
    assert dactions.action_key_driver(data) is None  # 46.3 % over the last 12 months
    rows, words = ddata.driver_window(windowed)
    assert words == "the last 12 complete months" and set(rows["window_name"]) == {"last_12_months"}


def test_expected_loss_sums_every_band_of_the_company_rows() -> None:
    from cx_insights.report.dashboard.pages import executive

    bands = pd.DataFrame(
        {
            "segment": ["all", "all", "all", "enterprise"],
            "risk_band": ["low", "medium", "high", "low"],
            "expected_mrr_loss": [10000.0, 5000.0, 800.0, 9999.0],
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"revenue_at_risk": bands},
    )
    assert executive.expected_loss_summary(data) == (15800.0, 800.0)


def test_revenue_shows_the_open_invoices_beside_it() -> None:
    from cx_insights.report.dashboard.pages import executive

    invoices = pd.DataFrame(
        {
            "month": [date(2026, 10, 1), date(2026, 10, 1), date(2026, 9, 1)],
            "invoice_status": ["paid", "open", "open"],
            "invoices": [1048, 692, 46],
            "amount_reporting": [211131.31, 133208.11, 12092.08],
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"invoices_by_status": invoices},
    )
    assert executive.open_invoices(data, date(2026, 10, 1)) == (692, 133208.11)
    assert executive.open_invoices(data, date(2026, 8, 1)) == (0, 0.0)


def test_revenue_at_risk_is_the_company_row_whatever_segment_comes_first() -> None:
    # marts.revenue_at_risk has a row per segment and band and an 'all' row per
    # band; a segment's row stored first must not stand for the company.
    bands = pd.DataFrame(
        {
            "as_of_date": [date(2026, 11, 1)] * 4,
            "segment": ["consumer", "all", "smb", "all"],
            "risk_band": ["high", "high", "high", "low"],
            "customers": [74, 79, 5, 1175],
            "band_mrr": [1201.3, 2354.9, 1153.6, 299850.4],
            "share_of_mrr": [4.93, 0.69, 2.07, 87.49],
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"revenue_at_risk": bands},
        reporting_month=date(2026, 10, 1),
    )
    summary = dactions.revenue_at_risk_summary(data)
    assert summary is not None
    assert (summary["customers"], summary["amount"], summary["share"]) == (79, 2354.9, 0.69)
    figure = charts.risk_bands_figure(dactions.company_risk_bands(data), "EUR")
    assert figure is not None
    assert figure["data"][0]["y"] == ["High risk", "Low risk"]  # one bar per band


# ------------------------------------------------------------------------------------
# Missing marts.


def test_no_warehouse_renders_every_tab_with_a_note(tmp_path: Path) -> None:
    path = render.write_dashboard(settings_for(tmp_path / "none" / "cx.duckdb"))
    text = path.read_text(encoding="utf-8")
    assert path.name == "dashboard.html"
    for key in TABS:
        assert f"id='page-{key}'" in text
    assert "not available yet" in text
    assert "section-error'>" not in text
    assert "run `cx-insights run` first" in text


@pytest.fixture
def core_only_warehouse(tmp_path: Path) -> Path:
    """A warehouse with a sliver of kpi_monthly and dim_touchpoint, and no insight mart."""
    warehouse = tmp_path / "cx.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.kpi_monthly as select * from (values
            (date '2026-09-01', 'company', 'all', 'nps', 20.0, 8.0, 40.0, 40, 5.0, 35.0, false),
            (date '2026-10-01', 'company', 'all', 'nps', 25.0, 10.0, 40.0, 40, 10.0, 40.0, false),
            (date '2026-10-01', 'touchpoint', 'TP-1', 'nps', 10.0, 2.0, 20.0, 20, -20.0, 40.0,
                true),
            (date '2026-10-01', 'company', 'all', 'sessions', 300.0, null, null, 300, null, null,
                false)
        ) as t(month, level, level_id, metric, value, numerator, denominator, n, ci_low,
               ci_high, is_low_sample)
        """
    )
    con.execute(
        """
        create table marts.dim_touchpoint as select * from (values
            ('TP-1', 'Pricing page', 'web', true, 'J1', 'Choose a plan', 'JR1', 'Buy', 1, false)
        ) as t(touchpoint_id, touchpoint_name, channel, is_controllable, job_id, job_statement,
               journey_id, journey_name, stage_order, is_unknown_member)
        """
    )
    con.close()
    return warehouse


def test_a_runs_end_rewrites_only_the_last_run_cards(core_only_warehouse: Path) -> None:
    """The run writes the page while it runs; at its end only the "Last run" cards
    change (refresh_last_run), byte for byte the rest stays; a page without the
    markers (an older version's) is left for a whole rewrite."""
    settings = settings_for(core_only_warehouse)
    con = duckdb.connect(str(core_only_warehouse))
    con.execute("create schema raw")
    con.execute(
        "create table raw._runs as select 'r1' as run_id, timestamp '2026-11-02 08:00' as "
        "started_at, null::timestamp as ended_at, 'running' as status, 3 as files_loaded, "
        "'[]' as failed_checks, '[]' as failed_steps"
    )
    con.close()
    written = render.write_dashboard(settings).read_text(encoding="utf-8")
    assert "Last run</div><div class='value flat'>in progress" in written
    con = duckdb.connect(str(core_only_warehouse))
    con.execute(
        "update raw._runs set status = 'failed', failed_checks = "
        """'[{"entity": "accepted/crm__customers", "check": "gx_suite", "description": "x"}]'"""
    )
    con.close()
    assert render.refresh_last_run(settings)
    refreshed = settings.dashboard.read_text(encoding="utf-8")
    assert "Last run</div><div class='value bad'>failed" in refreshed
    assert "accepted/crm__customers" in refreshed and "flat'>in progress" not in refreshed
    start, end = render.LAST_RUN_START, render.LAST_RUN_END
    outside = lambda doc: doc[: doc.index(start)] + doc[doc.index(end) :]  # noqa: E731
    assert outside(refreshed) == outside(written)
    settings.dashboard.write_text(written.replace(start, ""), encoding="utf-8")
    assert not render.refresh_last_run(settings)


def test_missing_insight_marts_say_not_available_yet(core_only_warehouse: Path) -> None:
    text = render.write_dashboard(settings_for(core_only_warehouse)).read_text(encoding="utf-8")
    for what in ("Key drivers", "Revenue at risk", "Value of a promoter", "Initiative impact"):
        assert f"{what}: not available yet." in text
    assert "marts.driver_importance" in text and "marts.initiative_impact" in text
    assert "section-error'>" not in text
    assert "Roll-up: journey → job → touchpoint, Oct 2026" in text


def test_report_assets_materialise_through_dagster(
    core_only_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from orchestration.defs.report.assets import (
        DASHBOARD_KEY,
        DATA_QUALITY_KEY,
        PUBLISHED_MARTS_KEY,
        report_assets,
    )
    from orchestration.resources import CxSettingsResource

    monkeypatch.setenv("CX_PII_SALT", "test")
    result = dg.materialize(
        report_assets,
        resources={"cx": CxSettingsResource(warehouse=str(core_only_warehouse))},
    )
    assert result.success
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert keys == {DASHBOARD_KEY, DATA_QUALITY_KEY, PUBLISHED_MARTS_KEY}
    assert (core_only_warehouse.parent / "dashboard.html").exists()
    assert (core_only_warehouse.parent / "data_quality.html").exists()


def test_lineage_names_every_mart_the_dashboard_reads() -> None:
    import yaml

    from cx_insights.config import DBT_PROJECT_DIR
    from orchestration.defs.report.assets import DATA_QUALITY_KEY, dashboard

    exposures = yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "exposures" / "_exposures.yml").read_text()
    )["exposures"]
    (exposure,) = [e for e in exposures if e["name"] == "cx_dashboard"]
    refs = {d.removeprefix("ref('").removesuffix("')") for d in exposure["depends_on"]}
    assert refs == set(ddata.MARTS_READ)
    deps = {key.path[-1] for key in dashboard.dependency_keys if key != DATA_QUALITY_KEY}
    assert deps == set(ddata.MARTS_READ)


# ------------------------------------------------------------------------------------
# The data-quality page.


def _landed(con: duckdb.DuckDBPyConnection, qualified: str, lines: int) -> None:
    con.execute(
        f"""
        create table raw.{qualified} as
        select 'f.csv' as _source_file, i::bigint as _source_line,
            timestamp '2026-11-01 01:00' as _loaded_at
        from range(1, {lines + 1}) as t(i)
        """
    )


def _quarantined(con: duckdb.DuckDBPyConnection, qualified: str, rows: list[tuple]) -> None:
    """rows: (line, rule, reason)."""
    con.execute(
        f"create table quarantine.{qualified} (_source_file varchar, _source_line bigint, "
        "_rule varchar, _reason varchar)"
    )
    for line, rule, reason in rows:
        con.execute(
            f"insert into quarantine.{qualified} values ('f.csv', ?, ?, ?)", [line, rule, reason]
        )


@pytest.fixture
def quality_warehouse(tmp_path: Path) -> Path:
    """Customers: 10 landed, 2 rejected (their reasons quote an e-mail and a phone
    number). Invoices: 20 landed, 1 rejected, 3 waiting for an FX rate. Tickets: 5
    landed, and a quarantined row that is not in raw (so they do not reconcile)."""
    warehouse = tmp_path / "cx.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for schema in ("raw", "quarantine", "marts"):
            con.execute(f"create schema {schema}")
        _landed(con, "crm__customers", 10)
        _quarantined(
            con,
            "crm__customers",
            [
                (
                    3,
                    "type:signed_up_at",
                    "value zoë.müller@exämple.de of signed_up_at is not a valid timestamp",
                ),
                (
                    7,
                    "type:signed_up_at",
                    "value 0151 - 123 456 78 of signed_up_at is not a valid timestamp",
                ),
            ],
        )
        _landed(con, "crm__invoices", 20)
        _quarantined(
            con,
            "crm__invoices",
            [
                (1, "enum:status", "value refunded of status is not one of paid/open/void"),
                (2, "fx_rate_exists", "no fx rate for CHF on or before 2024-07-26"),
                (3, "fx_rate_exists", "no fx rate for CHF on or before 2024-07-27"),
                (4, "fx_rate_exists", "no fx rate for CHF on or before 2024-08-02"),
            ],
        )
        _landed(con, "tickets__tickets", 5)
        _quarantined(con, "tickets__tickets", [(99, "parse_error", "call +44 20 7946 0958")])
        for qualified, accepted in (
            ("crm__customers", 8),
            ("crm__invoices", 16),
            ("tickets__tickets", 5),
        ):
            con.execute(
                f"create table raw.{qualified}__accepted as select * from range({accepted})"
            )
        con.execute(
            """
            create table raw._gate_waiting as select * from (values
                ('crm__invoices', date '2024-07-01', 'fx_rate_exists', 2::bigint),
                ('crm__invoices', date '2024-08-01', 'fx_rate_exists', 1::bigint)
            ) as t(entity, month_start_date, rule, rows)
            """
        )
        con.execute(
            """
            create table marts.fct_subscription_fx_gaps as select * from (values
                ('CHF', timestamp '2023-01-01', timestamp '2024-06-01', 3::bigint, 417.50)
            ) as t(currency, first_instant_at, last_instant_at, subscriptions,
                   native_mrr_left_out)
            """
        )
    return warehouse


def _entity(data: dict, qualified: str) -> dict:
    (item,) = [i for i in data["entities"] if i["entity"] == qualified]
    return item


def test_quality_page_reconciles_accepted_rows_counted_on_their_own(
    quality_warehouse: Path,
) -> None:
    from cx_insights.report import quality_report

    data = quality_report.collect(settings_for(quality_warehouse))
    customers = _entity(data, "crm__customers")
    assert (customers["landed"], customers["accepted"], customers["quarantined"]) == (10, 8, 2)
    assert customers["reconciles"] is True
    # A quarantined row that raw does not hold: landed 5, accepted 5 (counted, not 5 - 1).
    tickets = _entity(data, "tickets__tickets")
    assert (tickets["landed"], tickets["accepted"], tickets["quarantined"]) == (5, 5, 1)
    assert tickets["reconciles"] is False
    html = quality_report.render(data)
    assert "does not reconcile" in html
    assert "no: 5 &ne; 5 + 1" in html


def test_quality_page_the_gate_record_gives_accepted_while_it_is_current(
    quality_warehouse: Path,
) -> None:
    from cx_insights.report import quality_report

    with duckdb.connect(str(quality_warehouse)) as con:
        con.execute(
            """
            create table raw._gate_results as select * from (values
                ('crm__customers', timestamp '2026-11-01 01:00', 10, 7, 2, 8,
                    '{"type:signed_up_at": 2}'),
                ('tickets__tickets', timestamp '2026-11-01 01:00', 4, 4, 0, 4, '{}')
            ) as t(entity, checked_at, rows_landed, rows_accepted, rows_quarantined,
                   rows_current, by_rule)
            """
        )
    data = quality_report.collect(settings_for(quality_warehouse))
    customers = _entity(data, "crm__customers")
    assert customers["accepted"] == 7 and customers["reconciles"] is False
    assert customers["counted_by"] == "gate check of 2026-11-01 01:00 UTC"
    # raw holds 5 ticket rows, the record counted 4: counted again, not trusted.
    tickets = _entity(data, "tickets__tickets")
    assert tickets["accepted"] == 5 and tickets["counted_by"].startswith("counted when")


def test_quality_page_splits_rejected_from_waiting_rows(quality_warehouse: Path) -> None:
    from cx_insights.report import quality_report

    settings = settings_for(quality_warehouse)
    data = quality_report.collect(settings)
    invoices = _entity(data, "crm__invoices")
    assert (invoices["rejected"], invoices["waiting"], invoices["quarantined"]) == (1, 3, 4)
    assert invoices["reject_rate"] == pytest.approx(1 / 20)  # waiting rows never count
    assert data["waiting_by_month"] == [
        {"entity": "crm__invoices", "month": date(2024, 7, 1), "rule": "fx_rate_exists", "rows": 2},
        {"entity": "crm__invoices", "month": date(2024, 8, 1), "rule": "fx_rate_exists", "rows": 1},
    ]
    html = quality_report.render(data)
    assert "<h2>Waiting rows by month</h2>" in html
    assert "released automatically" in html and "mark their months incomplete" in html
    assert "<td>crm__invoices</td><td>2024-07-01</td><td>fx_rate_exists</td><td>2</td>" in html
    assert "<td>fx_rate_exists</td><td>waiting</td><td>3</td>" in html
    assert "<td>enum:status</td><td>rejected</td><td>1</td>" in html
    assert "<h2>MRR left out for lack of an FX rate</h2>" in html
    assert "<td>CHF</td><td>2023-01-01 00:00:00</td><td>2024-06-01 00:00:00</td>" in html
    with duckdb.connect(str(quality_warehouse)) as con:
        con.execute("drop table marts.fct_subscription_fx_gaps")
        con.execute("drop table raw._gate_waiting")
    html = quality_report.render(quality_report.collect(settings))
    assert "MRR left out" not in html
    assert "No row is waiting." in html


def test_quality_page_masks_personal_data_in_quarantined_values(quality_warehouse: Path) -> None:
    from cx_insights.report import quality_report

    settings = settings_for(quality_warehouse)
    path = quality_report.write_quality_report(
        settings, run_messages=["crm__customers: value jane.doe@example.com rejected"]
    )
    text = path.read_text(encoding="utf-8")
    data = json.dumps(quality_report.collect(settings), default=str, ensure_ascii=False)
    for clear in ("müller", "exämple", "123 456 78", "7946", "jane.doe"):
        assert clear not in text and clear not in data
    assert "value [email] of signed_up_at is not a valid timestamp" in text
    assert "value [phone] of signed_up_at" in text and "call [phone]" in text


def test_quality_tab_reject_rate_leaves_waiting_rows_out() -> None:
    gate = pd.DataFrame(
        {
            "entity": ["crm__invoices"],
            "checked_at": [pd.Timestamp("2026-11-01 01:00")],
            "rows_landed": [100],
            "rows_accepted": [90],
            "rows_quarantined": [10],
            "rows_current": [90],
            "by_rule": ['{"enum:status": 2, "fx_rate_exists": 8}'],
        }
    )
    data = ddata.DashboardData(
        currency="EUR",
        generated_at=datetime(2026, 11, 2),
        warehouse=Path("cx.duckdb"),
        frames={"gate_results": gate},
        max_reject_rate=0.05,
    )
    html = quality._checks_section(data, charts.Figures(), "data_quality.html")
    assert "<td>crm__invoices</td><td>100</td><td>90</td><td>2</td><td>8</td><td>2.00 %</td>" in (
        html
    )
    assert "Rows waiting" in html


# ------------------------------------------------------------------------------------
# The sample build, in a browser.


@pytest.fixture(scope="session")
def sample_settings(sample_build) -> Settings:
    """The settings of the session's sample build (tests/conftest.py)."""
    settings = settings_for(sample_build.warehouse)
    assert settings.dashboard.exists(), "`cx-insights run` did not write the dashboard"
    return settings


@pytest.fixture(scope="session")
def chromium() -> str:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "Chromium not found (looked at $CX_CHROMIUM, /usr/bin/chromium and PATH): "
            "install Debian's package with `apt-get install -y chromium`"
        )
    return executable


def test_dashboard_is_one_self_contained_file(sample_settings: Settings) -> None:
    text = sample_settings.dashboard.read_text(encoding="utf-8")
    # Nothing loaded from elsewhere (the browser test also watches the network).
    assert "<script src" not in text.lower()
    assert "<link" not in text.lower()
    # plotly.js exactly once; every chart only calls it.
    assert text.count("Plotly.newPlot") >= 1
    assert text.count("* plotly.js v") == 1  # the library's banner: inlined once
    assert "href='data_quality.html'" in text


def test_headline_numbers_are_the_marts_numbers(sample_settings: Settings) -> None:
    data = ddata.load_dashboard_data(sample_settings)
    assert data.reporting_month is not None
    with duckdb.connect(str(sample_settings.warehouse), read_only=True) as con:
        value, ci_low, ci_high = con.execute(
            "select value, ci_low, ci_high from marts.kpi_monthly "
            "where level = 'company' and level_id = 'all' and metric = 'nps' and month = ?",
            [data.reporting_month],
        ).fetchone()
    text = sample_settings.dashboard.read_text(encoding="utf-8")
    assert f"<div class='value'>{fmt.fmt_metric('nps', value, 'EUR')}</div>" in text
    assert f"95 % interval {fmt.fmt_number(ci_low, 1)} to {fmt.fmt_number(ci_high, 1)}" in text


def test_the_sample_reports_its_last_complete_month_and_a_bridge_to_the_cent(
    sample_settings: Settings,
) -> None:
    data = ddata.load_dashboard_data(sample_settings)
    with duckdb.connect(str(sample_settings.warehouse), read_only=True) as con:
        complete = con.execute(
            "select max(month_start_date) from marts.dim_month where is_complete"
        ).fetchone()[0]
        partial = con.execute(
            "select max(month_start_date) from marts.dim_month where not is_complete"
        ).fetchone()[0]
    assert data.reporting_month == complete and data.latest_month == partial
    text = sample_settings.dashboard.read_text(encoding="utf-8")
    assert f"{fmt.month_label(partial)} is a partial month" in text
    assert "Where MRR came from and went" in text
    assert "Start and end equal the top line&#x27;s MRR (kpi_monthly) to the cent." in text or (
        "Start and end equal the top line's MRR (kpi_monthly) to the cent." in text
    )
    assert "still open (" in text
    # What customers write: topics with their NPS impact on the CX lead page.
    assert "What detractors talk about" in text and "<td>lower NPS</td>" in text
    # ... and the topics as drivers of NPS (driver_importance, element_type 'topic').
    assert "as a driver: share of explained NPS (95 % interval)" in text
    assert "the topics together explain" in text
    assert "Sentiment of the comments that could be scored:" in text
    # Risk named for what it is: the high band's MRR and the expected loss over everyone.
    assert "MRR of the high-risk band" in text and "Expected MRR loss (all customers)" in text
    assert "95 % interval 0." in text  # the backtest's AUC with its interval


def test_every_tab_shows_its_charts_in_chromium(sample_settings: Settings, chromium: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    text = sample_settings.dashboard.read_text(encoding="utf-8")
    assert "section-error'>" not in text, "a section failed to draw: see the dashboard"
    with chromium_page(sample_settings.dashboard.as_uri()) as (page, log):
        assert tab_keys(page) == TABS
        for key in TABS:
            show_tab(page, key)
            drawn = count_charts(page, key)
            expected = count_chart_slots(page, key)
            page.screenshot(path=str(ARTIFACTS / f"{key}.png"), full_page=True)
            assert not log.errors, f"JavaScript errors on tab {key}: {log.errors}"
            assert expected >= 1, f"tab {key} has no chart"
            assert drawn == expected, f"tab {key}: {drawn} of {expected} charts drawn"
        assert not log.outside_requests, f"the page reached out: {log.outside_requests[:5]}"
        # A tab opened directly by its address (a link in an e-mail) shows that tab.
        page.goto(sample_settings.dashboard.as_uri() + "#support")
        page.wait_for_selector("#page-support.active", state="visible")
        assert not log.errors


def test_dashboard_without_marts_opens_without_errors(tmp_path: Path, chromium: str) -> None:
    path = render.write_dashboard(settings_for(tmp_path / "cx.duckdb"))
    with chromium_page(path.as_uri()) as (page, log):
        for key in tab_keys(page):
            show_tab(page, key)
        assert page.locator(".na").count() >= 6
        assert not log.errors, log.errors


def test_the_filters_show_a_segment_and_month_in_chromium(
    sample_settings: Settings, chromium: str
) -> None:
    """Every role page has a view per segment and month; choosing them shows that
    segment's numbers (kpi_monthly_by_segment) with every chart drawn, the choice
    follows the reader across tabs and into the address, and a link opens it."""
    data = ddata.load_dashboard_data(sample_settings)
    segment, month = "enterprise", data.month_choices[-1]
    assert segment in data.segments and month != data.reporting_month
    assert len(data.views) == (1 + len(data.segments)) * len(data.month_choices)
    with duckdb.connect(str(sample_settings.warehouse), read_only=True) as con:
        (nps,) = con.execute(
            "select value from marts.kpi_monthly_by_segment where segment = ? and "
            "level = 'company' and metric = 'nps' and month = ?",
            [segment, month],
        ).fetchone()
        (company_nps,) = con.execute(
            "select value from marts.kpi_monthly where level = 'company' and metric = 'nps' "
            "and month = ?",
            [month],
        ).fetchone()
    assert fmt.fmt_metric("nps", nps, "EUR") != fmt.fmt_metric("nps", company_nps, "EUR")
    key = f"{segment}|{month:%Y-%m}"
    with chromium_page(sample_settings.dashboard.as_uri()) as (page, log):
        show_tab(page, "executive")
        choose_view(page, segment, f"{month:%Y-%m}")
        view, html = visible_view(page, "executive")
        assert view == key
        # The browser serialises attributes with double quotes.
        assert f'<div class="value">{fmt.fmt_metric("nps", nps, "EUR")}</div>' in html
        assert "Segment <strong>enterprise</strong>" in html
        assert f"Reporting month: <strong>{fmt.month_label(month)}</strong>" in html
        for tab in ("executive", "cx-lead", "support", "product"):
            show_tab(page, tab)
            assert visible_view(page, tab)[0] == key, f"tab {tab} lost the filters"
            assert count_charts(page, tab) == count_chart_slots(page, tab) >= 1
            page.screenshot(path=str(ARTIFACTS / f"{tab}-{segment}.png"), full_page=True)
        assert f"segment={segment}" in page.url and f"month={month:%Y-%m}" in page.url
        show_tab(page, "initiatives")
        assert page.is_disabled("#cx-segment") and page.is_disabled("#cx-month")
        # A link to a view (from an e-mail) opens it.
        page.goto(sample_settings.dashboard.as_uri() + f"#support&segment=smb&month={month:%Y-%m}")
        page.wait_for_selector("#page-support.active", state="visible")
        page.wait_for_timeout(300)
        assert visible_view(page, "support")[0] == f"smb|{month:%Y-%m}"
        assert count_charts(page, "support") == count_chart_slots(page, "support")
        assert not log.errors, log.errors
        assert not log.outside_requests


def test_month_choices_are_the_latest_and_the_one_asked_for() -> None:
    months = [date(2026, m, 1) for m in range(1, 11)]
    assert ddata.month_choices(months, date(2026, 9, 1)) == [
        date(2026, m, 1) for m in (10, 9, 8, 7, 6, 5)
    ]
    assert ddata.month_choices(months, date(2026, 2, 1))[-1] == date(2026, 2, 1)


def test_a_segment_view_reads_its_segment_and_tags_what_is_every_customer(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        columns = (
            "month, level, level_id, metric, value, numerator, denominator, n, ci_low, "
            "ci_high, is_low_sample"
        )
        con.execute(
            f"""
            create table marts.kpi_monthly as select * from (values
                (date '2026-10-01', 'company', 'all', 'nps', 25.0, 10.0, 40.0, 40, 10.0, 40.0,
                    false),
                (date '2026-10-01', 'segment', 'smb', 'nps', 50.0, 10.0, 20.0, 20, 20.0, 80.0,
                    true),
                (date '2026-10-01', 'segment', 'enterprise', 'nps', 0.0, 0.0, 20.0, 20, -30.0,
                    30.0, true)
            ) as t({columns})
            """
        )
        con.execute(
            f"""
            create table marts.kpi_monthly_by_segment as select * from (values
                ('smb', date '2026-10-01', 'company', 'all', 'nps', 50.0, 10.0, 20.0, 20, 20.0,
                    80.0, true),
                ('enterprise', date '2026-10-01', 'company', 'all', 'nps', 0.0, 0.0, 20.0, 20,
                    -30.0, 30.0, true)
            ) as t(segment, {columns})
            """
        )
        con.execute(
            """
            create table marts.kpi_tickets_by_channel as select * from (values
                (date '2026-10-01', 'email', 10, 30.0, 10, 5, 2.0, 3, 4, 75.0)
            ) as t(month, channel, tickets_created, median_first_response_minutes,
                   responded_tickets, solved_tickets, avg_resolution_hours, rated_good, rated,
                   satisfaction_good_share)
            """
        )
    data = ddata.load_dashboard_data(settings_for(warehouse))
    assert data.segments == ["enterprise", "smb"]
    assert [v.view_key for v in data.views] == ["all|2026-10", "enterprise|2026-10", "smb|2026-10"]
    text = render.render_dashboard(data)
    smb = text.split("data-view='smb|2026-10' hidden>")[1].split("<div class='view'")[0]
    assert "<div class='value'>50.0</div>" in smb and "Segment <strong>smb</strong>" in smb
    # Tickets by channel are not broken down by segment: the section says so.
    assert "<span class='tag'>all segments</span>" in smb
    everyone = text.split("data-view='all|2026-10'>")[1].split("<div class='view'")[0]
    assert "<div class='value'>25.0</div>" in everyone and "class='tag'" not in everyone
    assert "<option value='smb'>smb</option>" in text
    # The segment's support takeaways never mix every customer's channels into its numbers.
    support = text.split("id='page-support'")[1].split("id='page-product'")[0]
    support_smb = support.split("data-view='smb|2026-10' hidden>")[1].split("<div class='view'")[0]
    assert "No ticket of this segment&#x27;s customers was created in Oct 2026." in support_smb
    assert "Channels and ratings are compared over every customer" in support_smb
    assert "came by email" not in support_smb and "came by email" in support


def test_frames_read_once_for_every_view_equal_one_query_per_view(tmp_path: Path) -> None:
    # The MRR bridge, the invoices by status and the high band's reasons are read
    # once for every segment and month; each view's rows must be what a query of
    # its own segment and month gives (the old per-view queries are the oracle).
    warehouse = tmp_path / "cx.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.kpi_monthly as
            select month, 'company' as level, 'all' as level_id, 'nps' as metric,
                10.0 as value, 1.0 as numerator, 10.0 as denominator, 10 as n,
                0.0 as ci_low, 20.0 as ci_high, false as is_low_sample
            from (values (date '2026-09-01'), (date '2026-10-01')) as t(month)
            """
        )
        con.execute(
            """
            create table marts.kpi_monthly_by_segment as
            select segment, kpi.* from marts.kpi_monthly as kpi
            cross join (values ('smb'), ('enterprise')) as s(segment)
            """
        )
        con.execute(
            """
            create table marts.dim_customer as select * from (values
                ('c1', 'smb'), ('c2', 'enterprise'), ('c3', null), ('c4', 'smb')
            ) as t(customer_id, segment)
            """
        )
        con.execute(
            """
            create table marts.fct_mrr_movements as
            select
                customer_id, month_start_date, segment,
                cast(mrr_start as decimal(18, 2)) as mrr_start,
                cast(1.25 * i as decimal(18, 2)) as new_mrr,
                cast(0.5 as decimal(18, 2)) as expansion_mrr,
                cast(0.1 * i as decimal(18, 2)) as contraction_mrr,
                cast(0 as decimal(18, 2)) as churned_mrr,
                cast(0 as decimal(18, 2)) as reactivation_mrr,
                cast(-0.03 as decimal(18, 2)) as fx_revaluation_mrr,
                cast(mrr_start + 1.25 * i + 0.5 - 0.1 * i - 0.03 as decimal(18, 2)) as mrr_end
            from (values
                ('c1', date '2026-09-01', 'smb', 10.10, 1),
                ('c1', date '2026-10-01', 'smb', 11.00, 2),
                ('c2', date '2026-10-01', 'enterprise', 99.99, 3),
                ('c3', date '2026-10-01', null, 5.55, 4),
                ('c4', date '2026-10-01', 'smb', 0.01, 5)
            ) as t(customer_id, month_start_date, segment, mrr_start, i)
            """
        )
        con.execute(
            """
            create table marts.fct_invoices as select * from (values
                ('i1', 'c1', timestamp '2026-09-03 10:00', 'paid', 12.5),
                ('i2', 'c1', timestamp '2026-10-03 10:00', 'open', 7.25),
                ('i3', 'c2', timestamp '2026-10-09 10:00', 'open', 100.0),
                ('i4', 'c3', timestamp '2026-10-20 10:00', 'paid', 3.0),
                ('i5', 'c9', timestamp '2026-10-21 10:00', 'open', 1.0),
                ('i6', 'c4', timestamp '2026-10-22 10:00', 'open', 2.0)
            ) as t(invoice_id, customer_id, issued_at, invoice_status, amount_reporting)
            """
        )
        con.execute(
            """
            create table marts.customers_at_risk as select * from (values
                ('c1', 'smb', 0.9, 'high', 10.0, 9.0, 'detractor', 'x',
                    'nps_detractor ;slow_tickets'),
                ('c4', 'smb', 0.8, 'high', 1.0, 0.8, null, 'x', 'slow_tickets'),
                ('c2', 'enterprise', 0.7, 'high', 99.0, 70.0, null, 'x', ' detractor_answers'),
                ('c3', null, 0.95, 'high', 5.0, 4.0, null, 'x', ''),
                ('c5', 'smb', 0.1, 'low', 1.0, 0.1, null, 'x', 'mrr')
            ) as t(customer_id, segment, churn_risk_score, risk_band, mrr_at_risk,
                   expected_mrr_loss, latest_nps_category, reasons, reason_codes)
            """
        )
    data = ddata.load_dashboard_data(settings_for(warehouse))
    assert {v.view_key for v in data.views} == {
        f"{segment}|{month}"
        for segment in ("all", "enterprise", "smb")
        for month in ("2026-09", "2026-10")
    }
    old_bridge = """
        select sum(mrr_start) as mrr_start, sum(new_mrr) as new_mrr,
            sum(expansion_mrr) as expansion_mrr, sum(contraction_mrr) as contraction_mrr,
            sum(churned_mrr) as churned_mrr, sum(reactivation_mrr) as reactivation_mrr,
            sum(fx_revaluation_mrr) as fx_revaluation_mrr, sum(mrr_end) as mrr_end
        from marts.fct_mrr_movements
        where month_start_date = ?
            and (cast(? as varchar) is null or coalesce(segment, 'unknown') = ?)
    """
    old_invoices = """
        select cast(date_trunc('month', invoices.issued_at) as date) as month,
            invoices.invoice_status, count(*) as invoices,
            sum(invoices.amount_reporting) as amount_reporting
        from marts.fct_invoices as invoices
        left join marts.dim_customer as customers on invoices.customer_id = customers.customer_id
        where cast(? as varchar) is null or coalesce(customers.segment, 'unknown') = ?
        group by 1, 2 order by 1, 2
    """
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for view in data.views:
            seg, month = view.segment, view.reporting_month
            expected = con.execute(old_bridge, [month, seg, seg]).df()
            pd.testing.assert_frame_equal(view.frames["mrr_bridge"], expected)
            expected = con.execute(old_invoices, [seg, seg]).df()
            pd.testing.assert_frame_equal(view.frames["invoices_by_status"], expected)
            bridges = con.execute(ddata.MRR_BRIDGE_SQL).df()
    # A month without movements: every sum null, as an aggregate over no rows.
    empty = ddata.month_bridge(bridges, date(2026, 8, 1), None)
    assert len(empty) == 1 and empty.isna().all(axis=None)
    # The strongest reason, counted in SQL: the first code, spaces trimmed, codes of
    # one kind added up, a tie to the kind first in the alphabet; an empty first code
    # counts among the high band but names no reason.
    by_view = {v.view_key: dactions.top_risk_reason(v) for v in data.views}
    assert by_view["all|2026-10"] == ("a detractor NPS answer", 2, 4)
    assert by_view["smb|2026-10"] == ("a detractor NPS answer", 1, 2)
    assert by_view["enterprise|2026-09"] == ("a detractor NPS answer", 1, 1)
