"""The one place a Spark session is built: master, memory, Delta and the lake's table defaults
all come from the profile and `conf/lake.yml`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from citylake.java import find_jdk
from citylake.settings import Profile, lake_layout, profile as active_profile

DELTA_DEFAULTS_PREFIX = "spark.databricks.delta.properties.defaults."
# Delta logs an ERROR on every scan of a table with deletion vectors ("Failed to translate filter
# EqualTo(__delta_internal_is_row_deleted,0)"): its deleted-rows filter never goes to the Parquet
# reader and is applied after it, as designed. Only its fatal messages are worth a user's eye.
# Delta Kernel (small reads outside Spark) warns on every read of a table younger than its first
# checkpoint that it lists the log from version 0, which is how such a table is read.
QUIET_LOGGERS = {"org.apache.spark.sql.delta.DeltaParquetFileFormat": "FATAL",
                 "io.delta.kernel.internal.snapshot.SnapshotManager": "ERROR"}


# What the JVM prints itself (Ivy's package resolution, log4j's console warnings) goes to this file
# under the profile's var/, not to the terminal; `citylake -v` shows it.
JVM_LOG = Path("log") / "spark.log"
_jvm_output_shown = False


def show_jvm_output(shown: bool = True) -> None:
    """Let the JVM of sessions created from now on print to this process's terminal."""
    global _jvm_output_shown
    _jvm_output_shown = shown


def jvm_log(profile: Profile) -> Path:
    """The file the Spark JVM's own output goes to."""
    return profile.path("var") / JVM_LOG


def spark_conf(profile: Profile) -> dict[str, str]:
    """Every Spark setting the profile implies, including the Delta defaults for new tables."""
    spark = profile.spark
    conf = {
        "spark.master": spark.master,
        "spark.app.name": spark.app_name,
        "spark.driver.memory": spark.driver_memory,
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.jars.packages": ",".join(spark.packages),
        # Spark's package resolution caches the Delta jars in the project, not in ~/.ivy2.
        "spark.jars.ivy": str(profile.path("cache") / "ivy"),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.warehouse.dir": profile.uri("warehouse"),
    }
    # Every table a job creates gets the lake's properties, so Trino and Spark agree on features.
    for key, value in lake_layout().table_properties.items():
        conf[DELTA_DEFAULTS_PREFIX + key.removeprefix("delta.")] = value
    conf.update(spark.conf)
    return conf


def _use_spark_java() -> None:
    # PySpark starts the JVM from JAVA_HOME; make sure that is one Spark 4.2 supports.
    jdk = find_jdk("Spark 4.2", majors=range(17, 22))
    os.environ["JAVA_HOME"] = str(jdk.home)


def spark_session(profile: Profile | None = None) -> SparkSession:
    """The process's Spark session for this profile, created on first call."""
    profile = profile or active_profile()
    if profile.spark.master.startswith("local"):
        _use_spark_java()
        # A local driver serves no remote executor: bind it to loopback (and spare the warning
        # that the host name resolves to one).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in spark_conf(profile).items():
        builder = builder.config(key, value)
    with _jvm_output_to(None if _jvm_output_shown else jvm_log(profile)):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel(profile.spark.log_level)
    _quiet(session)
    return session


@contextmanager
def _jvm_output_to(log: Path | None) -> Iterator[None]:
    """While a session starts, this process's stdout and stderr point at `log`: the JVM it
    launches inherits them and keeps writing there for its whole life."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "ab") as target:
            os.dup2(target.fileno(), 1)
            os.dup2(target.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _quiet(session: SparkSession) -> None:
    log4j = session._jvm.org.apache.logging.log4j
    for logger, level in QUIET_LOGGERS.items():
        log4j.core.config.Configurator.setLevel(logger, log4j.Level.getLevel(level))


@contextmanager
def session_settings(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """The session with these runtime settings for a while, its own back afterwards."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
