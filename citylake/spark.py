"""The one place a Spark session is built: master, memory, Delta and the lake's table defaults
all come from the profile and `conf/lake.yml`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from citylake.child_output import child_output_to
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


# What the JVM prints itself (Ivy's package resolution, log4j's console warnings) goes here.
JVM_LOG = Path("log") / "spark.log"


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
        # Python workers must be this interpreter, with the project's packages: Spark's default is
        # whatever `python3` comes first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_conf(profile).items():
        builder = builder.config(key, value)
    with child_output_to(jvm_log(profile)):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel(profile.spark.log_level)
    _quiet(session)
    return session


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
