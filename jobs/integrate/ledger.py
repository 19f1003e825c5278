"""`lake.ops.integration_ledger`: one row per landed batch taken into the integrated layer, with
its outcome (applied or rejected), why, its row counts and what applying it changed.

`rows_quarantined` counts the batch's rows in `ops.quarantine` (breaking a rule whose action is
`quarantine` or `reject`), whether the batch was applied or rejected. Batches applied together in
one run (consecutive incremental batches of a resource) share the run's change counts (`inserted`
... `late`); `run_id` says which batches those are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.ops_tables import INTEGRATION_LEDGER as LEDGER_TABLE

INTEGRATION_LEDGER, SCHEMA = LEDGER_TABLE.name, LEDGER_TABLE.schema
APPLIED, REJECTED = "applied", "rejected"


@dataclass
class IntegrationEntry:
    department: str
    resource: str
    batch_id: str
    sequence: int
    mode: str
    extracted_at: datetime
    status: str
    reason: str | None
    run_id: str
    rows_in: int
    rows_quarantined: int
    rows_warned: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    late: int
    started_at: datetime
    finished_at: datetime
    # rows failing each check (`ops.quality_metrics` has them): for the run's summary, not the ledger
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in SCHEMA.fieldNames()}


def record(spark: SparkSession, entries: list[IntegrationEntry]) -> None:
    """Append the run's outcomes; written last, so a batch is pending until its run completed."""
    if entries:
        LEDGER_TABLE.write(spark, [entry.as_row() for entry in entries])


def integrated_batches(spark: SparkSession, department: str, resource: str) -> set[str]:
    """The batches of a resource whose integration run completed (applied or rejected)."""
    if not lake.table_exists(spark, INTEGRATION_LEDGER):
        return set()
    rows = (lake.read_table(spark, INTEGRATION_LEDGER)
            .where((F.col("department") == department) & (F.col("resource") == resource))
            .select("batch_id").distinct().collect())
    return {row.batch_id for row in rows}


CHANGES = ("inserted", "updated", "deleted", "late")


def totals_by_resource(entries: Iterable[IntegrationEntry]) -> dict[str, Counter]:
    """Per `<department>.<resource>`: batches `applied` and `rejected`, `rows_in`,
    `rows_quarantined`, `rows_warned`, and the changes applied, each run's once (its batches share them)."""
    totals: dict[str, Counter] = {}
    runs: set[str] = set()
    for entry in entries:
        counts = totals.setdefault(f"{entry.department}.{entry.resource}", Counter())
        counts[entry.status] += 1
        counts.update({name: getattr(entry, name) for name in ("rows_in", "rows_quarantined", "rows_warned")})
        if entry.run_id is not None and entry.run_id not in runs:
            runs.add(entry.run_id)
            counts.update({name: getattr(entry, name) for name in CHANGES})
    return totals


def most_failed(failures: dict[str, int], top: int = 3) -> str:
    """The checks failing most, with their counts: `completeness:XM 3 rows, uniqueness 1 row`."""
    ranked = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    shown = [_failed_check(check, rows) for check, rows in ranked[:top]]
    if len(ranked) > top:
        shown.append(f"{len(ranked) - top} more")
    return ", ".join(shown)


def _failed_check(check: str, rows: int) -> str:
    if check == "timeliness":   # a batch-level rule: the batch failed it, no row did
        return "timeliness (delivered late)"
    return f"{check} {rows} row" if rows == 1 else f"{check} {rows} rows"
