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
(by Arrow from the files Delta Kernel lists when the batch is small and the lake on local disk,
else by a Spark scan with `_metadata`). Everything else is computed on those few rows. Each table is then written in one
Delta commit that marks the replaced rows deleted with deletion vectors and adds the new rows:
no file is rewritten, and a rerun that finds nothing to do commits nothing. Delta's own MERGE
costs several times more here, because it joins the whole table twice and reads every column of
every touched file, and a batch of keys spread over the key space touches every file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_type

from citylake import delta_files, lake
from citylake.delta_files import COMMIT_SETTINGS
from citylake.spark import session_settings

CHANGE_COLUMNS = ["_op", "_changed_at", "_batch_id", "_sequence", "_record", "_row_hash"]
# Where a row of a table lives: the data file and the row's index in it (for deletion vectors).
FILE, ROW = "_file", "_row"
# An edit of a table (`PositionedTable.commit`): a row removed at its position, or a row added.
EDIT, REMOVE, ADD = "_edit", "remove", "add"
LATE = "_late"
# Up to this many changes, a batch's keys are broadcast to every task that scans a table, so the
# table is never shuffled; above it (a full extract that changed most rows), Spark chooses.
BROADCAST_CHANGES = 2_000_000
# Such a batch's steps run without adaptive execution: it makes each stage a Spark job of its own
# and plans it again, which on a batch's few rows costs more than it can save (they are spread
# evenly by key, so there is nothing to coalesce or split).
SMALL_BATCH_SETTINGS = {"spark.sql.adaptive.enabled": "false"}
# The rows of a data file the application adds: a batch's rows make a few files, not one per task.
ROWS_PER_FILE = 1_000_000


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


def apply_changes(spark: SparkSession, changes: DataFrame, resource_table: str, key: list[str], *,
                  full_extract: bool = False) -> Applied:
    """Apply a batch of changes to `integrated.<resource>` and its `_history`; `full_extract`:
    the changes are a full extract's diff (see `_mark_late`)."""
    steps = Steps()
    attributes = [c for c in changes.columns if c not in key and c not in CHANGE_COLUMNS]
    current = PositionedTable(spark, resource_table)
    history = PositionedTable(spark, f"{resource_table}_history")
    if not history.exists:
        if current.exists:
            raise ValueError(f"{resource_table} exists without its history {history.name}: restore the history "
                             "(Delta time travel) or drop both tables and integrate the resource again")
        return _load(spark, _distinct(changes, key), current, history, key, attributes, steps)
    with ByKey(spark, key) as by_key:
        with steps("read the batch"):
            changes = by_key.cache(_distinct(by_key.partition(changes), key))
            sizes = {row["_batch_id"]: row["count"] for row in changes.groupBy("_batch_id").count().collect()}
            batches = [batch for batch in sizes if batch is not None]  # a full extract's deletes may have none
            small = sum(sizes.values()) <= BROADCAST_CHANGES
            keys = BatchKeys(changes.select(*key).distinct(), small)
        with session_settings(spark, SMALL_BATCH_SETTINGS if small else {}):
            with steps("look up the batch's keys in current"):
                versions = by_key.cache(by_key.partition(_current_versions(current, changes, keys, key)))
            with steps("look up the batch's keys in history"):
                past = by_key.cache(by_key.partition(history.rows_of(keys)))
            with steps("order, set late changes aside"):
                marked = by_key.cache(_mark_late(changes, versions, past, batches, by_key, full_extract))
                # Returned to the caller, who may read it after the tables changed: computed now.
                late = marked.where(F.col(LATE)).drop(LATE).localCheckpoint()
                ordered = by_key.cache(order_changes(marked.where(~F.col(LATE)).drop(LATE), key))
                ordered.count()  # computed here, once, for the two tables' steps
            with steps("write history"):
                history.commit(_history_edits(ordered, past, batches, by_key, attributes))
            with steps("write current"):
                counts = _write_current(current, ordered, versions, by_key, attributes)
    return Applied(late=late, timings=steps.spent, **counts)


class ByKey:
    """The small frames of one application, all hash-partitioned the same way by key and cached
    for its duration (released on exit).

    Joining frames partitioned alike by key, and ordering each key's changes, moves no rows
    between tasks; each such move is a Spark stage of its own, and on a small batch stages and
    jobs are the cost. A cached frame keeps its partitioning, where a checkpoint of it would not."""

    def __init__(self, spark: SparkSession, key: list[str]) -> None:
        self.key = key
        self.partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
        self._cached: list[DataFrame] = []

    def partition(self, frame: DataFrame) -> DataFrame:
        return frame.repartition(self.partitions, *self.key)

    def cache(self, frame: DataFrame) -> DataFrame:
        """`frame` (partitioned by key, or derived from frames that are) kept until the exit."""
        cached = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(cached)
        return cached

    def join(self, left: DataFrame, right: DataFrame, how: str = "inner") -> DataFrame:
        """Two frames partitioned by key joined by key, task by task (a merge of the two sorted by
        key; Spark would otherwise broadcast a small side, a job of its own)."""
        return left.join(right.hint("merge"), self.key, how)

    def __enter__(self) -> ByKey:
        return self

    def __exit__(self, *exc: object) -> None:
        for frame in self._cached:
            frame.unpersist()


def _distinct(changes: DataFrame, key: list[str]) -> DataFrame:
    """A row delivered twice in one batch is one change, not two versions."""
    return changes.dropDuplicates([*key, "_changed_at", "_op", "_row_hash"])


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


def _current_versions(current: PositionedTable, changes: DataFrame, keys: BatchKeys, key: list[str]) -> DataFrame:
    """Current version of each key of the batch: its change time, hash and position."""
    if not current.exists:
        return changes.select(*key, F.col("_changed_at").alias("_current_at"), F.col("_row_hash").alias("_current_hash"),
                              F.lit(None).cast("string").alias(FILE), F.lit(None).cast("long").alias(ROW)).limit(0)
    rows = current.rows_of(keys, [*key, "_changed_at", "_row_hash"])
    return rows.select(*key, F.col("_changed_at").alias("_current_at"), F.col("_row_hash").alias("_current_hash"),
                       FILE, ROW)


def _mark_late(changes: DataFrame, versions: DataFrame, past: DataFrame, batches: list[str], by_key: ByKey,
               full_extract: bool) -> DataFrame:
    """The changes, each with `_late`: older than the latest change the lake knows of its key (the
    current version, or for a deleted key the delete that closed its last version). Versions this
    run's batches wrote themselves (a rerun) do not count.

    A full extract says what exists now: a deleted key it brings back (after an extract that
    left it out) is never late; it is back from the time of the delete, however old its row's own
    change time."""
    key = by_key.key
    ended = (past.where(~F.col("_batch_id").isin(batches)).groupBy(*key)
             .agg(F.max("_valid_to").alias("_ended_at")))
    known = versions.select(*key, F.col("_current_at").alias("_known_at"))
    marked = by_key.join(by_key.join(changes, known, "left"), ended, "left")
    if full_extract:
        back = F.col("_known_at").isNull() & F.col("_ended_at").isNotNull()
        marked = marked.withColumn("_changed_at", F.when(back, F.greatest("_changed_at", "_ended_at"))
                                   .otherwise(F.col("_changed_at")))
    else:
        marked = marked.withColumn("_known_at", F.greatest("_known_at", "_ended_at"))
    is_late = F.coalesce(F.col("_changed_at") < F.col("_known_at"), F.lit(False))
    return marked.withColumn(LATE, is_late).drop("_known_at", "_ended_at")


# --------------------------------------------------------------------------- history


def _versions(ordered: DataFrame, key: list[str], attributes: list[str]) -> DataFrame:
    """The versions the ordered changes make: each valid until the key's next change."""
    return (ordered.where(F.col("_op") != "D")
            .select(*key, *attributes, F.col("_changed_at").alias("_valid_from"),
                    F.col("_next_at").alias("_valid_to"), "_op", "_batch_id", "_sequence", "_row_hash"))


def _history_edits(ordered: DataFrame, past: DataFrame, batches: list[str], by_key: ByKey,
                   attributes: list[str]) -> DataFrame:
    """What the batch changes in the history: the open version of each key it changes is closed
    at its first change of the key (removed, and added back closed), and its versions are added.

    Versions of this run's batches the history already has (a run that stopped after the
    history's commit) are compared with the ones it makes now: the same ones stay, any other
    (a rerun that takes in a batch more) is replaced."""
    key = by_key.key
    versions = _versions(ordered, key, attributes)
    ours = F.col("_batch_id").isin(batches)
    firsts = ordered.where(F.col("_n") == 1).select(*key, F.col("_changed_at").alias("_closes_at"))
    closing = (by_key.join(past.where(~ours & F.col("_valid_to").isNull()), firsts)
               .where(F.col("_valid_from") < F.col("_closes_at")))
    closed = closing.withColumn("_valid_to", F.col("_closes_at")).drop("_closes_at", FILE, ROW)
    written = past.where(ours)
    if written.isEmpty():  # as on every run but one that follows a stop
        return _edits(removed=closing, added=closed.unionByName(versions))
    new = _unmatched(versions, written, key)
    stale = _unmatched(written, versions, key)
    return _edits(removed=closing.unionByName(stale, allowMissingColumns=True),
                  added=closed.unionByName(new))


def _unmatched(rows: DataFrame, others: DataFrame, key: list[str]) -> DataFrame:
    """The versions of `rows` that `others` does not have (same key, validity and batch)."""
    others = others.select(*[F.col(c).alias(f"_o{c}") for c in [*key, "_valid_from", "_valid_to", "_batch_id"]])
    same = [F.col(c) == F.col(f"_o{c}") for c in [*key, "_valid_from", "_batch_id"]]
    condition = same[0]
    for part in [*same[1:], F.col("_valid_to").eqNullSafe(F.col("_o_valid_to"))]:
        condition = condition & part
    return rows.join(others.hint("merge"), condition, "left_anti")


# --------------------------------------------------------------------------- current


def _latest_rows(ordered: DataFrame, key: list[str], attributes: list[str]) -> DataFrame:
    return ordered.where(F.col("_last")).select(*key, *attributes, *CHANGE_COLUMNS)


def _write_current(current: PositionedTable, ordered: DataFrame, versions: DataFrame,
                   by_key: ByKey, attributes: list[str]) -> dict[str, int]:
    latest = by_key.join(_latest_rows(ordered, by_key.key, attributes), versions, "left")
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
    replaced = latest.where(F.col("_outcome").isin("updated", "deleted")).select(FILE, ROW)
    current.commit(_edits(removed=replaced, added=rows))
    return counts


# --------------------------------------------------------------------------- Delta, by row position


def _edits(removed: DataFrame, added: DataFrame) -> DataFrame:
    """One frame of a table's edits, for `PositionedTable.commit`: the rows at `removed`'s
    positions go, the rows of `added` come."""
    return (removed.select(FILE, ROW).withColumn(EDIT, F.lit(REMOVE))
            .unionByName(added.withColumn(EDIT, F.lit(ADD)), allowMissingColumns=True))


@dataclass
class BatchKeys:
    """The distinct keys of a batch; `small`: few enough to send to every task (and the driver)."""

    frame: DataFrame
    small: bool

    @cached_property
    def arrow(self) -> pa.Table:
        return self.frame.toArrow()


def _arrow_schema(fields: list[T.StructField]) -> pa.Schema:
    return pa.schema([pa.field(field.name, to_arrow_type(field.dataType, timezone="UTC")) for field in fields])


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

    def rows_of(self, keys: BatchKeys, columns: list[str] | None = None) -> DataFrame:
        """The rows whose key is one of `keys`, these columns (default all) and their position.

        A small batch's keys are looked up by Arrow in the files Delta Kernel lists, where the
        table is on the local disk; otherwise (and on an object store) by a Spark scan."""
        schema = self.schema()
        wanted = [schema[name] for name in (columns or schema.names)]
        if keys.small:
            try:
                found = delta_files.lookup_arrow(self.spark, self._uri, self.version, _arrow_schema(wanted), keys.arrow)
            except delta_files.NotArrowReadable:
                pass
            else:
                positioned = T.StructType([*wanted, T.StructField(FILE, T.StringType()), T.StructField(ROW, T.LongType())])
                found = found.select([*[field.name for field in wanted], "file_path", "row_index"])
                return self.spark.createDataFrame(found.rename_columns(positioned.names), positioned)
        table = self.read().select(*[field.name for field in wanted], FILE, ROW)
        return table.join(F.broadcast(keys.frame) if keys.small else keys.frame, keys.frame.columns)

    def schema(self) -> T.StructType:
        """The table's columns, as of the transaction's start."""
        return T.StructType.fromJson(json.loads(self._txn.metadata().schema().json()))

    def commit(self, edits: DataFrame) -> None:
        """Apply `edits` (see `_edits`) in one commit: delete the rows at the removed positions and
        add the added rows. No commit when there is nothing to do."""
        edits = edits.localCheckpoint()
        counts = {row[EDIT]: row["count"] for row in edits.groupBy(EDIT).count().collect()}
        actions = self._jvm.scala.jdk.javaapi.CollectionConverters.asScala(self._jvm.java.util.ArrayList()).toList()
        if counts.get(REMOVE):
            self._require_deletion_vectors()
            removed = edits.where(F.col(EDIT) == REMOVE).select(FILE, ROW)
            actions = actions.appendedAll(self._deletion_vector_actions(removed))
        if counts.get(ADD):
            added = edits.where(F.col(EDIT) == ADD).select(*self.schema().names).coalesce(-(-counts[ADD] // ROWS_PER_FILE))
            actions = actions.appendedAll(self._txn.writeFiles(added._jdf))
        if not actions.isEmpty():
            operation = getattr(self._delta, "DeltaOperations$Update")(self._jvm.scala.Option.empty())
            with session_settings(self.spark, COMMIT_SETTINGS):
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
