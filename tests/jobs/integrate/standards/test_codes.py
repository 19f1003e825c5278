"""Code lists of conf/elements.yml, codes with a declared pattern, and GB/T 4754 industry codes."""

from __future__ import annotations

import pytest

from citylake.catalog import CodeValue, Element, load_elements
from jobs.integrate.standards.codes import variants

pytestmark = pytest.mark.spark


def test_gender_codes_and_their_variants(verdicts):
    assert verdicts("gender", ["1", "2", "0", "9", "男", "女", " 1 ", "１", "男性", "M", "f", "male", "未知", "未说明",
                               None, "", "3", "x", "男女"]) == {
        "1": ("1", None, False), "2": ("2", None, False), "0": ("0", None, False), "9": ("9", None, False),
        "男": ("1", None, True), "女": ("2", None, True), " 1 ": ("1", None, True), "１": ("1", None, True),
        "男性": ("1", None, True), "M": ("1", None, True), "f": ("2", None, True), "male": ("1", None, True),
        "未知": ("0", None, True), "未说明": ("9", None, True),
        None: (None, "missing", False), "": (None, "missing", False),
        "3": (None, "unknown_code", False), "x": (None, "unknown_code", False), "男女": (None, "unknown_code", False),
    }


def test_every_ethnic_group_from_its_code_or_its_name(verdicts):
    """GB/T 3304 by code, by code without its leading zero, by name with or without 族."""
    groups = load_elements()["ethnicity"].values
    expected = {}
    for code, group in groups.items():
        expected[code] = (code, None, False)
        for variant in {code.lstrip("0"), group.label, group.label.removesuffix("族")} - {code, ""}:
            expected[variant] = (code, None, True)
    expected |= {"99": (None, "unknown_code", False), "火星族": (None, "unknown_code", False),
                 "": (None, "missing", False)}
    assert len(groups) == 58
    assert verdicts("ethnicity", expected) == expected


def test_other_code_lists_by_label_and_alias(verdicts):
    cases = {
        "insurance_type": {"110": "110", "养老保险": "110", "失业保险": "210", "医疗保险": "310"},
        "enterprise_status": {"存续": "存续", "存续（在营、开业、在册）": "存续", "吊销，未注销": "吊销", "开业": "在业"},
        "penalty_type": {"罚款": "罚款", "暂扣或者吊销许可证、暂扣或者吊销执照": "吊销许可证", "吊销执照": "吊销许可证"},
        "housing_use": {"住宅": "住宅", "商业服务": "商业"},
        "household_relation": {"02": "02", "2": "02", "户主": "02", "儿子": "20", "非亲属": "99"},
        "operation": {"I": "I", "u": "U", "delete": "D", "Insert": "I"},
    }
    for element, codes in cases.items():
        expected = {delivered: (code, None, delivered != code) for delivered, code in codes.items()}
        assert verdicts(element, codes) == expected, element
    assert verdicts("operation", ["X"]) == {"X": (None, "unknown_code", False)}


def test_a_variant_of_two_codes_is_a_configuration_error():
    element = Element(name="colour", label="颜色", description="test", type="string",
                      values={"1": CodeValue(label="红", aliases=["赤"]), "2": CodeValue(label="赤", aliases=[])})
    with pytest.raises(ValueError, match=r"colour: '赤' is a variant of both '1' and '2'"):
        variants(element)


def test_codes_with_a_pattern(verdicts):
    unit = "3505020010000010101"
    assert verdicts("household_no", ["350502000000001", " 350502000000001", "３５０５０２００００００００１",
                                     "35050200000000", "3505020000000011", "3505020000000O1", None]) == {
        "350502000000001": ("350502000000001", None, False),
        " 350502000000001": ("350502000000001", None, True),
        "３５０５０２００００００００１": ("350502000000001", None, True),
        "35050200000000": (None, "bad_length", False),
        "3505020000000011": (None, "bad_length", False),
        "3505020000000O1": (None, "bad_format", False),
        None: (None, "missing", False),
    }
    assert verdicts("unit_code", [unit, "3505020010000010 101"]) == {
        unit: (unit, None, False), "3505020010000010 101": (unit, None, True)}
    assert verdicts("property_unit_no", ["350502001001GB00001F00010001", "350502001001gb00001f00010001",
                                         "350502001001GB00001F0001000"]) == {
        "350502001001GB00001F00010001": ("350502001001GB00001F00010001", None, False),
        "350502001001gb00001f00010001": ("350502001001GB00001F00010001", None, True),
        "350502001001GB00001F0001000": (None, "bad_format", False),  # not digits only: no length rule
    }


def test_industry_codes(verdicts):
    assert verdicts("industry_code", [
        "C1810", "C181", "C18", "C", "1810", "c18", " F5211 ", "Ｃ１８１０", "5211", "0111", "9800",
        "A1810", "U", "99", "0011", "C18100", "CC18", "C1", "", None,
    ]) == {
        "C1810": ("C1810", None, False), "C181": ("C181", None, False), "C18": ("C18", None, False),
        "C": ("C", None, False),
        "1810": ("C1810", None, True),      # without its letter: the section of division 18
        "c18": ("C18", None, True), " F5211 ": ("F5211", None, True), "Ｃ１８１０": ("C1810", None, True),
        "5211": ("F5211", None, True), "0111": ("A0111", None, True), "9800": ("T9800", None, True),
        "A1810": (None, "unknown_code", False),   # division 18 is in section C
        "U": (None, "unknown_code", False), "99": (None, "unknown_code", False), "0011": (None, "unknown_code", False),
        "C18100": (None, "bad_format", False), "CC18": (None, "bad_format", False), "C1": (None, "bad_format", False),
        "": (None, "missing", False), None: (None, "missing", False),
    }
