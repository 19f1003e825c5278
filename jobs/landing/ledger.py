"""`lake.ops.batch_ledger`: one row per package seen, with its outcome, counts, reason and timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake

LEDGER = "ops.batch_ledger"

LEDGER_SCHEMA = T.StructType([
    T.StructField("department", T.StringType()),
    T.StructField("resource", T.StringType()),
    T.StructField("batch_id", T.StringType()),
    T.StructField("sequence", T.LongType()),
    T.StructField("mode", T.StringType()),
    T.StructField("extracted_at", T.TimestampType()),
    T.StructField("status", T.StringType()),          # landed | replay | rejected | held | released
    T.StructField("reason", T.StringType()),
    T.StructField("content_sha256", T.StringType()),
    T.StructField("rows_read", T.LongType()),
    T.StructField("rows_landed", T.LongType()),
    T.StructField("rows_quarantined", T.LongType()),
    T.StructField("drift_columns", T.ArrayType(T.StringType())),
    T.StructField("package_path", T.StringType()),
    T.StructField("started_at", T.TimestampType()),
    T.StructField("finished_at", T.TimestampType()),
    T.StructField("duration_s", T.DoubleType()),
])


@dataclass
class LedgerEntry:
    department: str
    resource: str
    batch_id: str | None
    sequence: int | None
    mode: str | None
    extracted_at: datetime | None
    status: str
    reason: str | None
    content_sha256: str | None
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    package_path: str
    started_at: datetime
    finished_at: datetime
    drift_columns: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def as_row(self) -> dict:
        return asdict(self) | {"duration_s": self.duration_s}


def record(spark: SparkSession, entry: LedgerEntry) -> None:
    """Append one package's outcome to the ledger."""
    frame = spark.createDataFrame([entry.as_row()], LEDGER_SCHEMA)
    lake.write_table(frame, LEDGER, "append")


def landed_batches(spark: SparkSession, department: str, resource: str) -> dict[str, tuple[int, str]]:
    """batch_id -> (sequence, content hash) of every batch of the resource that landed."""
    if not lake.table_exists(spark, LEDGER):
        return {}
    rows = (lake.read_table(spark, LEDGER)
            .where((F.col("department") == department) & (F.col("resource") == resource)
                   & (F.col("status") == "landed"))
            .select("batch_id", "sequence", "content_sha256").collect())
    return {row.batch_id: (row.sequence, row.content_sha256) for row in rows}
