"""The Spark session every job gets: the profile's settings and a quiet log."""

import pytest

from citylake.spark import QUIET_LOGGERS


@pytest.mark.spark
def test_the_sessions_noisy_loggers_are_quietened(spark):
    log4j = spark._jvm.org.apache.logging.log4j
    for logger, level in QUIET_LOGGERS.items():
        assert log4j.LogManager.getLogger(logger).getLevel().toString() == level


_START_A_SESSION = """
import sys
from citylake import spark
from citylake.child_output import show_child_output
if sys.argv[1] == "shown":
    show_child_output()
session = spark.spark_session()
session.sparkContext._jvm.java.lang.System.err.println("a line the JVM printed")
print("rows", session.range(3).count(), flush=True)
"""


@pytest.mark.spark
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_the_jvm_prints_to_a_log_file_unless_asked_to_show_it(settings, tmp_path, verbose):
    """Package resolution, log4j's warnings and anything else the JVM prints go to var/log/spark.log,
    not the terminal of a command; `citylake -v` shows them."""
    import os
    import subprocess
    import sys

    from citylake.spark import jvm_log

    var = tmp_path / "var"
    environ = {**os.environ, "CITYLAKE__PATHS__VAR": str(var)}
    result = subprocess.run([sys.executable, "-c", _START_A_SESSION, "shown" if verbose else "quiet"],
                            capture_output=True, text=True, env=environ, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["rows 3"]
    log = var / jvm_log(settings).relative_to(settings.path("var"))
    if verbose:
        assert ":: resolution report ::" in result.stderr and "a line the JVM printed" in result.stderr
        assert not log.exists()
    else:
        assert result.stderr == ""
        assert ":: resolution report ::" in log.read_text() and "a line the JVM printed" in log.read_text()
