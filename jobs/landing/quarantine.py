"""`lake.ops.quarantine`: rows set aside with the rule they broke and why, for the department to correct.

Two stages put rows here: landing (rows that cannot be parsed: `row_text` holds the line as
delivered) and integration (rows breaking a quality rule whose action is `quarantine` or
`reject`, in applied and rejected batches alike: `row_values` holds the delivered values by the
department's own column names, so the row can be sent back in a correction package). A rerun of a
stage replaces the rows it wrote for a batch.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from jobs.landing.manifest import Manifest, now
from jobs.landing.readers import BadRow

QUARANTINE = "ops.quarantine"
UNPARSEABLE = "unparseable_row"
LANDING, INTEGRATION = "landing", "integration"

QUARANTINE_SCHEMA = T.StructType([
    T.StructField("department", T.StringType()),
    T.StructField("resource", T.StringType()),
    T.StructField("batch_id", T.StringType()),
    T.StructField("sequence", T.LongType()),
    T.StructField("file", T.StringType()),
    T.StructField("record", T.LongType()),
    T.StructField("rule", T.StringType()),           # unparseable_row, missing_required, invalid_check_digit, ...
    T.StructField("reason", T.StringType()),
    T.StructField("row_text", T.StringType()),       # landing: the row as delivered
    T.StructField("quarantined_at", T.TimestampType()),
    T.StructField("stage", T.StringType()),          # landing | integration
    T.StructField("check", T.StringType()),          # the rule as measured: validity:GMSFHM, uniqueness, ...
    T.StructField("column_name", T.StringType()),    # the department's column that broke it
    T.StructField("delivered_value", T.StringType()),
    T.StructField("key", T.StringType()),            # the row's key as delivered, parts joined by '|'
    T.StructField("row_values", T.MapType(T.StringType(), T.StringType())),
])
COLUMNS = [field.name for field in QUARANTINE_SCHEMA.fields]


def quarantine_unparseable(spark: SparkSession, manifest: Manifest, bad_rows: list[tuple[str, BadRow]]) -> None:
    """Write the batch's unparseable rows, replacing any this batch wrote in an interrupted run."""
    if not bad_rows:
        return
    at = now()
    rows = [(manifest.department, manifest.resource, manifest.batch_id, manifest.sequence, file, row.record,
             UNPARSEABLE, row.reason, row.text, at, LANDING, UNPARSEABLE, None, None, None, None)
            for file, row in bad_rows]
    replace_batch_rows(spark, spark.createDataFrame(rows, QUARANTINE_SCHEMA), manifest.department,
                       manifest.resource, [manifest.batch_id], LANDING)


def replace_batch_rows(spark: SparkSession, rows: DataFrame, department: str, resource: str,
                       batch_ids: list[str], stage: str) -> None:
    """Replace what `stage` quarantined for these batches with `rows` (columns of QUARANTINE_SCHEMA)."""
    rows = rows.select(*[F.col(field.name).cast(field.dataType) for field in QUARANTINE_SCHEMA.fields])
    if not lake.table_exists(spark, QUARANTINE):
        lake.create_table_if_missing(spark, QUARANTINE, QUARANTINE_SCHEMA)
    else:
        _add_missing_columns(spark)
        same_batches = ((F.col("department") == department) & (F.col("resource") == resource)
                        & F.col("batch_id").isin(batch_ids) & (F.coalesce(F.col("stage"), F.lit(LANDING)) == stage))
        lake.delta_table(spark, QUARANTINE).delete(same_batches)
    lake.write_table(rows, QUARANTINE, "append")


def _add_missing_columns(spark: SparkSession) -> None:
    """A quarantine table written before integration existed gains the integration's columns."""
    existing = set(lake.read_table(spark, QUARANTINE).columns)
    missing = [field for field in QUARANTINE_SCHEMA.fields if field.name not in existing]
    if missing:
        columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in missing)
        spark.sql(f"ALTER TABLE delta.`{lake.table_uri(QUARANTINE)}` ADD COLUMNS ({columns})")
