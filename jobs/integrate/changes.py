"""Applying a resource's changes to its current state and its history in business time.

The input is a batch of typed changes: key columns, attribute columns and
`_op` (I/U/D), `_changed_at` (business time of the change), `_batch_id`, `_sequence`, `_record`
and `_row_hash` (of the attributes). Two tables come out:

- current (`integrated.<resource>`): one row per live key, its latest version;
- history (`integrated.<resource>_history`): every version with `_valid_from` and `_valid_to`
  (NULL while valid), so the resource can be read as of any past business date.

Changes are applied per key in change-time order; a change older than the key's latest known
change (its current version, or the delete that ended it) is late: it never overwrites the newer
one and is returned aside. Re-applying a batch changes nothing, and a run that stopped between the
history's commit and the current table's is completed by running it again.

How a batch is applied, and why it costs a small share of rewriting the tables: each table is read
once, and only the rows of the batch's keys are kept, with the file and row index each lives at
(`_metadata`). Everything else is computed on those few rows. Each table is then written in one
Delta commit that marks the replaced rows deleted with deletion vectors and adds the new rows:
no file is rewritten, and a rerun that finds nothing to do commits nothing. Delta's own MERGE
costs several times more here, because it joins the whole table twice and reads every column of
every touched file, and a batch of keys spread over the key space touches every file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from citylake import lake

CHANGE_COLUMNS = ["_op", "_changed_at", "_batch_id", "_sequence", "_record", "_row_hash"]
# Where a row of a table lives: the data file and the row's index in it (for deletion vectors).
FILE, ROW = "_file", "_row"
# Up to this many changes, a batch's keys are broadcast to every task that scans a table, so the
# table is never shuffled; above it (a full extract that changed most rows), Spark chooses.
BROADCAST_CHANGES = 2_000_000


@dataclass
class Applied:
    """What applying one batch did, and how long each step took (seconds)."""

    inserted: int
    updated: int
    deleted: int
    unchanged: int
    late: DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def full_extract_changes(extract: DataFrame, current: DataFrame | None, key: list[str],
                         extracted_at: Column) -> DataFrame:
    """A full extract as changes against the current state: new keys inserted, changed rows
    updated, keys no longer delivered deleted (at the extract's time)."""
    if current is None:
        return extract.withColumn("_op", F.lit("I"))
    incoming = extract.alias("n")
    existing = current.select(*key, F.col("_row_hash").alias("_current_hash")).alias("c")
    joined = incoming.join(existing, on=key, how="full_outer")
    op = (F.when(F.col("_current_hash").isNull(), F.lit("I"))
          .when(F.col("_row_hash").isNull(), F.lit("D"))
          .when(F.col("_row_hash") != F.col("_current_hash"), F.lit("U")))
    changes = joined.withColumn("_op", op).where(F.col("_op").isNotNull())
    # A deletion has no incoming row: it happens when the extract was cut.
    return changes.withColumn("_changed_at", F.coalesce(F.col("_changed_at"), extracted_at)).drop("_current_hash")


def order_changes(changes: DataFrame, key: list[str]) -> DataFrame:
    """Each key's changes numbered in business order, with the time the next one takes over."""
    by_key = Window.partitionBy(*key).orderBy("_changed_at", "_sequence", "_record")
    return (changes
            .withColumn("_n", F.row_number().over(by_key))
            .withColumn("_next_at", F.lead("_changed_at").over(by_key))
            .withColumn("_last", F.col("_next_at").isNull()))


def split_late(changes: DataFrame, current: DataFrame | None, key: list[str]) -> tuple[DataFrame, DataFrame]:
    """(changes to apply, late changes): a change older than the key's current version is late."""
    if current is None:
        return changes, changes.limit(0)
    versions = current.select(*key, F.col("_changed_at").alias("_current_at"))
    marked = changes.join(versions, on=key, how="left")
    is_late = F.col("_current_at").isNotNull() & (F.col("_changed_at") < F.col("_current_at"))
    return marked.where(~is_late).drop("_current_at"), marked.where(is_late).drop("_current_at")


def apply_changes(spark: SparkSession, changes: DataFrame, resource_table: str, key: list[str], *,
                  full_extract: bool = False) -> Applied:
    """Apply a batch of changes to `integrated.<resource>` and its `_history`; `full_extract`:
    the changes are a full extract's diff (see `_split_late`)."""
    steps = Steps()
    attributes = [c for c in changes.columns if c not in key and c not in CHANGE_COLUMNS]
    # A row delivered twice in one batch is one change, not two versions.
    changes = changes.dropDuplicates([*key, "_changed_at", "_op", "_row_hash"])
    current = PositionedTable(spark, resource_table)
    history = PositionedTable(spark, f"{resource_table}_history")
    if not current.exists and not history.exists:
        return _load(spark, changes, current, history, key, attributes, steps)
    with steps("read the batch"):
        changes = changes.localCheckpoint()
        keys = changes.select(*key).distinct()
        if changes.count() <= BROADCAST_CHANGES:
            keys = F.broadcast(keys)
    with steps("look up the batch's keys in current"):
        versions = _current_versions(current, changes, keys, key)
    with steps("look up the batch's keys in history"):
        past = _history_versions(history, keys, key)
    with steps("order, set late changes aside"):
        effective, late = _split_late(changes, versions, past, key, full_extract)
        ordered = order_changes(effective, key).localCheckpoint()
    with steps("write history"):
        _write_history(history, ordered, past, key, attributes)
    with steps("write current"):
        counts = _write_current(current, ordered, versions, key, attributes)
    return Applied(late=late, timings=steps.spent, **counts)


class Steps:
    """Wall time of the named steps of one application, for the benchmark and the job's log."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - started


# --------------------------------------------------------------------------- a table's first batch


def _load(spark: SparkSession, changes: DataFrame, current: PositionedTable, history: PositionedTable,
          key: list[str], attributes: list[str], steps: Steps) -> Applied:
    """The first batch of a resource: both tables written whole (nothing to look up or replace)."""
    with steps("order"):
        ordered = order_changes(changes, key).persist()
    try:
        with steps("write history"):
            lake.write_table(_versions(ordered, key, attributes), history.name, "append")
        with steps("write current"):
            lake.write_table(_latest_rows(ordered, key, attributes).where(F.col("_op") != "D").drop("_op"),
                             current.name, "append")
            inserted = lake.rows_written(spark, current.name)
    finally:
        ordered.unpersist()
    return Applied(inserted=inserted, updated=0, deleted=0, unchanged=0, late=changes.limit(0), timings=steps.spent)


# --------------------------------------------------------------------------- looking up the batch's keys


def _current_versions(current: PositionedTable, changes: DataFrame, keys: DataFrame, key: list[str]) -> DataFrame:
    """Current version of each key of the batch: its change time, hash and position."""
    if not current.exists:
        return changes.select(*key, F.col("_changed_at").alias("_current_at"), F.col("_row_hash").alias("_current_hash"),
                              F.lit(None).cast("string").alias(FILE), F.lit(None).cast("long").alias(ROW)).limit(0)
    rows = current.read().select(*key, F.col("_changed_at").alias("_current_at"),
                                 F.col("_row_hash").alias("_current_hash"), FILE, ROW)
    return rows.join(keys, key).localCheckpoint()


def _history_versions(history: PositionedTable, keys: DataFrame, key: list[str]) -> DataFrame | None:
    """Every version the history has of the batch's keys, with its position (a few rows per key)."""
    if not history.exists:
        return None
    return history.read().join(keys, key).localCheckpoint()


def _split_late(changes: DataFrame, versions: DataFrame, past: DataFrame | None, key: list[str],
                full_extract: bool) -> tuple[DataFrame, DataFrame]:
    """(changes to apply, late changes). A change is late when it is older than the latest change
    the lake knows of its key: the current version, or for a deleted key the delete that closed
    its last version. Versions this batch itself wrote (a rerun) do not count.

    A full extract says what exists now: a deleted key it brings back (after an extract that
    left it out) is never late; it is back from the time of the delete, however old its row's own
    change time."""
    marked = changes.join(versions.select(*key, F.col("_current_at").alias("_known_at")), key, "left")
    if past is not None:
        batches = [row[0] for row in changes.select("_batch_id").distinct().collect()]
        ended = (past.where(~F.col("_batch_id").isin(batches)).groupBy(*key)
                 .agg(F.max("_valid_to").alias("_ended_at")))
        marked = marked.join(ended, key, "left")
        if full_extract:
            back = F.col("_known_at").isNull() & F.col("_ended_at").isNotNull()
            marked = marked.withColumn("_changed_at", F.when(back, F.greatest("_changed_at", "_ended_at"))
                                       .otherwise(F.col("_changed_at")))
        else:
            marked = marked.withColumn("_known_at", F.greatest("_known_at", "_ended_at"))
        marked = marked.drop("_ended_at")
    is_late = F.coalesce(F.col("_changed_at") < F.col("_known_at"), F.lit(False))
    effective = marked.where(~is_late).drop("_known_at")
    late = marked.where(is_late).drop("_known_at").localCheckpoint()
    return effective, late


# --------------------------------------------------------------------------- history


def _versions(ordered: DataFrame, key: list[str], attributes: list[str]) -> DataFrame:
    """The versions the ordered changes make: each valid until the key's next change."""
    return (ordered.where(F.col("_op") != "D")
            .select(*key, *attributes, F.col("_changed_at").alias("_valid_from"),
                    F.col("_next_at").alias("_valid_to"), "_op", "_batch_id", "_sequence", "_row_hash"))


def _write_history(history: PositionedTable, ordered: DataFrame, past: DataFrame | None,
                   key: list[str], attributes: list[str]) -> None:
    versions = _versions(ordered, key, attributes)
    if past is None:
        lake.write_table(versions, history.name, "append")
        return
    # The open version of each key ends at the batch's first change of it; a rerun finds it closed.
    firsts = ordered.where(F.col("_n") == 1).select(*key, F.col("_changed_at").alias("_closes_at"))
    closing = (past.where(F.col("_valid_to").isNull()).join(firsts, key)
               .where(F.col("_valid_from") < F.col("_closes_at")))
    closed = closing.withColumn("_valid_to", F.col("_closes_at")).drop("_closes_at", FILE, ROW)
    # A version the history already has (a rerun after a stop) is not added twice.
    new = versions.join(past.select(*key, "_valid_from", "_batch_id"), [*key, "_valid_from", "_batch_id"], "left_anti")
    history.commit(removed=closing, added=closed.unionByName(new))


# --------------------------------------------------------------------------- current


def _latest_rows(ordered: DataFrame, key: list[str], attributes: list[str]) -> DataFrame:
    return ordered.where(F.col("_last")).select(*key, *attributes, *CHANGE_COLUMNS)


def _write_current(current: PositionedTable, ordered: DataFrame, versions: DataFrame,
                   key: list[str], attributes: list[str]) -> dict[str, int]:
    latest = _latest_rows(ordered, key, attributes).join(versions, key, "left")
    exists = F.col("_current_at").isNotNull()
    outcome = (F.when((F.col("_op") == "D") & exists, "deleted")
               .when(F.col("_op") == "D", "unchanged")
               .when(~exists, "inserted")
               .when(~F.col("_row_hash").eqNullSafe(F.col("_current_hash")), "updated")
               .otherwise("unchanged"))
    latest = latest.withColumn("_outcome", outcome).localCheckpoint()
    found = {row["_outcome"]: row["count"] for row in latest.groupBy("_outcome").count().collect()}
    counts = {name: found.get(name, 0) for name in ("inserted", "updated", "deleted", "unchanged")}
    rows = latest.where(F.col("_outcome").isin("inserted", "updated")).drop("_op", "_outcome", "_current_at",
                                                                             "_current_hash", FILE, ROW)
    if not current.exists:
        lake.write_table(rows, current.name, "append")
        return counts
    # An updated key's old row is replaced; a deleted key's row goes.
    replaced = latest.where(F.col("_outcome").isin("updated", "deleted"))
    current.commit(removed=replaced if counts["updated"] + counts["deleted"] else None,
                   added=rows if counts["inserted"] + counts["updated"] else None)
    return counts


# --------------------------------------------------------------------------- Delta, by row position


class PositionedTable:
    """A Delta table read and changed in one transaction, row by row position.

    `read` gives the table as of the transaction's start, each row with the file (`_file`) and
    row index (`_row`) it lives at. `commit` marks rows at given positions deleted (Delta deletion
    vectors: the files stay as they are) and adds new rows, in one commit. The transaction is
    Delta 4.4's own `OptimisticTransaction` (as in `citylake.delta_files`), so protocol checks,
    column mapping, statistics, checkpoints and conflict detection are Delta's: a concurrent
    commit to the table makes this one fail rather than remove rows it did not read."""

    def __init__(self, spark: SparkSession, name: str) -> None:
        self.spark, self.name = spark, name
        self._uri = lake.table_uri(name)
        self._jvm = spark._jvm
        self._delta = self._jvm.org.apache.spark.sql.delta
        self._log = self._delta.DeltaLog.forTable(spark._jsparkSession, self._uri)
        self._txn = self._log.startTransaction()
        self.version = int(self._txn.readVersion())
        self.exists = self.version >= 0

    def read(self) -> DataFrame:
        """The table as of the transaction's start, with each row's position."""
        table = self.spark.read.format("delta").option("versionAsOf", self.version).load(self._uri)
        return table.select("*", F.col("_metadata.file_path").alias(FILE), F.col("_metadata.row_index").alias(ROW))

    def commit(self, removed: DataFrame | None, added: DataFrame | None) -> None:
        """Delete the rows at `removed`'s positions and add the rows of `added`, in one commit
        (none when there is neither)."""
        actions = self._jvm.scala.jdk.javaapi.CollectionConverters.asScala(self._jvm.java.util.ArrayList()).toList()
        if removed is not None and not removed.isEmpty():
            self._require_deletion_vectors()
            actions = actions.appendedAll(self._deletion_vector_actions(removed.select(FILE, ROW)))
        if added is not None and not added.isEmpty():
            columns = list(self._txn.metadata().schema().fieldNames())
            actions = actions.appendedAll(self._txn.writeFiles(added.select(*columns)._jdf))
        if actions.isEmpty():
            return
        operation = getattr(self._delta, "DeltaOperations$Update")(self._jvm.scala.Option.empty())
        self._txn.commit(actions, operation)
        lake.publish(self.name)

    def _require_deletion_vectors(self) -> None:
        configuration = self._txn.metadata().getConfiguration()
        if str(configuration.get("delta.enableDeletionVectors")).lower() != "true":
            raise ValueError(f"{self.name} has no deletion vectors: set delta.enableDeletionVectors on it "
                             "(conf/lake.yml gives them to every new table)")

    def _deletion_vector_actions(self, positions: DataFrame):
        """Delta's DELETE-with-deletion-vectors steps, fed the positions instead of a condition:
        bitmaps of the rows per file (written as deletion-vector files, merged with the file's
        existing one), then each touched file removed and added back with its new vector."""
        commands = self._delta.commands
        session = self.spark._jsparkSession
        files = self._txn.filterFiles()  # every file: the commit conflicts with any concurrent change
        always = self._jvm.org.apache.spark.sql.catalyst.expressions.Literal.TrueLiteral()
        some = self._jvm.scala.Option.apply
        bitmaps = commands.DeletionVectorBitmapGenerator.buildRowIndexSetsForFilesMatchingCondition(
            session, self._txn, True, positions._jdf, files, always, some(F.col(FILE)._jc), some(F.col(ROW)._jc))
        helper = commands.DMLWithDeletionVectorsHelper
        touched = helper.findFilesWithMatchingRows(
            self._txn, helper.generateCandidateFileMap(self._log.dataPath(), files), bitmaps)
        prefix = self._delta.stats.StatsCollectionUtils.getDataSkippingStringPrefixLength(session, self._txn.metadata())
        return helper.processUnmodifiedData(session, touched, self._txn.snapshot(), prefix)._1()
