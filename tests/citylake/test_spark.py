"""The Spark session every job gets: the profile's settings and a quiet log."""

import pytest

from citylake.spark import QUIET_LOGGERS


@pytest.mark.spark
def test_the_sessions_noisy_loggers_are_quietened(spark):
    log4j = spark._jvm.org.apache.logging.log4j
    for logger, level in QUIET_LOGGERS.items():
        assert log4j.LogManager.getLogger(logger).getLevel().toString() == level
