"""The assessment job on real Delta tables: a lake of its own (not the shared scratch lake, whose
ops tables other tests read) with a few hand-written ledger, quality, correction and audit rows."""

import shutil
from datetime import date

import pytest

from citylake import lake
from citylake.catalog import load_catalog
from jobs.assess.job import ASSESSMENT, LEDGER, QUERY_AUDIT, MonthNotAssessable, NothingToAssess, assess
from jobs.run.steps import STEPS, StepContext
from tests.jobs.assess.frames import own_lake_profile, write_ops_rows

pytestmark = pytest.mark.spark
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture(scope="module")
def own_lake(settings, tmp_path_factory):
    return own_lake_profile(settings, tmp_path_factory.mktemp("assess-lake"))


@pytest.fixture(scope="module")
def ops_rows(spark, own_lake):
    return write_ops_rows(spark, own_lake)


@pytest.fixture(scope="module")
def assessed(spark, own_lake, ops_rows):
    return assess(spark, profile=own_lake)


def test_every_department_is_scored_per_month_from_the_lakes_ops_tables(spark, own_lake, assessed):
    catalog = load_catalog()
    done = assessed
    assert (done.rows, done.months, done.notes, done.up_to_date) == (2 * len(catalog.departments),
                                                                     ["2026-03", "2026-04"], [], False)
    rows = {(r.month, r.department): r for r in lake.read_table(spark, ASSESSMENT, own_lake).collect()}
    psb, amr, tax, hrss, grid = (rows[(MARCH, code)] for code in ("psb", "amr", "tax", "hrss", "grid"))

    assert (psb.department_name, psb.department_name_en) == ("公安局", "Public Security Bureau")
    assert (psb.resources_catalogued, psb.resources_delivered, psb.delivery_score) == (2, 1, 50.0)
    # nothing delivered earns nothing, not even full marks for corrections it had no chance to need
    assert (tax.resources_delivered, tax.delivery_score, tax.timeliness_score, tax.quality_score,
            tax.corrections_score, tax.use_score, tax.total_score) == (0, 0, 0, 0, 0, 0, 0)
    # the month's quality weighs each day's score by its rows (+1), as the daily score weighs resources
    assert psb.quality_value == pytest.approx((90 * 10 + 70 * 30) / 40) and amr.quality_value == 80
    assert (psb.corrections_in_play, psb.corrections_open, psb.corrections_value, psb.corrections_score) == (
        1, 0, 1.0, 100.0)
    # hrss's read of the population library counts for the departments fused into it, not for hrss;
    # psb's read of its own resource counts for nobody; a refused read counts for nobody
    assert (psb.use_value, psb.use_consumers, grid.use_value, hrss.use_value) == (1, 1, 1, 0)
    assert rows[(APRIL, "psb")].use_value == 0
    # timeliness: psb's household registrations on time at the end of March 30th and 31st (of 2 days x 2
    # resources); residence permits never delivered
    assert (psb.timeliness_checks, psb.timeliness_on_time) == (4, 2)

    for month in (MARCH, APRIL):
        ranked = sorted((r for (m, _), r in rows.items() if m == month), key=lambda r: r.rank)
        totals = [r.total_score for r in ranked]
        assert totals == sorted(totals, reverse=True) and ranked[0].rank == 1
        assert all(r.departments == len(catalog.departments) for r in ranked)
    assert rows[(APRIL, "psb")].total_change == pytest.approx(rows[(APRIL, "psb")].total_score - psb.total_score)
    assert done.ranking[0][0] == 1 and len(done.ranking) == len(catalog.departments)

    assert assess(spark, profile=own_lake).up_to_date


def test_the_daily_runs_step_runs_after_the_audit_and_says_what_it_did(spark, own_lake, assessed):
    step = STEPS["assess"]
    assert step.needs == ("integrate", "audit")
    result = step.do(StepContext(spark, own_lake, ()))  # the same inputs as `assessed`: nothing to do
    assert (result.rows_out, result.detail) == (0, "2 months, up to date")


def test_one_month_replaces_its_own_rows_only_and_a_month_without_deliveries_is_refused(spark, own_lake, assessed):
    done = assess(spark, month=date(2026, 3, 15), profile=own_lake, force=True)
    assert (done.months, done.rows) == (["2026-03"], len(load_catalog().departments))
    assert lake.read_table(spark, ASSESSMENT, own_lake).count() == 2 * done.rows
    with pytest.raises(MonthNotAssessable, match="2026-05 is not a month the lake has deliveries for "
                                                 r"\(2026-03 to 2026-04\)"):
        assess(spark, month=date(2026, 5, 1), profile=own_lake)


def test_a_missing_audit_counts_no_use_and_says_so_and_nothing_landed_is_refused(spark, own_lake, ops_rows):
    warehouse = own_lake.path("warehouse")
    shutil.rmtree(warehouse / "ops" / "query_audit")
    try:
        done = assess(spark, profile=own_lake)
        assert done.notes == ["尚无查询审计 no query audit yet (lake.ops.query_audit): use counted 0"]
        written = lake.read_table(spark, ASSESSMENT, own_lake).collect()
        assert {r.use_value for r in written} == {0} and all(r.notes == done.notes for r in written)

        shutil.rmtree(warehouse / "ops" / "batch_ledger")
        with pytest.raises(NothingToAssess, match="nothing has been landed yet"):
            assess(spark, profile=own_lake)
    finally:
        for name in (QUERY_AUDIT, LEDGER):
            lake.write_table(ops_rows[name], name, "overwrite", own_lake)
