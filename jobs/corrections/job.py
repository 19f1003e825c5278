"""Corrections back to departments (纠错): `lake.ops.corrections` tracks every quarantined row
from the moment the lake sets it aside until the department delivers it again in good order, and
`write_packages` returns each department its open corrections, in its own column names, format
and encoding, with the rule and reason for each row.

Every row set aside is tracked, whether its batch was applied or rejected. A correction is closed
by a later applied batch of the same resource that brings the row's key and passes the rules (for
a key with a wrong check character, the key that differs only there). A row that could not be
parsed has no key: a later full extract of its resource, which re-delivers every row, closes it.

`age_days` is how many days a correction stayed open: from `opened_at` (when the quarantined batch
was extracted) to `closed_at` once closed, and to `as_of` while open. An open one's age is
rewritten by each integration run whose day makes it a day older, and only then (with `as_of`, the
time of that run), so a rerun on the same day commits nothing and the stored age is right as of
the day's last run; in Trino, the age to this moment is
`date_diff('day', opened_at, coalesce(closed_at, current_timestamp))`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Resource
from citylake.files import file_digest
from citylake.ops_tables import CORRECTIONS as CORRECTIONS_TABLE

CORRECTIONS, SCHEMA = CORRECTIONS_TABLE.name, CORRECTIONS_TABLE.schema
OPEN, CLOSED = "open", "closed"
# the columns a correction package adds to the department's own
RULE_COLUMN, REASON_COLUMN, BATCH_COLUMN, RECORD_COLUMN, TEXT_COLUMN = "错误规则", "错误原因", "原批次", "原行号", "原始行"


def open_corrections(spark: SparkSession, quarantined: DataFrame, opened_at: Column) -> None:
    """Open a correction per quarantined row (`ops.quarantine` columns and `key_std`, the
    standardized key when valid); a correction already open stays as it is."""
    rows = quarantined.select(
        F.concat_ws("/", "department", "resource", "batch_id", F.coalesce("file", F.lit("")),
                    F.col("record").cast("string")).alias("correction_id"),
        "department", "resource", "batch_id", "sequence", "file", "record", "key", "key_std",
        F.expr("substring(upper(regexp_replace(key, '\\\\s', '')), 1, length(regexp_replace(key, '\\\\s', '')) - 1)")
        .alias("key_body"),
        "rule", "reason", "row_values", "row_text", opened_at.alias("opened_at"), F.lit(OPEN).alias("status"),
        F.lit(None).cast("timestamp").alias("closed_at"), F.lit(None).cast("string").alias("closed_by_batch"),
        F.lit(None).cast("int").alias("age_days"), F.lit(None).cast("timestamp").alias("as_of"),
    )
    CORRECTIONS_TABLE.create_if_missing(spark)
    (lake.delta_table(spark, CORRECTIONS).alias("c")
     .merge(rows.alias("n"), "c.correction_id = n.correction_id")
     .whenNotMatchedInsertAll().execute())
    lake.publish(CORRECTIONS)


def close_corrected(spark: SparkSession, resource: Resource, passed: DataFrame, full_batch: tuple | None) -> None:
    """Close the resource's open corrections that `passed` (key_std, sequence, batch_id,
    extracted_at of rows that passed the rules) corrects; a full extract (sequence, batch id,
    extracted_at) also closes the unparseable rows delivered before it."""
    if not lake.table_exists(spark, CORRECTIONS):
        return
    mine = (F.col("department") == resource.department) & (F.col("resource") == resource.code) \
        & (F.col("status") == OPEN)
    corrections = lake.read_table(spark, CORRECTIONS).where(mine).select(
        "correction_id", "sequence", "key_std", "key_body", "key")
    by_key = corrections.alias("c").join(
        passed.alias("p"),
        (F.col("p.sequence") > F.col("c.sequence"))
        & ((F.col("c.key_std") == F.col("p.key_std"))
           | (F.col("c.key_body") == F.expr("substring(p.key_std, 1, length(p.key_std) - 1)"))))
    closing = by_key.select("c.correction_id", "p.sequence", "p.batch_id", "p.extracted_at")
    if full_batch is not None:
        sequence, batch_id, extracted_at = full_batch
        unparseable = (corrections.where(F.col("key").isNull() & (F.col("sequence") < sequence))
                       .select("correction_id", F.lit(sequence).cast("long").alias("sequence"),
                               F.lit(batch_id).alias("batch_id"),
                               F.lit(extracted_at).cast("timestamp").alias("extracted_at")))
        closing = closing.unionByName(unparseable)
    first = (closing.groupBy("correction_id")
             .agg(F.min_by(F.struct("batch_id", "extracted_at"), "sequence").alias("by")))
    (lake.delta_table(spark, CORRECTIONS).alias("c")
     .merge(first.alias("f"), "c.correction_id = f.correction_id AND c.status = 'open'")
     .whenMatchedUpdate(set={
         "status": F.lit(CLOSED), "closed_at": F.col("f.by.extracted_at"), "closed_by_batch": F.col("f.by.batch_id"),
         "age_days": F.datediff(F.col("f.by.extracted_at"), F.col("c.opened_at")),
     }).execute())


def refresh_ages(spark: SparkSession, as_of: datetime) -> None:
    """Age the open corrections to `as_of`: only those whose age in days it changes, so that aging
    them again the same day commits nothing."""
    if lake.table_exists(spark, CORRECTIONS):
        age = F.datediff(F.lit(as_of).cast("timestamp"), F.col("opened_at"))
        lake.delta_table(spark, CORRECTIONS).update(
            (F.col("status") == OPEN) & ~F.col("age_days").eqNullSafe(age),
            {"age_days": age, "as_of": F.lit(as_of).cast("timestamp")})


# --------------------------------------------------------------------------- packages


def write_packages(spark: SparkSession, catalog: Catalog, out: Path, at: datetime,
                   departments: list[str] | None = None) -> list[Path]:
    """One correction package per department with open corrections:
    `<out>/<department>/<yyyymmddThhmmss>/` with a file per resource and a `manifest.json`."""
    if not lake.table_exists(spark, CORRECTIONS):
        return []
    rows = lake.read_table(spark, CORRECTIONS).where(F.col("status") == OPEN)
    if departments:
        rows = rows.where(F.col("department").isin(departments))
    by_resource: dict[tuple[str, str], list] = {}
    for row in rows.orderBy("department", "resource", "sequence", "file", "record").collect():
        by_resource.setdefault((row.department, row.resource), []).append(row)
    packages: dict[str, Path] = {}
    files: dict[str, list[dict]] = {}
    for (department, code), corrections in by_resource.items():
        resource = catalog.resource(department, code)
        folder = packages.setdefault(department, out / department / at.strftime("%Y%m%dT%H%M%S"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{code}.{resource.format}"
        write_resource_file(path, resource, corrections)
        files.setdefault(department, []).append(
            {"name": path.name, "resource": code, "rows": len(corrections), "sha256": file_digest(path)})
    for department, folder in packages.items():
        manifest = {"department": department, "kind": "correction", "created_at": at.isoformat(),
                    "files": files[department]}
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return list(packages.values())


def correction_records(resource: Resource, corrections: list) -> tuple[list[str], list[dict[str, str | None]]]:
    """The header and rows of a resource's corrections: its own columns, then why each row came back."""
    header = [*resource.source_columns, RULE_COLUMN, REASON_COLUMN, BATCH_COLUMN, RECORD_COLUMN, TEXT_COLUMN]
    records = []
    for row in corrections:
        values = dict(row.row_values or {})
        records.append({**{column: values.get(column) for column in resource.source_columns},
                        RULE_COLUMN: row.rule, REASON_COLUMN: row.reason, BATCH_COLUMN: row.batch_id,
                        RECORD_COLUMN: str(row.record), TEXT_COLUMN: row.row_text})
    return header, records


def write_resource_file(path: Path, resource: Resource, corrections: list) -> None:
    """Write in the resource's own format and encoding, as the department delivers it."""
    header, records = correction_records(resource, corrections)
    if resource.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=resource.delimiter or ",", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([["" if record[column] is None else record[column] for column in header] for record in records])
        path.write_bytes(buffer.getvalue().encode(resource.encoding or "utf-8"))
    elif resource.format == "jsonl":
        lines = [json.dumps(record, ensure_ascii=False) for record in records]
        path.write_bytes(("\n".join(lines) + "\n").encode(resource.encoding or "utf-8"))
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = resource.sheet or resource.name
        sheet.append(header)
        for record in records:
            sheet.append([record[column] for column in header])
        book.save(path)
