"""`lake.ops.quarantine`: rows set aside with the rule they broke and why, for the department to correct."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from jobs.landing.manifest import Manifest, now
from jobs.landing.readers import BadRow

QUARANTINE = "ops.quarantine"
UNPARSEABLE = "unparseable_row"

QUARANTINE_SCHEMA = T.StructType([
    T.StructField("department", T.StringType()),
    T.StructField("resource", T.StringType()),
    T.StructField("batch_id", T.StringType()),
    T.StructField("sequence", T.LongType()),
    T.StructField("file", T.StringType()),
    T.StructField("record", T.LongType()),
    T.StructField("rule", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("row_text", T.StringType()),
    T.StructField("quarantined_at", T.TimestampType()),
])


def quarantine_unparseable(spark: SparkSession, manifest: Manifest, bad_rows: list[tuple[str, BadRow]]) -> None:
    """Write the batch's unparseable rows, replacing any this batch wrote in an interrupted run."""
    if not bad_rows:
        return
    at = now()
    rows = [(manifest.department, manifest.resource, manifest.batch_id, manifest.sequence, file, row.record,
             UNPARSEABLE, row.reason, row.text, at) for file, row in bad_rows]
    frame = spark.createDataFrame(rows, QUARANTINE_SCHEMA)
    if not lake.table_exists(spark, QUARANTINE):
        lake.write_table(frame, QUARANTINE, "append")
        return
    same_batch = (F.col("department") == manifest.department) & (F.col("resource") == manifest.resource) \
        & (F.col("batch_id") == manifest.batch_id) & (F.col("rule") == UNPARSEABLE)
    lake.delta_table(spark, QUARANTINE).delete(same_batch)
    lake.write_table(frame, QUARANTINE, "append")
