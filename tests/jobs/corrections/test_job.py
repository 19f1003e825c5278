"""`ops.corrections` on real Delta tables: how open corrections age."""

from datetime import datetime

import pytest
from pyspark.sql import functions as F

from citylake import lake
from jobs.corrections.job import CORRECTIONS, open_corrections, refresh_ages
from jobs.landing.quarantine import QUARANTINE_SCHEMA

pytestmark = pytest.mark.spark

DEPARTMENT = "corrections_test"
# hours that fall on the same day in UTC and in the city's zone (UTC+8), whatever this process's zone
OPENED = datetime(2026, 1, 1, 1)


@pytest.fixture(autouse=True)
def without_test_rows(spark):
    """Leave no correction of the made-up department in the shared lake: the data-quality
    dashboard's tests read every department's corrections later in the same session."""
    yield
    if lake.table_exists(spark, CORRECTIONS):
        lake.delta_table(spark, CORRECTIONS).delete(F.col("department") == DEPARTMENT)


def quarantined(spark, records: list[int]):
    rows = [(DEPARTMENT, "resource", "b1", 1, "a.csv", record, "missing_required", "XM has no value", None, None,
             "integration", "completeness:XM", "XM", None, f"K{record}", {"XM": None}) for record in records]
    return spark.createDataFrame(rows, QUARANTINE_SCHEMA).withColumn("key_std", F.col("key"))


def ages(spark) -> dict[int, int]:
    return {row.record: row.age_days for row in lake.read_table(spark, CORRECTIONS).where(
        F.col("department") == DEPARTMENT).collect()}


def latest_version(spark) -> int:
    return lake.delta_table(spark, CORRECTIONS).history(1).first().version


def test_an_open_correction_ages_once_a_day_and_a_rerun_the_same_day_commits_nothing(spark):
    if lake.table_exists(spark, CORRECTIONS):
        lake.delta_table(spark, CORRECTIONS).delete(F.col("department") == DEPARTMENT)
    open_corrections(spark, quarantined(spark, [1, 2]), F.lit(OPENED).cast("timestamp"))

    refresh_ages(spark, datetime(2026, 1, 5, 1))
    assert ages(spark) == {1: 4, 2: 4}
    aged = latest_version(spark)
    refresh_ages(spark, datetime(2026, 1, 5, 10))                     # later the same day
    assert latest_version(spark) == aged
    refresh_ages(spark, datetime(2026, 1, 6, 1))                      # a day later
    assert latest_version(spark) == aged + 1 and ages(spark) == {1: 5, 2: 5}
