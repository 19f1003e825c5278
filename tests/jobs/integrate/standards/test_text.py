"""Persons' names, and text kept as delivered but for the spaces around it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark


def test_person_names(verdicts):
    assert verdicts("person_name", [
        "张三", "欧阳娜娜", "张 三", "张\u3000三", " 李四 ", "买买提·艾力", "买买提 . 艾力", "买买提•艾力", "买买提．艾力",
        "John  Smith", "ＪＯＨＮ", "张3", "", None,
    ]) == {
        "张三": ("张三", None, False), "欧阳娜娜": ("欧阳娜娜", None, False),
        "张 三": ("张三", None, True), "张\u3000三": ("张三", None, True), " 李四 ": ("李四", None, True),
        "买买提·艾力": ("买买提·艾力", None, False),
        "买买提 . 艾力": ("买买提·艾力", None, True), "买买提•艾力": ("买买提·艾力", None, True),
        "买买提．艾力": ("买买提·艾力", None, True),
        "John  Smith": ("John Smith", None, True), "ＪＯＨＮ": ("JOHN", None, True),
        "张3": (None, "bad_format", False), "": (None, "missing", False), None: (None, "missing", False),
    }


def test_plain_text_is_trimmed_only(verdicts):
    assert verdicts("org_name", ["泉州某某鞋业有限公司", " 泉州某某鞋业有限公司\u3000", "泉州 某某", "\u3000", None]) == {
        "泉州某某鞋业有限公司": ("泉州某某鞋业有限公司", None, False),
        " 泉州某某鞋业有限公司\u3000": ("泉州某某鞋业有限公司", None, True),
        "泉州 某某": ("泉州 某某", None, False),
        "\u3000": (None, "missing", False), None: (None, "missing", False),
    }
