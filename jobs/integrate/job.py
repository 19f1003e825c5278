"""The integration job (`citylake integrate`): every landed raw batch becomes typed, standardized,
checked changes applied to `lake.integrated.<resource>` and its `_history`.

Per resource, in the order references need (a referenced resource first), the batches the
landing ledger says landed and the integration ledger has not seen are taken in sequence order:
consecutive incremental batches in one run, each full extract in a run of its own (it is diffed
against the state the batches before it left). A run's rows are standardized, checked against
the resource's quality rules (`conf/rules.yml`), measured into `ops.quality_metrics`; blocked rows
go to `ops.quarantine` and open corrections, whether their batch is applied or not; a batch with a
`reject` failure, or more quarantined rows than its limit, is not applied. The integration ledger
is written last: an interrupted run is redone whole, and every step of it is idempotent.

This module reads, calls and writes; what is computed from the rows is in `jobs.integrate.transforms`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Divisions, Resource, load_catalog, load_divisions
from citylake.ops_tables import BATCH_LEDGER, INTEGRATION, QUARANTINE, UNPARSEABLE, now, replace_quarantined
from citylake.rules import Rules, RulesFile, load_rules
from jobs.corrections import job as corrections
from jobs.integrate import ledger, metrics, quality
from jobs.integrate.changes import Run, applied_before, apply_changes
from jobs.integrate.ledger import IntegrationEntry
from jobs.integrate.metrics import BatchMeasure
from jobs.integrate.quality import BLOCKING
from jobs.integrate.standardize import key_targets, standardized
from jobs.integrate.transforms import (Batch, Measured, batch_counts, batch_runs, entry_for, full_extract_diff,
                                       passed_keys, previous_delivery, quarantined_rows, rejections, typed_changes)

log = logging.getLogger(__name__)


@contextmanager
def timed(step: str, resource: Resource) -> Iterator[None]:
    started = time.monotonic()
    yield
    log.info("%s %s: %.1f s", resource.qualified_code, step, time.monotonic() - started)


@dataclass
class Context:
    """What every run of one integration job shares."""

    spark: SparkSession
    catalog: Catalog
    rules: RulesFile
    divisions: Divisions
    entries: list[IntegrationEntry] = field(default_factory=list)


Progress = Callable[[Resource, list[Batch]], None]


def integrate(spark: SparkSession, catalog: Catalog | None = None, *, resources: Iterable[str] | None = None,
              rules: RulesFile | None = None, progress: Progress | None = None) -> list[IntegrationEntry]:
    """Take every pending landed batch into the integrated layer; returns one entry per batch.

    Args:
        resources: qualified codes (`psb.household_registration`) to integrate; default all.
        progress: called before each resource with its pending batches.
    """
    catalog = catalog or load_catalog()
    context = Context(spark, catalog, rules or load_rules(catalog), load_divisions(catalog.conf_dir))
    wanted = set(resources) if resources is not None else None
    for resource in integration_order(catalog, context.rules):
        if wanted is not None and resource.qualified_code not in wanted:
            continue
        landed = landed_batches(spark, resource)
        done = ledger.integrated_batches(spark, resource.department, resource.code)
        pending = [batch for batch in landed if batch.batch_id not in done]
        if pending:
            if progress:
                progress(resource, pending)
            integrate_resource(context, resource, pending, landed)
    metrics.refresh_scores(spark)
    corrections.refresh_ages(spark, now())
    return context.entries


def integration_order(catalog: Catalog, rules: RulesFile) -> list[Resource]:
    """The catalog's resources, each after the resources its referential rules name."""
    by_code = {resource.qualified_code: resource for resource in catalog}
    ordered: list[Resource] = []

    def visit(resource: Resource, path: tuple[str, ...]) -> None:
        if resource in ordered:
            return
        if resource.qualified_code in path:
            raise ValueError(f"referential rules form a cycle: {' -> '.join((*path, resource.qualified_code))}")
        for rule in rules.rules_for(resource).referential:
            visit(by_code[rule.references], (*path, resource.qualified_code))
        ordered.append(resource)

    for resource in catalog:
        visit(resource, ())
    return ordered


def landed_batches(spark: SparkSession, resource: Resource) -> list[Batch]:
    """Every batch of the resource the landing ledger says landed, in sequence order."""
    if not lake.table_exists(spark, BATCH_LEDGER.name):
        return []
    rows = (lake.read_table(spark, BATCH_LEDGER.name)
            .where((F.col("department") == resource.department) & (F.col("resource") == resource.code)
                   & (F.col("status") == "landed"))
            .select("batch_id", "sequence", "mode", "extracted_at").distinct().collect())
    return sorted((Batch(row.batch_id, row.sequence, row.mode, row.extracted_at) for row in rows),
                  key=lambda batch: batch.sequence)


# --------------------------------------------------------------------------- one resource


def integrate_resource(context: Context, resource: Resource, pending: list[Batch], landed: list[Batch]) -> None:
    """Standardize and check the pending batches in one pass, record what the rules found, then
    apply the accepted batches run by run (see `batch_runs`); the ledger rows come last."""
    spark, started = context.spark, now()
    rules = context.rules.rules_for(resource)
    ids = [batch.batch_id for batch in pending]
    raw = lake.read_table(spark, resource.raw_table).where(F.col("_batch_id").isin(ids))
    with timed("standardize and check", resource):
        # Standards are large expressions: each is computed once into a checkpoint, so that the
        # checks and every later step plan against a short lineage instead of the whole tree.
        typed = standardized(raw, resource, context.divisions).localCheckpoint()
        evaluated = quality.evaluate(typed, resource, rules,
                                     referenced_keys(spark, context.catalog, rules)).localCheckpoint()
        measures = measure(evaluated, pending, resource, rules, landed)
    rejected = rejections(measures, resource, rules)
    accepted = [m.batch for m in measures if m.batch.batch_id not in rejected]
    with timed("quality metrics and quarantine", resource):
        metrics.record(spark, resource.department, resource.code,
                       metrics.metric_rows(resource.department, resource.code, quality.rule_checks(resource, rules),
                                           [m.measure for m in measures], started))
        # A rejected batch's blocked rows too: they are what the department must fix before it
        # sends the batch again.
        replace_quarantined(spark, quarantined_rows(evaluated, resource, started),
                            resource.department, resource.code, ids, INTEGRATION)
    counts: dict[str, dict[str, int]] = {}
    for run in batch_runs(accepted):
        with timed(f"apply sequence {run[0].sequence}-{run[-1].sequence}", resource):
            applied = apply_run(spark, evaluated, resource, run)
        for batch in run:
            counts[batch.batch_id] = applied | {"run_id": run_of(resource, run).label}
    with timed("corrections", resource):
        track_corrections(spark, evaluated, resource, pending, accepted)
    finished = now()
    entries = [entry_for(resource, m, rejected.get(m.batch.batch_id), counts.get(m.batch.batch_id), started, finished)
               for m in measures]
    ledger.record(spark, entries)
    context.entries.extend(entries)


def measure(evaluated: DataFrame, run: list[Batch], resource: Resource, rules: Rules,
            landed: list[Batch]) -> list[Measured]:
    """Per batch of the run: rows, failures per check, rows blocked by each action."""
    totals = {row["_batch_id"]: row for row in batch_counts(evaluated).collect()}
    failed: dict[str, dict[str, int]] = {}
    for row in quality.failure_counts(evaluated).collect():
        failed.setdefault(row["_batch_id"], {})[row["check"]] = row["rows_failed"]
    measured = []
    for batch in run:
        total = totals.get(batch.batch_id)
        late = quality.is_late_delivery(batch.extracted_at, previous_delivery(batch, landed),
                                        resource.cycle.get(batch.mode), rules)
        failures = dict(failed.get(batch.batch_id, {}))
        if late:
            failures["timeliness"] = 1
        measured.append(Measured(
            batch, BatchMeasure(batch.batch_id, batch.sequence, batch.extracted_at, total["rows"] if total else 0,
                                failures),
            total["quarantined"] if total else 0, total["rejected"] if total else 0, total["warned"] if total else 0,
            late))
    return measured


def referenced_keys(spark: SparkSession, catalog: Catalog, rules: Rules) -> dict[str, DataFrame]:
    """Per referential rule, every key the referenced resource has had (current and history)."""
    found = {}
    for rule in rules.referential:
        target = catalog.resource(*rule.references.split("."))
        key = key_targets(target)[0]
        tables = [f"integrated.{target.table_name}", f"integrated.{target.table_name}_history"]
        frames = [lake.read_table(spark, name).select(key) for name in tables if lake.table_exists(spark, name)]
        if frames:
            keys = frames[0]
            for frame in frames[1:]:
                keys = keys.unionByName(frame)
            found[rule.name] = keys
    return found


# --------------------------------------------------------------------------- changes


def run_of(resource: Resource, run: list[Batch]) -> Run:
    return Run(f"{resource.qualified_code}#{run[0].sequence}-{run[-1].sequence}", tuple(b.batch_id for b in run))


def apply_run(spark: SparkSession, evaluated: DataFrame, resource: Resource, run: list[Batch]) -> dict[str, int]:
    """Apply one run's unblocked rows (a full extract, or consecutive incremental batches); its
    change counts (those it recorded, for a run an earlier attempt applied and did not finish)."""
    name, key, marked = f"integrated.{resource.table_name}", key_targets(resource), run_of(resource, run)
    done = applied_before(spark, name, marked)
    if done is not None:
        return done
    rows = evaluated.where(F.col("_batch_id").isin([batch.batch_id for batch in run]))
    if run[0].mode == "full":
        changes = full_changes(spark, rows, resource, run[0], name)
    else:
        changes = typed_changes(rows.where(F.col(BLOCKING).isNull()), resource, None)
    applied = apply_changes(spark, changes.localCheckpoint(), name, key, full_extract=run[0].mode == "full",
                            run=marked)
    return {"inserted": applied.inserted, "updated": applied.updated, "deleted": applied.deleted,
            "unchanged": applied.unchanged, "late": applied.late.num_rows}


def full_changes(spark: SparkSession, rows: DataFrame, resource: Resource, batch: Batch, name: str) -> DataFrame:
    """A full extract diffed against the resource's current table (`full_extract_diff`)."""
    current = lake.read_table(spark, name) if lake.table_exists(spark, name) else None
    return full_extract_diff(rows, resource, batch, current)


# --------------------------------------------------------------------------- corrections


def track_corrections(spark: SparkSession, evaluated: DataFrame, resource: Resource, batches: list[Batch],
                      accepted: list[Batch]) -> None:
    """Open a correction for each row the batches set aside, applied or rejected (at integration,
    or at landing because it could not be parsed), and close the ones the passing rows of the
    accepted batches correct (a rejected batch's rows changed nothing, so they correct nothing)."""
    extracted = F.create_map(*[part for batch in batches for part in (F.lit(batch.batch_id), F.lit(batch.extracted_at))])
    opened = quarantined_rows(evaluated, resource, now()).unionByName(
        unparseable_rows(spark, resource, [batch.batch_id for batch in batches]), allowMissingColumns=True)
    corrections.open_corrections(spark, opened, extracted[F.col("batch_id")])
    if not accepted:
        return
    accepted_rows = evaluated.where(F.col("_batch_id").isin([batch.batch_id for batch in accepted]))
    passed = passed_keys(accepted_rows, resource, extracted)
    fulls = [(b.sequence, b.batch_id, b.extracted_at) for b in accepted if b.mode == "full"]
    corrections.close_corrected(spark, resource, passed, max(fulls) if fulls else None)


def unparseable_rows(spark: SparkSession, resource: Resource, batch_ids: list[str]) -> DataFrame:
    """What landing quarantined of these batches: rows that could not be parsed."""
    if not lake.table_exists(spark, QUARANTINE.name):
        return QUARANTINE.frame(spark, [])
    return lake.read_table(spark, QUARANTINE.name).where(
        (F.col("department") == resource.department) & (F.col("resource") == resource.code)
        & F.col("batch_id").isin(batch_ids) & (F.col("rule") == UNPARSEABLE))


