"""Masking of personal data in free text: the one definition.

Verbatims (survey `value_text`) are masked in SQL by the dbt macro
`mask_pii_text` (dbt_project/macros/privacy/pii.sql), and every text that
leaves raw or quarantine in a report is masked in Python by `mask_pii`. Both
apply the patterns of `PII_PATTERNS`, in order: the macro reads them from
`dbt_project/macros/privacy/pii_patterns.sql`, which this module writes
(`python -m cx_insights.privacy`; `--check` exits 1 when the committed file
differs, and tests/test_privacy.py fails on it too).

What is masked:

* e-mail addresses, with Unicode local parts and IDN domains (and a
  full-width `＠`), as `[email]`;
* IBANs (two letters, two check digits, 11 to 30 capitals or digits, in
  groups of four with or without spaces), as `[iban]`;
* phone numbers: 9 or more digits (ASCII or full-width), optionally led by
  `+` and `(`, separated by up to three of space . / ( ) - and their
  full-width forms, an en dash, a no-break or an ideographic space (so
  `0151 - 123 456 78` and `030 / 123 456 78` are one number), as `[phone]`.

What is not: dates (2026-03-05, 05.03.2026, 2026-03-05T10:00:00Z, and a date
followed by a time, 2026-03-05 10:00), times, amounts (1,234.56), and numbers
of fewer than 9 digits (order numbers; an 8-digit local number without its
area code is therefore not masked either). A run of 9 or more digits that ends
right before a `:` and a digit is a date with a time, not a phone number.

Portability: the patterns use no look-around and no backreference, no
backslash (string literals treat it differently on each engine) and no
quote; non-ASCII characters appear as themselves inside bracket expressions.
They run unchanged on RE2 (DuckDB) and Python's `re` (tests/test_privacy.py),
and gave the same output on every case of that test on PostgreSQL 15's
`regexp_replace(..., 'g')` and Java 17's `Matcher.replaceAll` (Spark's
engine), checked by hand, not in the suite. The phone replacement puts back
the one character that follows the number (group 1: `\\1`, `$1` on Spark,
which the macro writes).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from cx_insights.config import DBT_PROJECT_DIR

#: Letters (and combining marks) beyond ASCII, as code point ranges: Latin-1
#: letters without × and ÷, then U+00F8..U+1FFE (Latin extended, IPA, Greek,
#: Cyrillic, Armenian, Hebrew, Arabic, the Indic and South-East Asian scripts,
#: Georgian, Hangul Jamo, Ethiopic, ...), U+2C00..U+2DDE (Glagolitic, Coptic,
#: Ethiopic extended, Cyrillic extended) and U+3041..U+D7A3 (kana, CJK, Yi,
#: Hangul). General punctuation (U+2000..U+2BFF: quotes, dashes), CJK
#: punctuation (U+3000..U+303F) and the full-width forms stay out, so an
#: address in „…“ or 「…」 ends where it should.
LETTERS = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1ffe\u2c00-\u2dde\u3041-\ud7a3"

#: ASCII and full-width digits.
DIGITS = "0-9\uff10-\uff19"

#: What may stand between the digits of a phone number (the hyphen last):
#: space . ( ) /, no-break space, narrow no-break space, en dash, ideographic
#: space, full-width ( ) . / and hyphen-minus, and the hyphen.
PHONE_SEPARATORS = " .()/\u00a0\u202f\u2013\u3000\uff08\uff09\uff0e\uff0f\uff0d-"

EMAIL = (
    f"[A-Za-z0-9._%+{LETTERS}-]+[@\uff20]"
    f"[A-Za-z0-9{LETTERS}-]+(?:[.][A-Za-z0-9{LETTERS}-]+)*"
    f"[.][A-Za-z{LETTERS}][A-Za-z0-9{LETTERS}-]+"
)

IBAN = "[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?"

PHONE = (
    f"[+\uff0b]?[(\uff08]?[{DIGITS}](?:[{PHONE_SEPARATORS}]{{0,3}}[{DIGITS}]){{8,}}"
    # What follows: anything but a digit or a colon, a colon that no digit
    # follows, or the end. (A colon and a digit: the date of a date and time.)
    f"([^{DIGITS}:\uff1a]|[:\uff1a][^{DIGITS}]|[:\uff1a]?$)"
)


@dataclass(frozen=True)
class PiiPattern:
    name: str
    #: A regular expression in the common subset of RE2, Python, PostgreSQL and Java.
    pattern: str
    #: RE2 / Python / PostgreSQL syntax: `\1` is group 1.
    replacement: str


#: Applied in this order: e-mail first (an address may hold digits), then IBAN
#: (its digits would otherwise read as a phone number), then phone numbers.
PII_PATTERNS: tuple[PiiPattern, ...] = (
    PiiPattern("email", EMAIL, "[email]"),
    PiiPattern("iban", IBAN, "[iban]"),
    PiiPattern("phone", PHONE, "[phone]\\1"),
)

_COMPILED = tuple((re.compile(p.pattern), p.replacement) for p in PII_PATTERNS)


def mask_pii(text: str) -> str:
    """`text` with e-mail addresses, IBANs and phone numbers replaced by
    `[email]`, `[iban]` and `[phone]` (the same result as the SQL macro)."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


# --------------------------------------------------------------------------------------
# The dbt macro that hands the same patterns to `mask_pii_text`.

DBT_MACRO_PATH: Path = DBT_PROJECT_DIR / "macros" / "privacy" / "pii_patterns.sql"


def _jinja_string(value: str) -> str:
    """`value` as a single-quoted Jinja string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dbt_macro_source() -> str:
    """The text of `pii_patterns.sql` for the patterns of this module."""
    for p in PII_PATTERNS:
        # Each pattern is pasted into a SQL string literal by regexp_replace_all.
        assert "'" not in p.pattern and "\\" not in p.pattern, p.name
    rows = "\n".join(
        f"        ({_jinja_string(p.name)}, {_jinja_string(p.pattern)}, "
        f"{_jinja_string(p.replacement)}),"
        for p in PII_PATTERNS
    )
    return (
        "{#-\n"
        "    Generated from cx_insights/privacy.py by `python -m cx_insights.privacy`:\n"
        "    do not edit (tests/test_privacy.py fails when this file and the module differ).\n"
        "    (name, pattern, replacement) in the order `mask_pii_text` applies them;\n"
        "    `\\1` in a replacement is group 1. The character classes hold non-ASCII\n"
        "    letters, full-width digits and separators as themselves: see the module.\n"
        "-#}\n"
        "{% macro pii_patterns() -%}\n"
        "    {{ return([\n"
        f"{rows}\n"
        "    ]) }}\n"
        "{%- endmacro %}\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = dbt_macro_source()
    if "--check" in args:
        current = DBT_MACRO_PATH.read_text(encoding="utf-8") if DBT_MACRO_PATH.exists() else ""
        if current != text:
            print(
                f"{DBT_MACRO_PATH} differs from cx_insights/privacy.py: run "
                "`python -m cx_insights.privacy`",
                file=sys.stderr,
            )
            return 1
        return 0
    DBT_MACRO_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DBT_MACRO_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
