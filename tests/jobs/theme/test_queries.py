"""Binding a declared query's parameters, and classifying its rows by declared rules."""

from datetime import date, datetime

import pytest

from citylake.themes import Classify, ClassRule
from jobs.theme.queries import UnknownParameter, bind, classified


def test_parameters_are_bound_as_literals_outside_strings_and_casts():
    sql = "SELECT :n, :x, :s, :day, :at, ':n', x::int, 'it''s :n' FROM t"
    bound = bind(sql, {"n": 6, "x": 2.5, "s": "O'Brien", "day": date(2026, 3, 1), "at": datetime(2026, 3, 5, 10, 30)})
    assert bound == ("SELECT 6, 2.5, 'O\\'Brien', DATE '2026-03-01', TIMESTAMP '2026-03-05 10:30:00', ':n', x::int, "
                     "'it''s :n' FROM t")


def test_an_unknown_parameter_is_named_with_those_declared():
    with pytest.raises(UnknownParameter, match=r":max_resident is no parameter \(declared: as_of, max_residents\)"):
        bind("SELECT * FROM t WHERE n > :max_resident", {"max_residents": 6, "as_of": datetime(2026, 1, 1)})


@pytest.mark.spark
def test_the_first_rule_that_holds_gives_the_class_and_every_rule_that_holds_a_reason(spark):
    frame = spark.createDataFrame([("a", 0, 0), ("b", 1, 0), ("c", 1, 2), ("d", 0, None)],
                                  "id string, penalties int, arrears int")
    rules = Classify(column="grade", reasons="why", default="A", rules=[
        ClassRule(value="D", when="arrears >= 2", reason="arrears"),
        ClassRule(value="C", when="penalties > 0", reason="penalised")])
    rows = {r.id: r for r in classified(frame, rules, {"clean": "grade = 'A'", "unknown": "arrears > 0"}).collect()}
    assert [(rows[k].grade, rows[k].why) for k in "abcd"] == [
        ("A", []), ("C", ["penalised"]), ("D", ["arrears", "penalised"]), ("A", [])]
    assert [rows[k].clean for k in "abcd"] == [True, False, False, True]
    # a flag whose expression is null (unknown arrears) is false, not null
    assert rows["d"].unknown is False
