"""The assessment's transforms on tiny hand-made frames: months and daily checks, each indicator's
raw value, the weighted total, ranks with ties, the change against the month before."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F

from citylake.catalog import load_catalog
from jobs.assess import scoring
from jobs.assess.settings import load_assessment
from tests.jobs.assess.frames import city_frame

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
FIRST, AS_OF = datetime(2026, 3, 28, 1, 0), datetime(2026, 4, 2, 12, 0)


def test_months_run_from_the_first_extract_to_the_as_of_time_and_are_checked_daily():
    months = scoring.months_between(FIRST, AS_OF)
    assert [(m.month, m.assessed_to) for m in months] == [(MARCH, datetime(2026, 4, 1)), (APRIL, AS_OF)]
    moments = scoring.checkpoints(months, FIRST)
    # each day's end from the first extract's day; the running month's last check is the as-of time
    assert moments == [(MARCH, datetime(2026, 3, day)) for day in (29, 30, 31)] + [
        (MARCH, datetime(2026, 4, 1)), (APRIL, datetime(2026, 4, 2)), (APRIL, AS_OF)]
    assert [m.month for m in scoring.months_between(datetime(2026, 12, 30), datetime(2027, 1, 1))] == [
        date(2026, 12, 1), date(2027, 1, 1)]


def test_timeliness_counts_the_checks_at_which_the_daily_run_would_not_call_a_resource_late():
    catalog = load_catalog()
    # psb: household registration (daily) extracted at 01:00 on the 28th-30th, residence permits never
    extracts = {"psb.household_registration": [datetime(2026, 3, day, 1, 0) for day in (28, 29, 30)]}
    moments = scoring.checkpoints(scoring.months_between(FIRST, AS_OF), FIRST)
    checks = {(month, department): (total, on_time) for month, department, total, on_time
              in scoring.timeliness_checks(catalog, extracts, moments, timedelta(hours=6))}
    # due at 01:00 the next day, late after 07:00: on time at the ends of the 28th, 29th and 30th
    # (the 31st 00:00), late from the end of the 31st; the permits are never on time
    assert checks[(MARCH, "psb")] == (4 * 2, 3)
    assert checks[(APRIL, "psb")] == (2 * 2, 0)
    assert checks[(MARCH, "amr")] == (4 * 3, 0)  # nothing delivered: never on time
    assert {department for _, department in checks} == set(catalog.departments)


def test_a_table_carries_the_data_of_the_departments_whose_deliveries_reach_it_along_the_declared_kinds():
    edges = [("raw.psb_a", "delivery:psb.a", "delivery"), ("integrated.psb_a", "raw.psb_a", "standardize"),
             ("raw.grid_b", "delivery:grid.b", "delivery"), ("integrated.grid_b", "raw.grid_b", "standardize"),
             ("base.population", "integrated.psb_a", "fuse"), ("base.population", "integrated.grid_b", "fuse"),
             ("base.legal_entity", "base.population", "link"), ("ops.batch_ledger", "delivery:psb.a", "ledger"),
             ("theme.t", "base.population", "aggregate"), ("theme.t", "ops.batch_ledger", "as-of")]
    reached = scoring.source_departments(edges, ["delivery", "standardize", "fuse", "aggregate"])
    assert reached == {"raw.psb_a": {"psb"}, "integrated.psb_a": {"psb"}, "raw.grid_b": {"grid"},
                       "integrated.grid_b": {"grid"}, "base.population": {"psb", "grid"}, "theme.t": {"psb", "grid"}}


def city_time(moment):
    """A city time as Spark collects it: converted to the test process's zone."""
    return moment.replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone().replace(tzinfo=None)


@pytest.fixture(scope="module")
def months(spark):
    return scoring.months_frame(spark, scoring.months_between(FIRST, AS_OF))


@pytest.mark.spark
def test_delivery_is_the_share_of_catalogued_resources_landed_in_the_month_and_none_is_zero(spark, months):
    resources = spark.createDataFrame([("psb", "a"), ("psb", "b"), ("tax", "c")], "department string, resource string")
    landed = city_frame(spark, [("psb", "a", datetime(2026, 3, 30, 1)), ("psb", "a", datetime(2026, 3, 31, 1)),
                                    ("psb", "b", datetime(2026, 4, 1, 1)), ("psb", "gone", datetime(2026, 3, 30, 1))],
                                   "department string, resource string, extracted_at timestamp")
    rows = {(r.month, r.department): (r.resources_catalogued, r.resources_delivered, r.delivery_value)
            for r in scoring.delivery(resources, landed, months).collect()}
    assert rows == {(MARCH, "psb"): (2, 1, 0.5), (APRIL, "psb"): (2, 1, 0.5),
                    (MARCH, "tax"): (1, 0, 0.0), (APRIL, "tax"): (1, 0, 0.0)}


@pytest.mark.spark
def test_correction_turnaround_counts_open_ones_as_still_running_to_the_month_end(spark, months):
    rows = city_frame(spark, [
        ("psb", datetime(2026, 3, 29), datetime(2026, 3, 30)),   # 1 day, closed in March
        ("psb", datetime(2026, 3, 30), datetime(2026, 4, 2)),    # March: open at its end (2 days); April: 3 days
        ("psb", datetime(2026, 3, 31), None),                    # March: 1 day so far; April: to the as-of time
    ], "department string, opened_at timestamp, closed_at timestamp")
    found = {(r.month, r.department): (r.corrections_in_play, r.corrections_open, round(r.corrections_value, 3))
             for r in scoring.corrections(rows, months).collect()}
    assert found == {(MARCH, "psb"): (3, 2, round((1 + 2 + 1) / 3, 3)),
                     (APRIL, "psb"): (2, 1, round((3 + 2.5) / 2, 3))}


@pytest.mark.spark
def test_use_counts_other_consumers_successful_queries_of_tables_made_from_the_departments_data(spark, months):
    sources = scoring.sources_frame(spark, {"raw.psb_a": {"psb"}, "integrated.psb_a": {"psb"},
                                            "base.population": {"psb", "grid"}})
    audit = city_frame(spark, [
        ("q1", "completed", "succeeded", "psb", datetime(2026, 3, 30, 9), ["lake.integrated.psb_a"]),  # its own
        ("q2", "completed", "succeeded", "hrss", datetime(2026, 3, 30, 9),
         ["lake.base.population", "lake.integrated.psb_a"]),                                        # once for psb
        ("q3", "completed", "succeeded", "350502", datetime(2026, 3, 31, 9), ["lake.base.population"]),  # a district
        ("q4", "completed", "refused", "hrss", datetime(2026, 3, 31, 9), ["lake.raw.psb_a"]),       # refused
        ("q5", "completed", "succeeded", "dsj", datetime(2026, 3, 31, 9), ["lake.base.population"]),  # the platform
        ("q6", "completed", "succeeded", "unmapped", datetime(2026, 3, 31, 9), ["lake.base.population"]),
        ("q7", "created", "running", "hrss", datetime(2026, 3, 31, 9), ["lake.base.population"]),  # not ended
        ("q8", "completed", "succeeded", "grid", datetime(2026, 4, 1, 9), ["lake.base.population"]),  # grid's own
        ("q9", "completed", "succeeded", "hrss", datetime(2026, 4, 1, 9), ["other.base.population"]),  # not the lake
    ], "query_id string, event string, outcome string, department string, created_at timestamp, "
       "tables_read array<string>")
    found = {(r.month, r.department): (r.use_value, r.use_consumers)
             for r in scoring.use(audit, sources, months, ["dsj"]).collect()}
    assert found == {(MARCH, "psb"): (2, 2), (MARCH, "grid"): (2, 2), (APRIL, "psb"): (1, 1)}


@pytest.mark.spark
def test_scores_weigh_the_indicators_rank_with_ties_and_follow_the_trend(spark, months):
    assessment = load_assessment()
    departments = spark.createDataFrame([("a", "甲局", "A"), ("b", "乙局", "B"), ("c", "丙局", "C")],
                                        "department string, department_name string, department_name_en string")
    columns = ("month date, department string, delivery_value double, timeliness_value double, "
               "quality_value double, corrections_value double, use_value long")
    values = spark.createDataFrame([
        (MARCH, "a", 1.0, 0.5, 90.0, None, 100),   # no correction in play: full marks
        (MARCH, "b", 1.0, 0.5, 90.0, 3.0, 25),     # 3 days: full marks; 25 queries: half
        (MARCH, "c", 0.0, None, None, None, 0),    # delivered nothing: no checks, no quality, no corrections
        (APRIL, "a", 0.5, 0.5, 90.0, 16.5, 50),
        (APRIL, "b", 1.0, 1.0, 100.0, None, 60),
        (APRIL, "c", 1.0, 1.0, 100.0, 0.0, 200),
    ], columns)
    # the counts behind the values are the other transforms' business: null here
    counts = [field for field in scoring.SCHEMA.fields
              if field.name not in values.columns and field.name not in ("department_name", "department_name_en")
              and not field.name.endswith("_score") and field.name not in (
                  "rank", "departments", "total_change", "rank_change", "assessed_to", "notes")]
    values = values.select("*", *[F.lit(None).cast(field.dataType).alias(field.name) for field in counts])
    frame = scoring.scored(scoring.indicator_values(departments, months, values), assessment, ["a note"])
    assert frame.columns == scoring.SCHEMA.names
    rows = {(r.month, r.department): r for r in frame.collect()}

    a, b, c = (rows[(MARCH, code)] for code in "abc")
    assert (a.delivery_score, a.timeliness_score, a.quality_score, a.corrections_score, a.use_score) == (
        100, 50, 90, 100, 100)
    assert a.total_score == 0.25 * 100 + 0.25 * 50 + 0.2 * 90 + 0.1 * 100 + 0.2 * 100 == 85.5
    assert (b.corrections_score, b.use_score, b.total_score) == (100, 50, 75.5)
    assert (c.delivery_score, c.timeliness_score, c.quality_score, c.corrections_score, c.use_score,
            c.total_score) == (0, 0, 0, 0, 0, 0)
    assert [(r.rank, r.departments, r.total_change, r.rank_change) for r in (a, b, c)] == [
        (1, 3, None, None), (2, 3, None, None), (3, 3, None, None)]
    assert a.notes == ["a note"] and a.department_name == "甲局" and a.assessed_to == city_time(datetime(2026, 4, 1))

    a, b, c = (rows[(APRIL, code)] for code in "abc")
    assert a.corrections_score == 50  # halfway between 3 and 30 days
    assert b.total_score == c.total_score == 100
    # b and c tie for first; a is third, not second
    assert [(r.rank, r.total_change, r.rank_change) for r in (a, b, c)] == [
        (3, round(a.total_score - 85.5, 2), -2), (1, 24.5, 1), (1, 100.0, 2)]
