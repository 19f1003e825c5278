"""The exchange ledger: `lake.ops.exchange_send` (one row per package sent: report, back-flow or
open data, with the receipt once the receiver answers) and `lake.ops.exchange_receipt` (one row per
receipt file read, recorded or refused with the reason)."""

from __future__ import annotations

from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from jobs.exchange.package import Written

SENDS = "ops.exchange_send"
RECEIPTS = "ops.exchange_receipt"
SENT, ACCEPTED, REJECTED = "sent", "accepted", "rejected"
RECORDED, REFUSED = "recorded", "refused"

SEND = T.StructType([
    T.StructField("package_id", T.StringType()),
    T.StructField("kind", T.StringType()),
    T.StructField("target", T.StringType()),
    T.StructField("resource", T.StringType()),
    T.StructField("tables", T.ArrayType(T.StringType())),
    T.StructField("rows", T.LongType()),
    T.StructField("files", T.IntegerType()),
    T.StructField("checksum", T.StringType()),
    T.StructField("path", T.StringType()),
    T.StructField("resend", T.BooleanType()),
    T.StructField("sent_at", T.TimestampType()),
    T.StructField("status", T.StringType()),
    T.StructField("receipt", T.StringType()),
    T.StructField("receipt_at", T.TimestampType()),
])
RECEIPT = T.StructType([
    T.StructField("receipt_file", T.StringType()),
    T.StructField("sha256", T.StringType()),
    T.StructField("package_id", T.StringType()),
    T.StructField("outcome", T.StringType()),
    T.StructField("accepted", T.BooleanType()),
    T.StructField("rows", T.LongType()),
    T.StructField("message", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("read_at", T.TimestampType()),
])


def sends(spark: SparkSession, package_id: str | None = None) -> list[dict]:
    """The sends recorded (of one package), oldest first; none before the first send."""
    if not lake.table_exists(spark, SENDS):
        return []
    frame = lake.read_table(spark, SENDS)
    if package_id is not None:
        frame = frame.where(F.col("package_id") == package_id)
    return [row.asDict() for row in frame.orderBy("sent_at").collect()]


def last_send(spark: SparkSession, kind: str, target: str, tables: list[str]) -> dict | None:
    """The latest send of this kind to this target made from exactly these table versions."""
    if not lake.table_exists(spark, SENDS):
        return None
    wanted = sorted(tables)
    rows = (lake.read_table(spark, SENDS)
            .where((F.col("kind") == kind) & (F.col("target") == target))
            .where(F.array_sort("tables") == F.array(*[F.lit(t) for t in wanted]))
            .orderBy(F.col("sent_at").desc()).limit(1).collect())
    return rows[0].asDict() if rows else None


def record_send(spark: SparkSession, written: Written, kind: str, target: str, resource: str,
                resend: bool = False) -> dict:
    """One row in ops.exchange_send for a package just sent; the row."""
    row = {"package_id": written.package_id, "kind": kind, "target": target, "resource": resource,
           "tables": sorted(f"{t['table']}@{t['version']}" for t in written.manifest["tables"]),
           "rows": written.rows, "files": sum(len(t["files"]) for t in written.manifest["tables"]),
           "checksum": written.checksum, "path": str(written.folder), "resend": resend,
           "sent_at": datetime.now(timezone.utc), "status": SENT, "receipt": None, "receipt_at": None}
    lake.write_table(spark.createDataFrame([row], SEND), SENDS, "append")
    return row


def receipt_seen(spark: SparkSession, sha256: str) -> bool:
    """Whether a receipt file of this content was read before (recorded or refused)."""
    if not lake.table_exists(spark, RECEIPTS):
        return False
    return lake.read_table(spark, RECEIPTS).where(F.col("sha256") == sha256).limit(1).count() > 0


def record_receipt(spark: SparkSession, row: dict, receipt_text: str | None = None) -> None:
    """One row in ops.exchange_receipt; a recorded receipt (its JSON `receipt_text`) also answers
    its package's sends still waiting for one."""
    lake.write_table(spark.createDataFrame([row], RECEIPT), RECEIPTS, "append")
    if row["outcome"] == RECORDED:
        lake.delta_table(spark, SENDS).update(
            (F.col("package_id") == row["package_id"]) & (F.col("status") == SENT),
            {"status": F.lit(ACCEPTED if row["accepted"] else REJECTED), "receipt": F.lit(receipt_text),
             "receipt_at": F.lit(row["read_at"])})
