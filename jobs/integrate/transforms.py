"""The integration's pure parts: landed batches and the runs they are applied in, what a batch's
measures decide, and the DataFrame transforms of the evaluated rows (counts per batch, quarantine
rows, typed changes, a full extract's diff, the keys passing rows correct). Nothing here reads or
writes a table; `jobs.integrate.job` does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake.catalog import Resource
from citylake.ops_tables import INTEGRATION
from citylake.rules import Rules
from jobs.integrate import quality
from jobs.integrate.changes import full_extract_changes
from jobs.integrate.ledger import APPLIED, REJECTED, IntegrationEntry
from jobs.integrate.metrics import BatchMeasure
from jobs.integrate.quality import BLOCKING, FAILURES, value_of
from jobs.integrate.standardize import (change_time_target, data_columns, delivered_text, key_targets, operation,
                                        typed_value)

INVALID_CHECK_DIGIT = "invalid_check_digit"


@dataclass(frozen=True)
class Batch:
    """A landed batch, as the landing ledger records it."""

    batch_id: str
    sequence: int
    mode: str
    extracted_at: datetime


def batch_runs(batches: list[Batch]) -> list[list[Batch]]:
    """Consecutive incremental batches together; every full extract alone."""
    runs: list[list[Batch]] = []
    for batch in batches:
        if batch.mode == "incremental" and runs and runs[-1][-1].mode == "incremental":
            runs[-1].append(batch)
        else:
            runs.append([batch])
    return runs


def entry_for(resource: Resource, measured: Measured, rejection: str | None, applied: dict | None,
              started: datetime, finished: datetime) -> IntegrationEntry:
    """The integration ledger's row of a measured batch: rejected with the reason, or applied with
    its run's change counts."""
    applied = applied or {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0, "late": 0, "run_id": None}
    batch = measured.batch
    return IntegrationEntry(
        department=resource.department, resource=resource.code, batch_id=batch.batch_id, sequence=batch.sequence,
        mode=batch.mode, extracted_at=batch.extracted_at, status=REJECTED if rejection else APPLIED,
        reason=rejection, rows_in=measured.measure.rows, rows_quarantined=measured.set_aside,
        rows_warned=measured.warned, started_at=started, finished_at=finished,
        failures=dict(measured.measure.failed), **applied,
    )


@dataclass(frozen=True)
class Measured:
    batch: Batch
    measure: BatchMeasure
    quarantined: int
    rejected_rows: int
    warned: int
    late_delivery: bool

    @property
    def set_aside(self) -> int:
        """Rows the batch puts in `ops.quarantine`: those breaking a quarantine or a reject rule."""
        return self.quarantined + self.rejected_rows


def previous_delivery(batch: Batch, landed: list[Batch]) -> datetime | None:
    """When the resource's previous landed batch of the same mode was extracted."""
    earlier = [other.extracted_at for other in landed if other.mode == batch.mode and other.sequence < batch.sequence]
    return max(earlier, default=None)


def rejections(measured: list[Measured], resource: Resource, rules: Rules) -> dict[str, str]:
    """batch id -> why the batch is not applied, for the batches that are not."""
    rejecting = {check.check for check in quality.rule_checks(resource, rules) if check.action == "reject"}
    reasons = {}
    for m in measured:
        rows = m.measure.rows
        if m.rejected_rows:
            broken = ", ".join(f"{check} ({count_of(failed, 'row')})" for check, failed
                               in sorted(m.measure.failed.items()) if check in rejecting)
            reasons[m.batch.batch_id] = f"a rule whose action is reject failed: {broken}"
        elif rows and m.quarantined / rows > resource.quarantine_limit:
            reasons[m.batch.batch_id] = (f"{m.quarantined} of {rows} rows ({m.quarantined / rows:.1%}) quarantined, "
                                         f"over the resource's limit {resource.quarantine_limit:.1%}")
        elif m.late_delivery and rules.timeliness.action == "reject":
            reasons[m.batch.batch_id] = "delivered later than its cycle allows"
    return reasons


def count_of(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"


def batch_counts(evaluated: DataFrame) -> DataFrame:
    """One row per batch (`_batch_id`): its rows, those blocked by a quarantine or a reject rule,
    and those only warned about."""
    action = F.col(f"{BLOCKING}.action")
    return evaluated.groupBy("_batch_id").agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(action == "quarantine", 1)).alias("quarantined"),
        F.count(F.when(action == "reject", 1)).alias("rejected"),
        F.count(F.when(F.col(BLOCKING).isNull() & (F.size(FAILURES) > 0), 1)).alias("warned"),
    )


def quarantined_rows(evaluated: DataFrame, resource: Resource, at: datetime) -> DataFrame:
    """The rows a rule blocked, as `ops.quarantine` rows with the delivered values by source name."""
    values = F.create_map(*[part for source in resource.source_columns
                            for part in (F.lit(source), delivered_text(evaluated, source))])
    blocked = F.col(BLOCKING)
    return evaluated.where(blocked.isNotNull()).select(
        F.lit(resource.department).alias("department"), F.lit(resource.code).alias("resource"),
        F.col("_batch_id").alias("batch_id"), F.col("_sequence").alias("sequence"), F.col("_file").alias("file"),
        F.col("_record").alias("record"), blocked["code"].alias("rule"),
        quality.failure_reason(F.col(FAILURES)).alias("reason"), F.lit(None).cast("string").alias("row_text"),
        F.lit(at).alias("quarantined_at"), F.lit(INTEGRATION).alias("stage"),
        blocked["check"].alias("check"), blocked["column"].alias("column_name"),
        blocked["delivered"].alias("delivered_value"), quality.delivered_key(evaluated.columns, resource).alias("key"),
        values.alias("row_values"), standardized_key(resource).alias("key_std"),
    )


def typed_changes(rows: DataFrame, resource: Resource, extracted_at: datetime | None) -> DataFrame:
    """Rows as changes: typed target columns, `_op`, `_changed_at` and a hash of the attributes.

    The hash leaves out the change time: a row delivered again unchanged but with a newer change
    time is not a new version."""
    columns = data_columns(resource)
    change_time = change_time_target(resource)
    changed_at = F.col(change_time).cast("timestamp") if change_time else F.lit(None).cast("timestamp")
    if extracted_at is not None:
        changed_at = F.coalesce(changed_at, F.lit(extracted_at).cast("timestamp"))
    hashed = [column.target for column in columns if column.target not in key_targets(resource)
              and column.target != change_time]
    return (rows.select(*[typed_value(column) for column in columns],
                        operation(resource).alias("_op"), "_batch_id", "_sequence", "_record")
            .withColumn("_changed_at", changed_at)
            .withColumn("_row_hash", F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in hashed])))))


def full_extract_diff(rows: DataFrame, resource: Resource, batch: Batch, current: DataFrame | None) -> DataFrame:
    """A full extract's changes against the current state (None: no table yet). A key whose row
    was quarantined is not deleted: its row was delivered, only not usable."""
    extract = typed_changes(rows.where(F.col(BLOCKING).isNull()), resource, batch.extracted_at).drop("_op")
    changes = full_extract_changes(extract, current, key_targets(resource), F.lit(batch.extracted_at).cast("timestamp"))
    changes = (changes.withColumn("_batch_id", F.coalesce("_batch_id", F.lit(batch.batch_id)))
               .withColumn("_sequence", F.coalesce("_sequence", F.lit(batch.sequence).cast("long")))
               .withColumn("_record", F.coalesce("_record", F.lit(0).cast("long"))))
    if current is None:
        return changes
    protected = protected_keys(rows.where(F.col(BLOCKING).isNotNull()), resource, current)
    key = key_targets(resource)
    return (changes.join(protected.withColumn("_protected", F.lit(True)), key, "left")
            .where(~((F.col("_op") == "D") & F.col("_protected").isNotNull()))
            .drop("_protected"))


def protected_keys(blocked: DataFrame, resource: Resource, current: DataFrame) -> DataFrame:
    """Current keys a full extract's quarantined rows stand for: their key when it is valid, and
    for a key whose check character is wrong, the current key that differs from it only there
    (a typo in the check character is far likelier than a person leaving)."""
    key = key_targets(resource)
    valid = blocked.select(*[value_of(target).alias(target) for target in key]).dropna()
    if len(key) != 1:
        return valid.distinct()
    source, target = resource.key[0], key[0]
    typo = (blocked.where((F.col(f"{BLOCKING}.code") == INVALID_CHECK_DIGIT) & (F.col(f"{BLOCKING}.column") == source))
            .select(F.upper(F.regexp_replace(delivered_text(blocked, source), r"\s", "")).alias("_delivered")))
    body = F.expr(f"substring(`{target}`, 1, length(`{target}`) - 1)")
    near = (current.select(target, body.alias("_body"))
            .join(typo.select(F.expr("substring(_delivered, 1, length(_delivered) - 1)").alias("_body")), "_body")
            .select(target))
    return valid.unionByName(near).distinct()


def standardized_key(resource: Resource) -> Column:
    """The row's standardized key, parts joined by '|'; NULL unless every part is valid."""
    values = [value_of(target).cast("string") for target in key_targets(resource)]
    every_part_valid = F.lit(True)
    for value in values:
        every_part_valid = every_part_valid & value.isNotNull()
    return F.when(every_part_valid, F.concat_ws("|", *values))


def passed_keys(rows: DataFrame, resource: Resource, extracted: Column) -> DataFrame:
    """The rows no rule blocked, as what they may correct: standardized key, sequence, batch id
    and when the batch was extracted (`extracted`: a map from batch id)."""
    return rows.where(F.col(BLOCKING).isNull()).select(
        standardized_key(resource).alias("key_std"), F.col("_sequence").alias("sequence"),
        F.col("_batch_id").alias("batch_id"), extracted[F.col("_batch_id")].alias("extracted_at"))
