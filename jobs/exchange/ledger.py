"""The exchange ledger: `lake.ops.exchange_send` (one row per package sent: report, back-flow or
open data, with the receipt once the receiver answers) and `lake.ops.exchange_receipt` (one row per
receipt file read, recorded or refused with the reason)."""

from __future__ import annotations

from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.ops_tables import EXCHANGE_RECEIPT, EXCHANGE_SEND
from jobs.exchange.package import Written

SENDS, SEND = EXCHANGE_SEND.name, EXCHANGE_SEND.schema
RECEIPTS, RECEIPT = EXCHANGE_RECEIPT.name, EXCHANGE_RECEIPT.schema
SENT, ACCEPTED, REJECTED = "sent", "accepted", "rejected"
RECORDED, REFUSED = "recorded", "refused"


def sends(spark: SparkSession, package_id: str | None = None) -> list[dict]:
    """The sends recorded (of one package), oldest first; none before the first send."""
    if not lake.table_exists(spark, SENDS):
        return []
    frame = lake.read_table(spark, SENDS)
    if package_id is not None:
        frame = frame.where(F.col("package_id") == package_id)
    return [row.asDict() for row in frame.orderBy("sent_at").collect()]


def last_send(spark: SparkSession, kind: str, target: str, tables: list[str],
              recorded: list[dict] | None = None) -> dict | None:
    """The latest send of this kind to this target made from exactly these table versions."""
    matching = [row for row in (sends(spark) if recorded is None else recorded)
                if row["kind"] == kind and row["target"] == target and sorted(row["tables"]) == sorted(tables)]
    return matching[-1] if matching else None


def record_send(spark: SparkSession, written: Written, kind: str, target: str, resource: str,
                resend: bool = False) -> dict:
    """One row in ops.exchange_send for a package just sent; the row."""
    row = {"package_id": written.package_id, "kind": kind, "target": target, "resource": resource,
           "tables": sorted(f"{t['table']}@{t['version']}" for t in written.manifest["tables"]),
           "rows": written.rows, "files": sum(len(t["files"]) for t in written.manifest["tables"]),
           "checksum": written.checksum, "path": str(written.folder), "resend": resend,
           "sent_at": datetime.now(timezone.utc), "status": SENT, "receipt": None, "receipt_at": None}
    EXCHANGE_SEND.write(spark, [row])
    return row


def receipts_seen(spark: SparkSession) -> set[str]:
    """The sha256 of every receipt file read before (recorded or refused)."""
    if not lake.table_exists(spark, RECEIPTS):
        return set()
    return {row[0] for row in lake.read_table(spark, RECEIPTS).select("sha256").collect()}


def record_receipts(spark: SparkSession, rows: list[dict], receipts: dict[str, str]) -> None:
    """The receipt files read, in ops.exchange_receipt (one commit); each recorded one (its JSON in
    `receipts`, by file name) also answers its package's sends still waiting for one."""
    if not rows:
        return
    EXCHANGE_RECEIPT.write(spark, rows)
    for row in rows:
        if row["outcome"] == RECORDED:
            lake.delta_table(spark, SENDS).update(
                (F.col("package_id") == row["package_id"]) & (F.col("status") == SENT),
                {"status": F.lit(ACCEPTED if row["accepted"] else REJECTED),
                 "receipt": F.lit(receipts[row["receipt_file"]]), "receipt_at": F.lit(row["read_at"])})
