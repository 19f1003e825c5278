"""The landing job: every ready package in the inbox, per resource in sequence order, verified and
landed into `lake.raw.<department>_<resource>` as one Delta commit, or turned away with a reason.

read (manifest, files) → verify (contract) → stage (Arrow → Parquet) → write (one commit) → ledger
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Resource, load_catalog
from citylake.settings import profile as active_profile
from jobs.landing.ledger import LedgerEntry, landed_batches, record
from jobs.landing.manifest import Package, PackageRejected, now, read_manifest, ready_packages, verify_files
from jobs.landing.quarantine import quarantine_unparseable
from jobs.landing.readers import RECORD, BadRow, FileReader

log = logging.getLogger(__name__)

ORIGIN_COLUMNS = ["_batch_id", "_sequence", "_department", "_mode", "_extracted_at", "_file", "_record",
                  "_ingested_at", "_row_hash"]


@dataclass
class Staged:
    """A package read into Parquet under a scratch folder, with what reading it found."""

    folder: Path
    columns: list[str]
    rows_read: int
    bad_rows: list[tuple[str, BadRow]]


def raw_table(resource: Resource) -> str:
    return f"raw.{resource.table_name}"


def land_inbox(spark: SparkSession, inbox: Path | None = None, catalog: Catalog | None = None) -> list[LedgerEntry]:
    """Land every ready package in the inbox; one ledger entry per package seen."""
    inbox = inbox or active_profile().path("inbox")
    catalog = catalog or load_catalog()
    entries = []
    for group in _packages_by_resource(inbox).values():
        for folder in group:
            entries.append(land_package(spark, folder, catalog))
    return entries


def _packages_by_resource(inbox: Path) -> dict[tuple[str, str], list[Path]]:
    groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for folder in ready_packages(inbox):
        groups[(folder.parent.parent.name, folder.parent.name)].append(folder)
    for folders in groups.values():
        folders.sort(key=_sequence_or_zero)
    return groups


def _sequence_or_zero(folder: Path) -> int:
    try:
        return read_manifest(folder).sequence
    except PackageRejected:
        return 0


def land_package(spark: SparkSession, folder: Path, catalog: Catalog) -> LedgerEntry:
    """Land one package, or reject it; the ledger gets its outcome either way."""
    started = now()
    entry = LedgerEntry(
        department=folder.parent.parent.name, resource=folder.parent.name, batch_id=None, sequence=None,
        mode=None, extracted_at=None, status="rejected", reason=None, content_sha256=None, rows_read=0,
        rows_landed=0, rows_quarantined=0, package_path=str(folder), started_at=started, finished_at=started,
    )
    try:
        package = Package(folder, read_manifest(folder))
        _describe(entry, package)
        resource = _resource_of(catalog, package)
        _check_not_landed_before(spark, entry, package)
        if entry.status != "replay":
            verify_files(package)
            _land_verified(spark, entry, package, resource)
    except PackageRejected as reason:
        entry.status, entry.reason = "rejected", str(reason)
    entry.finished_at = now()
    record(spark, entry)
    log.info("%s/%s %s: %s %s", entry.department, entry.resource, entry.batch_id, entry.status, entry.reason or "")
    return entry


def _describe(entry: LedgerEntry, package: Package) -> None:
    manifest = package.manifest
    entry.department, entry.resource = manifest.department, manifest.resource
    entry.batch_id, entry.sequence, entry.mode = manifest.batch_id, manifest.sequence, manifest.mode
    entry.extracted_at, entry.content_sha256 = manifest.extracted_at, manifest.content_hash


def _resource_of(catalog: Catalog, package: Package) -> Resource:
    manifest = package.manifest
    try:
        resource = catalog.resource(manifest.department, manifest.resource)
    except KeyError:
        raise PackageRejected(f"unknown resource {manifest.department}.{manifest.resource}: not in the catalog") from None
    if manifest.format != resource.format:
        raise PackageRejected(f"format {manifest.format}: the catalog says {resource.format}")
    return resource


def _check_not_landed_before(spark: SparkSession, entry: LedgerEntry, package: Package) -> None:
    manifest = package.manifest
    landed = landed_batches(spark, manifest.department, manifest.resource)
    if manifest.batch_id not in landed:
        return
    _, content_hash = landed[manifest.batch_id]
    if content_hash != manifest.content_hash:
        raise PackageRejected(f"conflicting replay: batch {manifest.batch_id} landed before with other content")
    entry.status, entry.reason = "replay", "same batch_id and content as a landed batch; nothing changed"


def _land_verified(spark: SparkSession, entry: LedgerEntry, package: Package, resource: Resource) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=f"citylake-{resource.table_name}-"))
    try:
        staged = stage_package(package, scratch)
        entry.rows_read = staged.rows_read
        _check_columns(staged, resource, entry)
        frame = with_origin(spark.read.parquet(str(staged.folder)), package)
        _check_quarantine_limit(staged, resource)
        # Quarantine first: a crash between the two commits leaves rows set aside, never lost; the
        # rerun's quarantine write replaces the same batch's rows (see quarantine_unparseable).
        quarantine_unparseable(spark, package.manifest, staged.bad_rows)
        append_batch(frame, resource, package)
        entry.rows_landed = staged.rows_read - len(staged.bad_rows)
        entry.rows_quarantined = len(staged.bad_rows)
        entry.status = "landed"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def stage_package(package: Package, scratch: Path) -> Staged:
    """Read every file of the package into Parquet (all text), checking row counts against the manifest."""
    manifest = package.manifest
    folder = scratch / "rows"
    folder.mkdir()
    columns: list[str] = []
    rows_read = 0
    bad: list[tuple[str, BadRow]] = []
    for index, entry in enumerate(manifest.files):
        reader = FileReader(package.file(entry), manifest.format, manifest.encoding, manifest.delimiter, manifest.sheet)
        parsed = 0
        writer = None
        for batch in reader.batches():
            batch = batch.append_column("_file", _constant(entry.name, batch.num_rows))
            if writer is None:
                writer = pq.ParquetWriter(folder / f"part-{index:05d}.parquet", batch.schema, compression="snappy")
            writer.write_batch(batch)
            parsed += batch.num_rows
        if writer is not None:
            writer.close()
        found = parsed + len(reader.bad_rows)
        if found != entry.rows:
            raise PackageRejected(f"file {entry.name}: {found} data rows, the manifest says {entry.rows}")
        columns = columns or reader.header
        rows_read += found
        bad.extend((entry.name, row) for row in reader.bad_rows)
    return Staged(folder, columns, rows_read, bad)


def _constant(value: str, length: int):
    import pyarrow as pa

    return pa.array([value] * length, pa.string()) if length else pa.array([], pa.string())


def _check_columns(staged: Staged, resource: Resource, entry: LedgerEntry) -> None:
    present = set(staged.columns)
    missing = [c.source for c in resource.columns if c.required and c.source not in present]
    if missing:
        raise PackageRejected(f"catalog column(s) missing from the file: {', '.join(missing)}")
    known = {c.source for c in resource.columns}
    entry.drift_columns = [name for name in staged.columns if name not in known]


def _check_quarantine_limit(staged: Staged, resource: Resource) -> None:
    share = len(staged.bad_rows) / staged.rows_read if staged.rows_read else 0.0
    if share > resource.quarantine_limit:
        raise PackageRejected(f"{len(staged.bad_rows)} of {staged.rows_read} rows unparseable "
                              f"({share:.1%}), over the resource's quarantine limit {resource.quarantine_limit:.1%}")


def with_origin(frame: DataFrame, package: Package) -> DataFrame:
    """The rows plus where they came from: batch, sequence, department, file, record, time, row hash."""
    manifest = package.manifest
    data_columns = [c for c in frame.columns if c not in (RECORD, "_file")]
    content = F.concat_ws("\u001f", *[F.coalesce(F.col(f"`{c}`"), F.lit("\u0000")) for c in data_columns])
    return frame.select(
        *[F.col(f"`{c}`") for c in data_columns],
        F.lit(manifest.batch_id).alias("_batch_id"),
        F.lit(manifest.sequence).cast("long").alias("_sequence"),
        F.lit(manifest.department).alias("_department"),
        F.lit(manifest.mode).alias("_mode"),
        F.lit(manifest.extracted_at.isoformat()).cast("timestamp").alias("_extracted_at"),
        F.col("_file"),
        F.col(RECORD).alias("_record"),
        F.current_timestamp().alias("_ingested_at"),
        F.sha2(content, 256).alias("_row_hash"),
    )


def append_batch(frame: DataFrame, resource: Resource, package: Package) -> None:
    """Append the batch as one commit. Delta's idempotent-write id makes a rerun after a crash
    between this commit and the ledger's a no-op instead of a second copy."""
    idempotent = {"txnAppId": f"citylake-landing-{resource.table_name}",
                  "txnVersion": str(package.manifest.sequence)}
    lake.write_table(frame, raw_table(resource), "append", merge_schema=True, options=idempotent)
