"""The run ledger `lake.ops.job_run`: one row per step attempt as it starts and as it ends, and
one row per run as it ends (`step` = '(run)'); the latest row of an attempt is its state."""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from datetime import date, datetime

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from citylake import lake
from citylake.ops_tables import JOB_RUN as JOB_RUN_TABLE

JOB_RUN, SCHEMA = JOB_RUN_TABLE.name, JOB_RUN_TABLE.schema
RUN = "(run)"  # the step name of a run's own row
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


@dataclass(frozen=True)
class Attempt:
    run_id: str
    run_date: date
    step: str
    attempt: int
    started_at: datetime
    ended_at: datetime | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    outcome: str = RUNNING
    error: str | None = None
    detail: str | None = None


def record(spark: SparkSession, attempt: Attempt) -> None:
    """Append the attempt's state as one commit."""
    row = asdict(attempt) | {"host": socket.gethostname(), "pid": os.getpid(), "recorded_at": datetime.now()}
    JOB_RUN_TABLE.create_if_missing(spark)
    JOB_RUN_TABLE.write(spark, [row])


def latest_states(spark: SparkSession, run_id: str | None = None) -> list[Attempt]:
    """Every attempt's latest state (of one run, or of all), in the order they started."""
    if not lake.table_exists(spark, JOB_RUN):
        return []
    rows = lake.read_table(spark, JOB_RUN)
    if run_id is not None:
        rows = rows.where(F.col("run_id") == run_id)
    newest = Window.partitionBy("run_id", "step", "attempt").orderBy(F.col("recorded_at").desc())
    latest = (rows.withColumn("_n", F.row_number().over(newest)).where("_n = 1")
              .orderBy("started_at", "recorded_at").drop("_n", "host", "pid", "recorded_at"))
    return [Attempt(**row.asDict()) for row in latest.collect()]


def runs_of_day(spark: SparkSession, run_date: date) -> int:
    """How many runs the ledger has for a business day."""
    if not lake.table_exists(spark, JOB_RUN):
        return 0
    return lake.read_table(spark, JOB_RUN).where(F.col("run_date") == run_date).select("run_id").distinct().count()
