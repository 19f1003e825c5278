"""The landing job: every ready package in the inbox, per resource in sequence order, verified and
landed into `lake.raw.<department>_<resource>` as one Delta commit, or turned away with a reason.

read (manifest, files) → verify (contract) → stage (Arrow: rows, origin, row hash → the table's Parquet
data files) → checks → commit (one Delta commit of those files) → ledger
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Resource, load_catalog
from citylake.delta_files import ExternalCommit
from citylake.settings import lake_layout, profile as active_profile
from jobs.landing.ledger import LedgerEntry, ResourceHistory, record, resource_history
from jobs.landing.manifest import MANIFEST, Package, PackageRejected, now, read_manifest, ready_packages, verify_files
from jobs.landing.progress import LandingProgress
from jobs.landing.quarantine import quarantine_unparseable
from jobs.landing.staging import ORIGIN_COLUMNS, RowsSeen, Staged, batch_folder_name, stage_package

log = logging.getLogger(__name__)


def raw_table(resource: Resource) -> str:
    return resource.raw_table


def land_inbox(spark: SparkSession, inbox: Path | None = None, catalog: Catalog | None = None,
               progress: LandingProgress | None = None) -> list[LedgerEntry]:
    """Land every ready package in the inbox; one ledger entry per package seen. `progress`
    hears of each package and of the rows read from it as the run goes."""
    inbox = inbox or active_profile().path("inbox")
    catalog = catalog or load_catalog()
    progress = progress or LandingProgress()
    packages = _packages_by_resource(inbox)
    progress.run_started(sum(len(folders) for folders in packages.values()))
    entries = []
    for (department, resource), folders in packages.items():
        history = resource_history(spark, department, resource)
        for folder in folders:
            progress.package_started(department, resource, folder.name)
            entry = land_package(spark, folder, catalog, history, on_rows=progress.rows)
            progress.package_finished(entry)
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


def land_package(spark: SparkSession, folder: Path, catalog: Catalog, history: ResourceHistory,
                 on_rows: RowsSeen | None = None) -> LedgerEntry | None:
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
            _land_verified(spark, entry, package, resource, history, on_rows)
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
                   history: ResourceHistory, on_rows: RowsSeen | None = None) -> None:
    name = raw_table(resource)
    root = lake.table_folder(name)
    append = ExternalCommit(spark, lake.table_uri(name), _new_table_properties(resource))
    app_id = f"citylake-landing:{package.manifest.batch_id}"
    # A run that died between this batch's commit and its ledger entry: the rerun reads the
    # package again for its counts and commits nothing a second time.
    committed = append.committed_version(app_id) is not None
    with _batch_files(root, package.manifest.batch_id, recount=committed) as batch:
        staged = stage_package(package, batch.folder, append.columns, _STATS_COLUMNS + list(resource.key),
                               now(), on_rows, undelivered_columns=[column.source for column in resource.columns])
        entry.rows_read = staged.rows_read
        _check_columns(staged, resource, entry)
        _check_quarantine_limit(staged, resource)
        if _needs_delete_guard(package, history):
            _check_delete_guard(spark, _incoming_keys(spark, staged, batch.folder, append, resource),
                                resource, history)
        # Quarantine first: a crash between the two commits leaves rows set aside, never lost; the
        # rerun's quarantine write replaces the same batch's rows (see quarantine_unparseable).
        quarantine_unparseable(spark, package.manifest, staged.bad_rows)
        # An incremental extract with no changes is normal: it lands as a ledger entry only. A
        # delivery of no rows still commits when it brings columns: a resource's first delivery
        # creates its table (the contract's empty extract is a table with no rows, not no table).
        if (staged.files or append.columns.added) and not committed:
            batch.committing()
            append.commit(staged.files, app_id=app_id, app_version=0)
            lake.publish(name)
        entry.rows_landed = staged.rows_read - len(staged.bad_rows)
        entry.rows_quarantined = len(staged.bad_rows)
        entry.status = "landed"


# Statistics only where queries filter (origin and key): min/max of every text column would
# make every query plan read them for nothing, and a random row hash bounds nothing.
_STATS_COLUMNS = ["_batch_id", "_sequence", "_department", "_mode", "_file", "_record"]


def _new_table_properties(resource: Resource) -> dict[str, str]:
    stats = ",".join(f"`{column}`" for column in [*ORIGIN_COLUMNS, *resource.key])
    return {**lake_layout().table_properties, "delta.dataSkippingStatsColumns": stats}


class _BatchFiles:
    """Where a batch's data files are written, and what happens to them if it does not land.

    Until the commit is attempted the batch's folder in the table holds nothing the table
    references (the batch's txn marker is absent), so leftovers of a crashed attempt are removed
    first and a rejected or held batch leaves no files behind, nor the table's folder when there
    is no table yet. Once the commit is attempted the files are the table's, or orphans that the
    batch's next attempt (or VACUUM) removes.
    A batch committed already is only counted again, in a scratch folder removed afterwards."""

    def __init__(self, folder: Path, recount: bool) -> None:
        self.folder = folder
        self.recount = recount
        self.commit_attempted = False

    def committing(self) -> None:
        self.commit_attempted = True

    def discard_unless_committed(self) -> None:
        if self.recount or not self.commit_attempted:
            shutil.rmtree(self.folder, ignore_errors=True)
            if not self.recount:
                # staging made the table's folder too; a rejected first delivery must not leave
                # an empty table folder behind in raw/
                _remove_if_empty(self.folder.parent)
        else:
            _remove_if_empty(self.folder)  # a commit of columns without rows wrote no file here


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (a table, another batch's files), or gone already


@contextmanager
def _batch_files(root: Path, batch_id: str, *, recount: bool) -> Iterator[_BatchFiles]:
    if recount:
        batch = _BatchFiles(Path(tempfile.mkdtemp(prefix="citylake-recount-")), recount=True)
    else:
        batch = _BatchFiles(root / batch_folder_name(batch_id), recount=False)
        shutil.rmtree(batch.folder, ignore_errors=True)
    try:
        yield batch
    finally:
        batch.discard_unless_committed()


def _incoming_keys(spark: SparkSession, staged: Staged, folder: Path, append: ExternalCommit,
                   resource: Resource) -> DataFrame:
    """The staged rows' key columns, by their catalog names, read from the batch's data files."""
    if not staged.files:
        return _no_keys(spark, resource)
    files = [str(folder / Path(file.path).name) for file in staged.files]
    return spark.read.parquet(*files).select(
        *[F.col(f"`{append.columns.get(name).physical}`").alias(name) for name in resource.key])


def _no_keys(spark: SparkSession, resource: Resource) -> DataFrame:
    return spark.createDataFrame([], ", ".join(f"`{name}` string" for name in resource.key))


def _needs_delete_guard(package: Package, history: ResourceHistory) -> bool:
    """A full extract replacing an earlier full one, not released by an operator. (Only then are
    the staged keys read: reading them runs Spark jobs.)"""
    manifest = package.manifest
    return (manifest.mode == "full" and manifest.batch_id not in history.released
            and history.last_full_batch is not None)


def _check_delete_guard(spark: SparkSession, rows: DataFrame, resource: Resource, history: ResourceHistory) -> None:
    """Hold a full extract that would delete more than the guard's share of the previous full's keys:
    a lost district file must not wipe a district."""
    previous = history.last_full_batch
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
