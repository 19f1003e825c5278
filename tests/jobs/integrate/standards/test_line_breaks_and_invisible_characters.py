"""Values delivered with a line break at their end (a field read with its line's terminator),
Unicode spaces around them, or invisible format characters (byte-order mark, zero-width space,
non-joiner, joiner, word joiner) anywhere in them: every standard cleans them in the one way of
`core.clean`, so each such spelling gives the verdict of the clean value, flagged repaired when
valid, and nothing but those characters is missing."""

from __future__ import annotations

import unicodedata

import pytest
from pyspark.sql import functions as F

from jobs.integrate.standards.core import SPACE, WHITESPACE, clean

pytestmark = pytest.mark.spark

LINE_ENDS = ["\n", "\r\n", "\r", "\u0085", "\u2028", "\u2029"]
FORMAT_CHARACTERS = ["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060"]
# What a value of these characters only is: a blank field, whatever the standard
BLANKS = ["\n", "\r\n", "\ufeff", "\u200b", "\ufeff\r\n", "\u3000\u200d\u00a0", "\u2028"]


def spellings(value: str) -> list[str]:
    """The value with a line break after it, Unicode spaces around it, and each format character at
    its start, in its middle and at its end."""
    middle = len(value) // 2
    spelled = [value + end for end in LINE_ENDS]
    spelled += ["\u3000" + value + "\u3000", "\u00a0" + value, value + "\u00a0", "\u2003" + value + "\u202f",
                "\ufeff" + value + "\r\n"]  # the first field of a BOM-led file, with its line's end
    for invisible in FORMAT_CHARACTERS:
        spelled += [invisible + value, value[:middle] + invisible + value[middle:], value + invisible]
    return spelled


# per family of standards (one module each): element, a valid value and an invalid one as delivered
FAMILIES = {
    "identifiers: resident ID": ("resident_id", "11010519491231002X", "110105194912310021"),
    "identifiers: 15-digit ID": ("resident_id", "110105491231002", "1101054912310"),
    "identifiers: credit code": ("uscc", "91110000600037341L", "91110000600037341A"),
    "identifiers: party": ("party_id", "91110000600037341L", "11010519491231002"),
    "divisions: division": ("division_code", "350502", "350599"),
    "divisions: street": ("street_code", "350502001", "350599001"),
    "codes: code list": ("gender", "1", "3"),
    "codes: code list by label": ("gender", "男", "男女"),
    "codes: household number": ("household_no", "350502000000123", "35050200000012"),
    "codes: grid": ("grid_code", "350502001001", "35050200100A"),
    "codes: industry": ("industry_code", "C1811", "A1811"),
    "dates: date": ("date", "2019-03-05", "2019-02-30"),
    "dates: date in another layout": ("date", "2019年3月5日", "2019年13月5日"),
    "dates: timestamp": ("timestamp", "2026-01-01 08:00:00", "2026-01-01 25:00:00"),
    "dates: tax period": ("tax_period", "201903", "201913"),
    "numbers: amount": ("amount", "1234.50", "12a4"),
    "numbers: integer": ("integer", "12", "1.5"),
    "phones: mobile": ("phone", "13812345678", "1381234567"),
    "phones: landline": ("phone", "0595-22345678", "22345678"),
    "text: person name": ("person_name", "张三", "张3"),
    "text: plain text": ("org_name", "泉州某某鞋业有限公司", None),
}


@pytest.mark.parametrize("element, valid, invalid", FAMILIES.values(), ids=FAMILIES.keys())
def test_each_spelling_gets_the_clean_values_verdict(verdicts, element, valid, invalid):
    clean_values = [valid] + ([invalid] if invalid is not None else [])
    spelled = {value: spellings(value) for value in clean_values}
    found = verdicts(element, clean_values + [s for variants in spelled.values() for s in variants] + BLANKS)

    standard_value, error, _ = found[valid]
    assert error is None and standard_value is not None
    assert {s: found[s] for s in spelled[valid]} == {s: (standard_value, None, True) for s in spelled[valid]}
    if invalid is not None:
        invalid_verdict = found[invalid]
        assert invalid_verdict[1] not in (None, "missing")
        assert {s: found[s] for s in spelled[invalid]} == {s: invalid_verdict for s in spelled[invalid]}
    assert {b: found[b] for b in BLANKS} == {b: (None, "missing", False) for b in BLANKS}


def test_a_phone_never_keeps_a_line_break(verdicts):
    delivered = ["13812345678\n", "13812345678\r\n", "13812345678\r", "\ufeff13812345678\r\n", "138 1234 5678\n",
                 "+86 138\r\n1234 5678", "138-1234-5678\u2028", "0595-22345678\n", "(0595)22345678\r\n"]
    found = verdicts("phone", delivered)
    values = {d: verdict[0] for d, verdict in found.items()}
    assert values == {d: "0595-22345678" if "595" in d else "13812345678" for d in delivered}
    assert all(verdict[1:] == (None, True) for verdict in found.values())
    assert not any(terminator in value for value in values.values() for terminator in "\n\r\u0085\u2028\u2029")


def test_whitespace_is_every_character_python_calls_whitespace():
    """The set `python_key` and the python-stdnum cross-check split on, line terminators included."""
    every_space = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert set(WHITESPACE) == every_space
    assert {"\r", "\n", "\u0085", "\u2028", "\u2029", "\u3000", "\u00a0"} <= set(WHITESPACE)


def test_the_regular_expressions_spaces_are_the_trimmed_ones(spark):
    """`SPACE`, which the standards remove inside values, is `WHITESPACE`, which `clean` trims,
    over the whole Basic Multilingual Plane (surrogates aside)."""
    characters = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
    frame = spark.createDataFrame([(c,) for c in characters], "c string")
    matched = {row.c for row in frame.where(F.col("c").rlike(f"^{SPACE}$")).collect()}
    trimmed = {row.c for row in frame.where(clean(F.col("c")) == "").collect()}
    assert matched == set(WHITESPACE)
    # what `clean` empties: whitespace, and the format characters (Unicode category Cf) it removes
    format_characters = {c for c in characters if unicodedata.category(c) == "Cf"}
    assert trimmed - format_characters == set(WHITESPACE)
    assert {"\ufeff", "\u200b", "\u200c", "\u200d", "\u2060"} <= trimmed
