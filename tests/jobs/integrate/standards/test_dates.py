"""Dates, timestamps and tax periods from the layouts departments deliver."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F

from jobs.integrate.standards import standardize

pytestmark = pytest.mark.spark

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH_5 = date(2019, 3, 5)


def test_dates_in_every_layout(verdicts):
    repaired = (MARCH_5, None, True)
    assert verdicts("date", [
        "2019-03-05", "2020-02-29",
        "2019/3/5", "20190305", "2019年3月5日", "2019.3.5", "2019-3-5", " 2019-03-05 ", "２０１９年３月５日",
        "2019 年 3 月 5 日", "2019/03/05 08:00", "2019-03-05 10:11:12", "2019-03-05T10:11:12+08:00",
        "2019年3月5日10时11分",
    ]) == {
        "2019-03-05": (MARCH_5, None, False), "2020-02-29": (date(2020, 2, 29), None, False),
        "2019/3/5": repaired, "20190305": repaired, "2019年3月5日": repaired, "2019.3.5": repaired,
        "2019-3-5": repaired, " 2019-03-05 ": repaired, "２０１９年３月５日": repaired, "2019 年 3 月 5 日": repaired,
        # exports of datetime columns: the date is kept, the time of day dropped
        "2019/03/05 08:00": repaired, "2019-03-05 10:11:12": repaired, "2019-03-05T10:11:12+08:00": repaired,
        "2019年3月5日10时11分": repaired,
    }


def test_dates_that_are_no_dates(verdicts):
    assert verdicts("date", [
        None, "", " ", "2019-02-30", "2019-13-01", "20190230", "2019年2月29日", "abc", "2019-03", "05/03/2019",
        "43529", "2019-03-05x", "0019-03-05", "1799-12-31",
    ]) == {
        None: (None, "missing", False), "": (None, "missing", False), " ": (None, "missing", False),
        "2019-02-30": (None, "invalid_date", False), "2019-13-01": (None, "invalid_date", False),
        "20190230": (None, "invalid_date", False), "2019年2月29日": (None, "invalid_date", False),
        "abc": (None, "unparseable_date", False), "2019-03": (None, "unparseable_date", False),
        "05/03/2019": (None, "unparseable_date", False), "43529": (None, "unparseable_date", False),
        "2019-03-05x": (None, "unparseable_date", False),
        "0019-03-05": (None, "out_of_range", False), "1799-12-31": (None, "out_of_range", False),
    }


def instant(*parts: int, zone=SHANGHAI) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()


@pytest.fixture(scope="module")
def timestamps(spark):
    """timestamps(values): value -> (seconds since the epoch, error, repaired), whatever the
    session's time zone."""

    def run(values: list[str | None]) -> dict:
        frame = spark.createDataFrame([(v,) for v in values], "delivered string")
        result = standardize("timestamp", F.col("delivered"))
        rows = frame.select("delivered", result["value"].cast("double").alias("seconds"), result["error"].alias("error"),
                            result["repaired"].alias("repaired")).collect()
        return {row.delivered: (row.seconds, row.error, row.repaired) for row in rows}

    return run


def test_timestamps_in_every_layout(timestamps):
    at = instant(2024, 1, 2, 3, 4, 5)
    assert timestamps([
        "2024-01-02 03:04:05", "2024-01-02T03:04:05+08:00", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5-05:00",
        "2024-01-02 03:04:05.123456",
        "2024/1/2 3:4:5", "20240102030405", "2024-01-02T03:04:05", "2024年1月2日3时4分5秒", "2024-01-02T03:04:05+0800",
        " 2024-01-02 03:04:05 ", "２０２４-０１-０２ ０３:０４:０５", "2024年1月2日 3时4分", "20240102", "2024-01-02",
        "2024/1/2 3:04 Z",
    ]) == {
        "2024-01-02 03:04:05": (at, None, False),
        "2024-01-02T03:04:05+08:00": (at, None, False),
        "2024-01-02T03:04:05Z": (instant(2024, 1, 2, 3, 4, 5, zone=ZoneInfo("UTC")), None, False),
        "2024-01-02T03:04:05.5-05:00": (instant(2024, 1, 2, 3, 4, 5, zone=ZoneInfo("America/New_York")) + 0.5, None,
                                        False),
        "2024-01-02 03:04:05.123456": (at + 0.123456, None, False),
        "2024/1/2 3:4:5": (at, None, True),
        "20240102030405": (at, None, True),
        "2024-01-02T03:04:05": (at, None, True),       # no offset: the city's local time
        "2024年1月2日3时4分5秒": (at, None, True),
        "2024-01-02T03:04:05+0800": (at, None, True),
        " 2024-01-02 03:04:05 ": (at, None, True),
        "２０２４-０１-０２ ０３:０４:０５": (at, None, True),
        "2024年1月2日 3时4分": (at - 5, None, True),     # no seconds
        "20240102": (instant(2024, 1, 2), None, True),  # a date alone: its midnight
        "2024-01-02": (instant(2024, 1, 2), None, True),
        "2024/1/2 3:04 Z": (instant(2024, 1, 2, 3, 4, zone=ZoneInfo("UTC")), None, True),
    }


def test_timestamps_that_are_no_timestamps(timestamps):
    assert timestamps([None, "", "2024-01-02 25:00:00", "2024-02-30 00:00:00", "yesterday", "2024-01-02 03:04:05 PM",
                       "1024-01-02 00:00:00"]) == {
        None: (None, "missing", False), "": (None, "missing", False),
        "2024-01-02 25:00:00": (None, "invalid_date", False), "2024-02-30 00:00:00": (None, "invalid_date", False),
        "yesterday": (None, "unparseable_date", False), "2024-01-02 03:04:05 PM": (None, "unparseable_date", False),
        "1024-01-02 00:00:00": (None, "out_of_range", False),
    }


def test_timestamps_do_not_depend_on_the_session_time_zone(spark, timestamps):
    zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
        assert timestamps(["2024-01-02 03:04:05", "2024/1/2 3:4:5"]) == {
            "2024-01-02 03:04:05": (instant(2024, 1, 2, 3, 4, 5), None, False),
            "2024/1/2 3:4:5": (instant(2024, 1, 2, 3, 4, 5), None, True),
        }
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)


def test_tax_periods(verdicts):
    assert verdicts("tax_period", [
        "201903", "2019-03", "2019/3", "2019年3月", "2019.3", " 201903", "２０１９０３",
        None, "201913", "201900", "2019", "abc", "179912",
    ]) == {
        "201903": ("201903", None, False), "2019-03": ("201903", None, True), "2019/3": ("201903", None, True),
        "2019年3月": ("201903", None, True), "2019.3": ("201903", None, True), " 201903": ("201903", None, True),
        "２０１９０３": ("201903", None, True),
        None: (None, "missing", False), "201913": (None, "invalid_date", False), "201900": (None, "invalid_date", False),
        "2019": (None, "unparseable_date", False), "abc": (None, "unparseable_date", False),
        "179912": (None, "out_of_range", False),
    }
