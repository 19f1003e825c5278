"""`lake.ops.batch_ledger`: one row per package seen, with its outcome, counts, reason and timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow.compute as pc

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.delta_files import NotArrowReadable, read_arrow
from citylake.ops_tables import BATCH_LEDGER
from jobs.landing.manifest import now

LEDGER, LEDGER_SCHEMA = BATCH_LEDGER.name, BATCH_LEDGER.schema


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
    """Append one package's outcome to the ledger (one commit)."""
    BATCH_LEDGER.write(spark, [entry.as_row()])


@dataclass
class ResourceHistory:
    """What the ledger knows of one resource's packages: what landed, what is held or released."""

    landed: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # batch -> (sequence, hash, mode)
    held: dict[str, str] = field(default_factory=dict)                       # batch -> reason
    released: set[str] = field(default_factory=set)
    # package folder -> (content hash, when the ledger decided it) for landed, replayed, rejected
    decided: dict[str, tuple[str, float]] = field(default_factory=dict)

    def already_decided(self, package_path: str, content_hash: str | None, manifest_written: datetime) -> bool:
        """The same delivery seen again by a later scan (not re-sent: its manifest is older than
        the decision), so the ledger has nothing new to say about it."""
        seen = self.decided.get(package_path)
        return seen is not None and seen[0] == content_hash and manifest_written.timestamp() < seen[1]

    @property
    def last_sequence(self) -> int:
        return max((sequence for sequence, _, _ in self.landed.values()), default=0)

    @property
    def last_full_batch(self) -> str | None:
        fulls = [(sequence, batch) for batch, (sequence, _, mode) in self.landed.items() if mode == "full"]
        return max(fulls)[1] if fulls else None

    def note(self, entry: LedgerEntry) -> None:
        """Keep the history current within a run, as later packages of the run depend on it."""
        if entry.status == "landed":
            self.landed[entry.batch_id] = (entry.sequence, entry.content_sha256, entry.mode)
            self.held.pop(entry.batch_id, None)
        elif entry.status == "held":
            self.held[entry.batch_id] = entry.reason or ""
        if entry.status in ("landed", "replay", "rejected"):
            self.decided[entry.package_path] = (entry.content_sha256, entry.finished_at.timestamp())


def resource_history(spark: SparkSession, department: str, resource: str) -> ResourceHistory:
    """The resource's history from the ledger: each batch's latest status decides where it stands."""
    return _history_of(ledger_rows(spark, department, resource))


def _history_of(rows: list[dict]) -> ResourceHistory:
    """A resource's history from its ledger rows, oldest first."""
    history = ResourceHistory()
    for row in rows:
        if row["status"] in ("landed", "replay", "rejected"):
            history.decided[row["package_path"]] = (row["content_sha256"], row["finished_at"].timestamp())
        if row["batch_id"] is None:
            continue
        if row["status"] == "landed":
            history.landed[row["batch_id"]] = (row["sequence"], row["content_sha256"], row["mode"])
            history.held.pop(row["batch_id"], None)
        elif row["status"] == "held" and row["batch_id"] not in history.landed:
            history.held[row["batch_id"]] = row["reason"]
        elif row["status"] == "released":
            history.released.add(row["batch_id"])
    return history


def ledger_rows(spark: SparkSession, department: str, resource: str) -> list[dict]:
    """The ledger's entries of one resource, oldest decision first. Read by Arrow where it can:
    the ledger is read before every resource's first package, and a Spark query there would make
    a landing run pay Spark's first-use cost of its read path for a few hundred rows."""
    if not lake.table_exists(spark, LEDGER):
        return []
    try:
        rows = read_arrow(spark, lake.table_uri(LEDGER), LEDGER_SCHEMA.fieldNames()).filter(
            (pc.field("department") == department) & (pc.field("resource") == resource)).to_pylist()
    except NotArrowReadable:
        rows = [row.asDict() for row in lake.read_table(spark, LEDGER)
                .where((F.col("department") == department) & (F.col("resource") == resource)).collect()]
    # Ordered here: a Spark sort of a few rows would cost a sampling job and a shuffle.
    return sorted(rows, key=lambda row: row["finished_at"].timestamp())


def release(spark: SparkSession, department: str, resource: str, batch_id: str, reason: str) -> LedgerEntry:
    """An operator's release of a held package: the next landing run lands it despite its hold."""
    rows = ledger_rows(spark, department, resource)
    if batch_id not in _history_of(rows).held:
        raise ValueError(f"{department}.{resource} batch {batch_id} is not held; nothing to release")
    held = [row for row in rows if row["batch_id"] == batch_id and row["status"] == "held"][-1]
    at = now()
    entry = LedgerEntry(
        department=department, resource=resource, batch_id=batch_id, sequence=held["sequence"], mode=held["mode"],
        extracted_at=held["extracted_at"], status="released", reason=f"released by operator: {reason}",
        content_sha256=held["content_sha256"], rows_read=0, rows_landed=0, rows_quarantined=0,
        package_path=held["package_path"], started_at=at, finished_at=at,
    )
    record(spark, entry)
    return entry
