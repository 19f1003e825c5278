"""Division and street codes must be the city's (conf/divisions.yml, or the divisions given)."""

from __future__ import annotations

import pytest

from citylake.catalog import load_divisions

pytestmark = pytest.mark.spark


def test_division_codes_of_the_city(verdicts):
    assert verdicts("division_code", [
        "350502", "350500", " 350502", "３５０５０２", "鲤城区", "泉州市",
        "350599", "110101", "352401", "35050", "3505021", "35O502", "鲤城", None,
    ]) == {
        "350502": ("350502", None, False), "350500": ("350500", None, False),
        " 350502": ("350502", None, True), "３５０５０２": ("350502", None, True),
        "鲤城区": ("350502", None, True), "泉州市": ("350500", None, True),
        "350599": (None, "unknown_division_code", False),
        "110101": (None, "unknown_division_code", False),   # another city's district
        "352401": (None, "unknown_division_code", False),   # a code of the past, kept in old ID numbers only
        "35050": (None, "bad_length", False), "3505021": (None, "bad_length", False),
        "35O502": (None, "bad_format", False), "鲤城": (None, "bad_format", False),
        None: (None, "missing", False),
    }


def test_street_codes_of_the_city(verdicts):
    assert verdicts("street_code", ["350502001", "350502001\u3000", "海滨街道", "350502901", "350599001", "350502",
                                    ""]) == {
        "350502001": ("350502001", None, False), "350502001\u3000": ("350502001", None, True),
        "海滨街道": ("350502001", None, True),
        "350502901": (None, "unknown_division_code", False), "350599001": (None, "unknown_division_code", False),
        "350502": (None, "bad_length", False),   # a district's code where a street's belongs
        "": (None, "missing", False),
    }


def test_the_divisions_given_are_the_table(verdicts):
    city = load_divisions()
    licheng, fengze = city.districts[0], city.districts[1]
    # a table of one district, whose first street has the same name as one of another district
    renamed = licheng.streets[0].model_copy(update={"name": fengze.streets[0].name})
    only_licheng = city.model_copy(update={"districts": [licheng.model_copy(update={"streets": [renamed]})]})
    assert verdicts("division_code", ["350502", "350503"], divisions=only_licheng) == {
        "350502": ("350502", None, False), "350503": (None, "unknown_division_code", False)}
    assert verdicts("street_code", [renamed.code, licheng.streets[1].code, renamed.name],
                    divisions=only_licheng) == {
        renamed.code: (renamed.code, None, False),
        licheng.streets[1].code: (None, "unknown_division_code", False),
        renamed.name: (renamed.code, None, True),
    }
    # in the whole city that name is two streets': it says nothing
    both = city.model_copy(update={"districts": [licheng.model_copy(update={"streets": [renamed]}), fengze]})
    assert verdicts("street_code", [renamed.name], divisions=both) == {renamed.name: (None, "bad_format", False)}
