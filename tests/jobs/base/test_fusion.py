"""Fusing a library from its views on real Delta tables: source priority and lineage, the state as
of a past business time, the history's spans, aggregated views, members that leave."""

import shutil
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from citylake.libraries import Library
from jobs.base.fusion import NOW, Moment, as_of_condition, city_timestamp, fuse, history
from jobs.integrate.changes import apply_changes

pytestmark = pytest.mark.spark

LIBRARY = Library.model_validate({
    "name": "people", "description": "test", "key": "id_number", "members": ["reg", "grid"],
    "views": {
        "reg": {"resource": "testbase.reg", "key": "id_number", "columns": {"name": "name", "unit": "unit"}},
        "grid": {"resource": "testbase.grid", "key": "id_number", "columns": {"name": "name", "unit": "unit"}},
        "jobs": {"resource": "testbase.jobs", "key": "id_number", "where": "active = 'Y'",
                 "aggregates": {"jobs": "count(1)", "employers": "array_join(array_sort(collect_set(employer)), ',')"}},
    },
    "attributes": {"name": ["reg.name", "grid.name"], "unit": ["grid.unit", "reg.unit"], "jobs": ["jobs.jobs"],
                   "employers": ["jobs.employers"]},
    "derived": {"jobs": "coalesce(jobs, 0)", "days_known": "datediff(_as_of, TIMESTAMP '2026-01-01 00:00:00')"},
})


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


def apply(spark, resource, rows, key=("id_number",), batch="b1"):
    """rows: (id, {column: value}, op, 'MM-DD HH:MM')"""
    columns = sorted({column for _, values, _, _ in rows for column in values})
    data = [(i, *[values.get(c) for c in columns], op, at(when), batch, 1, n + 1)
            for n, (i, values, op, when) in enumerate(rows)]
    schema = ", ".join(["id_number string", *[f"{c} string" for c in columns], "_op string", "_changed_at timestamp",
                        "_batch_id string", "_sequence long", "_record long"])
    frame = spark.createDataFrame(data, schema).withColumn(
        "_row_hash", F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in columns]))))
    apply_changes(spark, frame, f"integrated.testbase_{resource}", list(key))


@pytest.fixture(scope="module")
def people(spark, settings):
    for table in ("reg", "grid", "jobs"):
        for suffix in ("", "_history"):
            shutil.rmtree(settings.path("warehouse") / "integrated" / f"testbase_{table}{suffix}", ignore_errors=True)
    apply(spark, "reg", [("A", {"name": "张三", "unit": "U1"}, "I", "01-02 10:00"),
                         ("B", {"name": "李四", "unit": "U2"}, "I", "01-02 10:00"),
                         ("A", {"name": "张三", "unit": "U3"}, "U", "02-01 10:00")])
    apply(spark, "grid", [("A", {"name": "张叁", "unit": "U9"}, "I", "01-05 10:00"),
                          ("C", {"name": "王五", "unit": "U7"}, "I", "01-03 10:00"),
                          ("A", {"name": "张叁叁", "unit": "U9"}, "U", "01-20 10:00"),
                          ("C", {"name": "王五", "unit": "U7"}, "D", "03-01 10:00")])
    apply(spark, "jobs", [("A", {"employer": "E1", "active": "Y"}, "I", "01-10 10:00"),
                          ("A", {"employer": "E2", "active": "Y"}, "I", "01-11 10:00"),
                          ("A", {"employer": "E3", "active": "N"}, "I", "01-12 10:00")],
          key=("id_number", "employer"))
    return LIBRARY


def rows_by_key(frame):
    return {row["id_number"]: row for row in frame.collect()}


def test_each_attribute_comes_from_its_first_source_with_a_value(spark, people):
    now = rows_by_key(fuse(spark, people, NOW))
    assert set(now) == {"A", "B"}  # C left the grid, its only member view
    a = now["A"]
    assert (a["name"], a["unit"], a["jobs"], a["employers"]) == ("张三", "U9", 2, "E1,E2")
    assert a["_lineage"]["name"].asDict() == {"source": "testbase.reg", "at": at("02-01 10:00")}
    assert a["_lineage"]["unit"].asDict() == {"source": "testbase.grid", "at": at("01-20 10:00")}
    b = now["B"]
    assert (b["name"], b["unit"], b["jobs"], b["employers"]) == ("李四", "U2", 0, None)
    assert b["_lineage"]["unit"]["source"] == "testbase.reg" and b["_lineage"]["employers"] is None


def test_as_of_a_past_business_time_gives_the_state_then(spark, people):
    then = rows_by_key(fuse(spark, people, Moment(at=at("01-04 00:00"))))
    assert set(then) == {"A", "B", "C"}
    assert (then["A"]["unit"], then["A"]["jobs"], then["C"]["name"]) == ("U1", 0, "王五")
    assert then["A"]["days_known"] == 3
    assert set(rows_by_key(fuse(spark, people, Moment(at=at("01-01 00:00"))))) == set()


def test_the_history_has_a_span_per_state_and_none_where_the_entity_was_unknown(spark, people):
    spans = history(spark, people).orderBy("id_number", "_valid_from").collect()
    by_key = {}
    for row in spans:
        by_key.setdefault(row["id_number"], []).append(
            (row["unit"], row["jobs"], row["_valid_from"], row["_valid_to"]))
    assert "days_known" not in spans[0].asDict()  # depends on the date asked about
    assert by_key["A"] == [
        ("U1", 0, at("01-02 10:00"), at("01-05 10:00")),
        ("U9", 0, at("01-05 10:00"), at("01-10 10:00")),
        ("U9", 1, at("01-10 10:00"), at("01-11 10:00")),
        # neither the grid's new name (01-20, below the register's) nor the register's new unit
        # (02-01, below the grid's) changes the fused state
        ("U9", 2, at("01-11 10:00"), None),
    ]
    assert by_key["C"] == [("U7", 0, at("01-03 10:00"), at("03-01 10:00"))]
    assert len(by_key["B"]) == 1 and by_key["B"][0][3] is None


def test_history_and_as_of_agree_at_every_change(spark, people):
    spans = history(spark, people)
    for moment in ("01-02 10:00", "01-05 12:00", "01-10 10:00", "02-15 00:00", "03-02 00:00"):
        when = at(moment)
        from_history = spans.where(as_of_condition(city_timestamp(when)))
        expected = {(r.id_number, r.name, r.unit, r.jobs) for r in fuse(spark, people, Moment(at=when)).collect()}
        assert {(r.id_number, r.name, r.unit, r.jobs) for r in from_history.collect()} == expected, moment


def test_an_expression_that_does_not_resolve_names_the_declaration(spark, people):
    from citylake.settings import ConfigError

    broken = people.model_copy(update={"views": {**people.views, "jobs": people.views["jobs"].model_copy(
        update={"where": "actve = 'Y'"})}})
    with pytest.raises(ConfigError, match=r"base\.yml: people\.views\.jobs\.where: .*actve"):
        fuse(spark, broken, NOW)
