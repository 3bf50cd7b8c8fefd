"""One masking of personal data, in Python and in SQL.

Every case runs through `cx_insights.privacy.mask_pii` and through DuckDB
executing the SQL of the dbt macro `mask_pii_text` (rendered here from the
macro files with plain Jinja, the way dbt renders them: no dbt run), and both
must give the expected text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import duckdb
import jinja2
import pytest

from cx_insights import privacy
from cx_insights.config import DBT_PROJECT_DIR

#: (text, expected), from many countries and keyboards.
CASES: list[tuple[str, str]] = [
    # E-mail: ASCII, Unicode local parts, IDN and punycode domains, full-width @.
    ("write to jane.doe@example.com please", "write to [email] please"),
    ("zoë.müller@exämple.de", "[email]"),
    ("Mail an „zoë.müller@exämple.de“, danke", "Mail an „[email]“, danke"),
    ("иван.петров@пример.рф ответил", "[email] ответил"),
    ("連絡は 山田@例え.日本 まで", "連絡は [email] まで"),
    ("user+tag@xn--exmple-cua.de.", "[email]."),
    ("françois@société.fr", "[email]"),
    ("ｍｅ:yamada＠example.jp", "ｍｅ:[email]"),
    ("(first.last@mail.co.uk)", "([email])"),
    # Phone numbers: E.164 and local formats with every separator.
    ("Call me on +44 20 7946 0958 or later", "Call me on [phone] or later"),
    ("+4915112345678", "[phone]"),
    ("mobile 0151 - 123 456 78, thanks", "mobile [phone], thanks"),
    ("Büro: 030 / 123 456 78.", "Büro: [phone]."),
    ("0151-123 456 78", "[phone]"),
    ("(030) 1234 5678", "[phone]"),
    ("+49 (0)151 12345678!", "[phone]!"),
    ("+1 (555) 123-4567", "[phone]"),
    ("555.123.4567", "[phone]"),
    ("01 23 45 67 89", "[phone]"),
    ("+33 1 23 45 67 89", "[phone]"),
    ("Tel.:+49-30-1234567", "Tel.:[phone]"),
    ("０１５１ １２３４５６７８", "[phone]"),
    ("電話：０３－１２３４－５６７８です", "電話：[phone]です"),
    ("+91 98765 43210", "[phone]"),
    ("0151 12345678,0151 87654321", "[phone],[phone]"),
    ("ring 0151 12345678: any time", "ring [phone]: any time"),
    ("last line 0151 12345678", "last line [phone]"),
    # IBANs, grouped or not.
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [iban] please"),
    ("DE89370400440532013000", "[iban]"),
    ("GB29 NWBK 6016 1331 9268 19", "[iban]"),
    ("refund to FR14 2004 1010 0505 0001 3M02 606.", "refund to [iban]."),
    ("NO93 8601 1117 947", "[iban]"),
    # Not personal data: dates, times, amounts, short numbers.
    ("delivered on 2026-03-05, late", "delivered on 2026-03-05, late"),
    ("at 2026-03-05T10:00:00Z", "at 2026-03-05T10:00:00Z"),
    ("2026-03-05 10:00 was the slot", "2026-03-05 10:00 was the slot"),
    ("am 05.03.2026 14:30 Uhr", "am 05.03.2026 14:30 Uhr"),
    ("03/05/2026", "03/05/2026"),
    ("from 09:00 to 17:30", "from 09:00 to 17:30"),
    ("paid 1,234.56 EUR", "paid 1,234.56 EUR"),
    ("1.234.567,89 €", "1.234.567,89 €"),
    ("order 1234567 arrived", "order 1234567 arrived"),
    ("order #12345678", "order #12345678"),
    ("2019-2026, 5 stars", "2019-2026, 5 stars"),
    ("Delivered in 2 days, 5 stars", "Delivered in 2 days, 5 stars"),
    ("", ""),
]


# --------------------------------------------------------------------------------------
# The macro's SQL, rendered as dbt renders it on DuckDB.


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _return(value: Any) -> str:
    raise _Return(value)


MACRO_RE = re.compile(r"{%-?\s*macro\s+(\w+)\(.*?{%-?\s*endmacro\s*-?%}", re.S)


def dbt_macros(*files: str, target_type: str = "duckdb") -> dict[str, Callable[..., Any]]:
    """The macros of `files` (under dbt_project/macros), callable as dbt calls them:
    `return(...)` gives the macro's value, `adapter.dispatch` picks
    `<target>__<name>` or `default__<name>`, each macro sees all the others."""
    compiled: dict[str, Any] = {}

    def call(name: str) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return compiled[name](*args, **kwargs)
            except _Return as returned:
                return returned.value

        return run

    def dispatch(name: str, namespace: str | None = None) -> Callable[..., Any]:
        for prefix in (f"{target_type}__", "default__"):
            if prefix + name in compiled:
                return call(prefix + name)
        raise KeyError(name)

    sources = [
        m.group(0)
        for f in files
        for m in MACRO_RE.finditer((DBT_PROJECT_DIR / "macros" / f).read_text(encoding="utf-8"))
    ]
    names = [MACRO_RE.match(s).group(1) for s in sources]  # type: ignore[union-attr]
    context: dict[str, Any] = {
        "return": _return,
        "adapter": SimpleNamespace(dispatch=dispatch),
        "target": SimpleNamespace(type=target_type),
        **{n: call(n) for n in names},
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for name, source in zip(names, sources, strict=True):
        compiled[name] = getattr(env.from_string(source).make_module(vars=context), name)
    return context


@pytest.fixture(scope="module")
def macros() -> dict[str, Callable[..., Any]]:
    return dbt_macros(
        "privacy/pii.sql",
        "privacy/pii_patterns.sql",
        "cross_db/regexp_replace_all.sql",
        "cross_db/on_spark.sql",
    )


@pytest.fixture(scope="module")
def mask_sql(macros: dict[str, Callable[..., Any]]) -> Callable[[str], str]:
    expression = str(macros["mask_pii_text"]("value_text")).strip()
    con = duckdb.connect()

    def mask(text: str) -> str:
        return con.execute(
            f"select {expression} from (select cast(? as varchar) as value_text)", [text]
        ).fetchone()[0]

    return mask


# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_python_and_sql_mask_alike(text: str, expected: str, mask_sql) -> None:
    assert privacy.mask_pii(text) == expected
    assert mask_sql(text) == expected


def test_the_committed_macro_holds_the_python_patterns(macros) -> None:
    committed = privacy.DBT_MACRO_PATH.read_text(encoding="utf-8")
    assert committed == privacy.dbt_macro_source(), (
        "dbt_project/macros/privacy/pii_patterns.sql differs from cx_insights/privacy.py: "
        "run `python -m cx_insights.privacy`"
    )
    assert [tuple(p) for p in macros["pii_patterns"]()] == [
        (p.name, p.pattern, p.replacement) for p in privacy.PII_PATTERNS
    ]
    assert privacy.main(["--check"]) == 0


def test_the_patterns_suit_every_engine() -> None:
    """RE2 accepts them (no look-around, no backreference); no backslash or quote,
    which string literals treat differently on DuckDB, PostgreSQL and Spark."""
    for p in privacy.PII_PATTERNS:
        assert "\\" not in p.pattern and "'" not in p.pattern
        assert "(?=" not in p.pattern and "(?<" not in p.pattern and "(?!" not in p.pattern
        duckdb.sql(f"select regexp_replace('x', '{p.pattern}', '{p.replacement}', 'g')").fetchall()


def test_spark_gets_its_own_group_reference() -> None:
    spark = dbt_macros(
        "privacy/pii.sql",
        "privacy/pii_patterns.sql",
        "cross_db/regexp_replace_all.sql",
        "cross_db/on_spark.sql",
        target_type="spark",
    )
    sql = str(spark["mask_pii_text"]("value_text"))
    assert "'[phone]$1')" in sql and "\\" not in sql and ", 'g')" not in sql


def test_the_staging_model_masks_with_the_macro() -> None:
    model = DBT_PROJECT_DIR / "models" / "staging" / "feedback" / "stg_feedback__answers.sql"
    assert "mask_pii_text('value_text')" in model.read_text(encoding="utf-8")
