"""A dashboard's parameters: a district by code or name, an as-of day, clear errors for others."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from citylake.dashboards.scope import Scope, resolve_scope


def test_a_district_is_found_by_code_chinese_or_english_name():
    for name in ("350502", "鲤城区", "licheng", " Licheng "):
        assert resolve_scope(name).district.code == "350502"
    assert resolve_scope(None).district is None and resolve_scope("").district is None


def test_an_unknown_district_names_the_known_ones():
    with pytest.raises(ValueError, match=r"district '火星区' is not a district of 泉州市; known: 350502 鲤城区 Licheng"):
        resolve_scope("火星区")


def test_the_as_of_day_bounds_business_times_and_names_the_folder():
    scope = resolve_scope("350502", "2026-03-05")
    assert scope.as_of == date(2026, 3, 5) and scope.until == datetime(2026, 3, 6, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert scope.folder == "350502_2026-03-05" and scope.where == "鲤城区 Licheng"
    assert Scope().folder == "" and Scope().until is None and Scope().where == "全市 whole city"
    assert resolve_scope(as_of=date(2026, 3, 5)).folder == "2026-03-05"
    with pytest.raises(ValueError, match="as_of '5 March' is not an ISO date like 2026-03-05"):
        resolve_scope(as_of="5 March")
