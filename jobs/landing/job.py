"""The landing job: every ready package in the inbox, per resource in sequence order, verified and
landed into `lake.raw.<department>_<resource>` as one Delta commit, or turned away with a reason.

read (manifest, files) → verify (contract) → stage (Arrow → Parquet) → write (one commit) → ledger
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import datetime
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Resource, load_catalog
from citylake.settings import profile as active_profile
from jobs.landing.ledger import LedgerEntry, ResourceHistory, record, resource_history
from jobs.landing.manifest import MANIFEST, FileEntry, Package, PackageRejected, now, read_manifest, ready_packages, verify_files
from jobs.landing.quarantine import quarantine_unparseable
from jobs.landing.readers import RECORD, BadRow, FileReader, is_unparseable_csv

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
    for (department, resource), folders in _packages_by_resource(inbox).items():
        history = resource_history(spark, department, resource)
        for folder in folders:
            entry = land_package(spark, folder, catalog, history)
            if entry is not None:
                history.note(entry)
                entries.append(entry)
    return entries


def _packages_by_resource(inbox: Path) -> dict[tuple[str, str], list[Path]]:
    groups: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for folder in ready_packages(inbox):
        groups[(folder.parent.parent.name, folder.parent.name)].append(folder)
    for folders in groups.values():
        folders.sort(key=_sequence_or_zero)
    return dict(sorted(groups.items()))


def _sequence_or_zero(folder: Path) -> int:
    try:
        return read_manifest(folder).sequence
    except PackageRejected:
        return 0


class PackageHeld(Exception):
    """The package is sound but must wait (a sequence gap, a suspicious full extract)."""


def land_package(spark: SparkSession, folder: Path, catalog: Catalog,
                 history: ResourceHistory) -> LedgerEntry | None:
    """Land one package, hold it, or reject it; the ledger gets its outcome. None for a package
    this ledger decided before and nobody has delivered again since."""
    started = now()
    entry = LedgerEntry(
        department=folder.parent.parent.name, resource=folder.parent.name, batch_id=None, sequence=None,
        mode=None, extracted_at=None, status="rejected", reason=None, content_sha256=None, rows_read=0,
        rows_landed=0, rows_quarantined=0, package_path=str(folder), started_at=started, finished_at=started,
    )
    if history.already_decided(str(folder), _content_hash_or_none(folder), _manifest_time(folder)):
        return None
    try:
        package = Package(folder, read_manifest(folder))
        _describe(entry, package)
        resource = _resource_of(catalog, package)
        verify_files(package)
        if _is_replay(package, history):
            entry.status, entry.reason = "replay", "same batch_id and content as a landed batch; nothing changed"
        else:
            _check_sequence(package, history)
            _land_verified(spark, entry, package, resource, history)
    except PackageRejected as reason:
        entry.status, entry.reason = "rejected", str(reason)
    except PackageHeld as reason:
        entry.status, entry.reason = "held", str(reason)
        if history.held.get(entry.batch_id) == entry.reason:
            return entry  # still held for the same reason: the ledger says so already
    entry.finished_at = now()
    record(spark, entry)
    log.info("%s/%s %s: %s %s", entry.department, entry.resource, entry.batch_id, entry.status, entry.reason or "")
    return entry


def _content_hash_or_none(folder: Path) -> str | None:
    try:
        return read_manifest(folder).content_hash
    except PackageRejected:
        return None


def _manifest_time(folder: Path) -> datetime:
    return datetime.fromtimestamp((folder / MANIFEST).stat().st_mtime).astimezone()  # missing: not ready


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
    if not resource.accepts(manifest.mode):
        raise PackageRejected(f"mode {manifest.mode}: {resource.qualified_code} is not delivered that way")
    return resource


def _is_replay(package: Package, history: ResourceHistory) -> bool:
    manifest = package.manifest
    if manifest.batch_id not in history.landed:
        return False
    if history.landed[manifest.batch_id][1] != manifest.content_hash:
        raise PackageRejected(f"conflicting replay: batch {manifest.batch_id} landed before with other content")
    return True


def _check_sequence(package: Package, history: ResourceHistory) -> None:
    manifest = package.manifest
    expected = history.last_sequence + 1
    if manifest.sequence < expected:
        raise PackageRejected(f"sequence {manifest.sequence} is behind: sequence {history.last_sequence} "
                              "has landed already (superseded, or a new batch_id for an old sequence)")
    # A full extract is the whole table: it needs none of the packages before it, so a gap (or an
    # older full held for review) does not hold it. Incremental changes must come in order.
    if manifest.mode == "incremental" and manifest.sequence > expected and manifest.batch_id not in history.released:
        missing = expected if manifest.sequence == expected + 1 else f"{expected}..{manifest.sequence - 1}"
        raise PackageHeld(f"sequence gap: {manifest.sequence} arrived while {missing} is missing")


def _land_verified(spark: SparkSession, entry: LedgerEntry, package: Package, resource: Resource,
                   history: ResourceHistory) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=f"citylake-{resource.table_name}-"))
    try:
        staged = stage_package(package, scratch)
        entry.rows_read = staged.rows_read
        _check_columns(staged, resource, entry)
        _check_quarantine_limit(staged, resource)
        parsed = staged.rows_read - len(staged.bad_rows)
        # An incremental extract with no changes is normal: it lands as a ledger entry only.
        rows = spark.read.parquet(str(staged.folder)) if parsed else None
        if package.manifest.mode == "full" and package.manifest.batch_id not in history.released:
            _check_delete_guard(spark, rows if rows is not None else _no_keys(spark, resource), resource, history)
        # Quarantine first: a crash between the two commits leaves rows set aside, never lost; the
        # rerun's quarantine write replaces the same batch's rows (see quarantine_unparseable).
        quarantine_unparseable(spark, package.manifest, staged.bad_rows)
        if rows is not None:
            append_batch(spark, with_origin(rows, package), resource, package)
        entry.rows_landed = parsed
        entry.rows_quarantined = len(staged.bad_rows)
        entry.status = "landed"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _no_keys(spark: SparkSession, resource: Resource) -> DataFrame:
    return spark.createDataFrame([], ", ".join(f"`{name}` string" for name in resource.key))


def _check_delete_guard(spark: SparkSession, rows: DataFrame, resource: Resource, history: ResourceHistory) -> None:
    """Hold a full extract that would delete more than the guard's share of the previous full's keys:
    a lost district file must not wipe a district."""
    previous = history.last_full_batch
    if previous is None:
        return
    keys = [F.trim(F.col(f"`{name}`")).alias(name) for name in resource.key]
    current = lake.read_table(spark, raw_table(resource)).where(F.col("_batch_id") == previous) \
        .select(*keys).distinct()
    incoming = rows.select(*keys).distinct()
    current_count = current.count()
    deleted = current.join(incoming, on=list(resource.key), how="left_anti").count()
    share = deleted / current_count if current_count else 0.0
    if share > resource.delete_guard:
        raise PackageHeld(f"full extract would delete {deleted} of {current_count} current keys ({share:.1%}), "
                          f"over the delete guard {resource.delete_guard:.0%}; an operator may release it")


def stage_package(package: Package, scratch: Path) -> Staged:
    """Read every file of the package into Parquet (all text), checking row counts against the manifest."""
    manifest = package.manifest
    folder = scratch / "rows"
    folder.mkdir()
    columns: list[str] = []
    rows_read = 0
    bad: list[tuple[str, BadRow]] = []
    for index, entry in enumerate(manifest.files):
        part = folder / f"part-{index:05d}.parquet"
        try:
            reader = _stage_file_numbering_bad_rows(package, entry, part)
        except (UnicodeError, ValueError) as error:  # undecodable bytes, broken workbook, bad header
            raise PackageRejected(f"file {entry.name}: unreadable: {error}") from None
        found = reader.rows_parsed + len(reader.bad_rows)
        if found != entry.rows:
            raise PackageRejected(f"file {entry.name}: {found} data rows, the manifest says {entry.rows}")
        columns = columns or reader.header
        rows_read += found
        bad.extend((entry.name, row) for row in reader.bad_rows)
    return Staged(folder, columns, rows_read, bad)


def _stage_file_numbering_bad_rows(package: Package, entry: FileEntry, part: Path) -> FileReader:
    try:
        return _stage_file(package, entry, part, exact_record_numbers=False)
    except pa.ArrowInvalid as error:
        if not is_unparseable_csv(error):
            raise
        return _stage_file(package, entry, part, exact_record_numbers=True)


def _stage_file(package: Package, entry: FileEntry, part: Path, *, exact_record_numbers: bool) -> FileReader:
    """Write one delivered file's rows (all text, plus `_file` and `_record`) to a Parquet part."""
    manifest = package.manifest
    reader = FileReader(package.file(entry), manifest.format, manifest.encoding, manifest.delimiter,
                        manifest.sheet, exact_record_numbers=exact_record_numbers)
    part.unlink(missing_ok=True)
    writer = None
    try:
        for batch in reader.batches():
            batch = batch.append_column("_file", pa.array([entry.name] * batch.num_rows, pa.string()))
            if writer is None:
                writer = pq.ParquetWriter(part, batch.schema, compression="snappy")
            writer.write_batch(batch)
            reader.rows_parsed += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return reader


def _check_columns(staged: Staged, resource: Resource, entry: LedgerEntry) -> None:
    if not staged.columns and staged.rows_read == len(staged.bad_rows):
        return  # JSON lines without a parsed row have no columns to check
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


def append_batch(spark: SparkSession, frame: DataFrame, resource: Resource, package: Package) -> None:
    """Append the batch as one commit, unless a run that crashed before its ledger entry already did."""
    name = raw_table(resource)
    # Statistics only where queries filter (origin and key): computing min/max of every text
    # column of every landed file costs more than the rest of the write.
    stats = ",".join(f"`{c}`" for c in [*ORIGIN_COLUMNS, *resource.key])
    if not lake.table_exists(spark, name):
        lake.create_table_if_missing(spark, name, frame.schema, {"delta.dataSkippingStatsColumns": stats})
    # Delta's idempotent-write id, one per batch: a rerun after a crash between this commit and the
    # ledger's finds the batch committed and skips it instead of appending a second copy.
    once = {"txnAppId": f"citylake-landing:{package.manifest.batch_id}", "txnVersion": "0"}
    lake.write_table(frame, name, "append", merge_schema=True, options=once)
