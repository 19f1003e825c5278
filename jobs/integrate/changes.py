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

How a batch is applied, and why it costs a small share of rewriting the tables. A resource's
first batch writes both tables whole with Spark. Every later batch touches the rows of its own
keys only, and is applied on the driver, where a daily batch's few rows cost no Spark job at all:

1. each table is read once by Arrow, from the files Delta Kernel lists, keeping the rows of the
   batch's keys with the file and row index each lives at (`ExternalCommit.lookup`);
2. the per-key work (order, late rows, versions to close, outcomes) runs in polars on those rows;
3. each table is written in one Delta commit that marks the replaced rows deleted with deletion
   vectors and adds the new rows as an Arrow-written file: no file is rewritten, and a rerun that
   finds nothing to do commits nothing.

A batch of keys spread over the key space touches every file, so no file can be skipped; Delta's
own MERGE would join the whole table twice and rewrite every touched file, and a Spark job per
step costs more than a daily batch's data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_type

from citylake import lake
from citylake.delta_files import ExternalCommit
from citylake.settings import lake_layout

CHANGE_COLUMNS = ["_op", "_changed_at", "_batch_id", "_sequence", "_record", "_row_hash"]
# Where a row of a table lives: the data file and the row's index in it (for deletion vectors).
FILE, ROW = "file_path", "row_index"
LATE = "_late"
# The order of a key's changes: business time, then delivery order.
CHANGE_ORDER = ["_changed_at", "_sequence", "_record"]
# A change delivered twice in one batch (same key and these) is one change.
SAME_CHANGE = ["_changed_at", "_op", "_row_hash"]
# The columns each table has after the resource's own (typed) columns, and their types.
CURRENT_COLUMNS = [column for column in CHANGE_COLUMNS if column != "_op"]
HISTORY_COLUMNS = ["_valid_from", "_valid_to", "_op", "_batch_id", "_sequence", "_row_hash"]
_COLUMN_TYPES = {"_op": "string", "_changed_at": "timestamp", "_batch_id": "string", "_sequence": "bigint",
                 "_record": "bigint", "_row_hash": "bigint", "_valid_from": "timestamp", "_valid_to": "timestamp"}


def table_schema(attributes: list[tuple[str, str]], *, history: bool) -> T.StructType:
    """The schema of a resource's current table or history, given its (column, type) pairs: what
    a reader of a resource not yet delivered can stand in for the table."""
    columns = [*attributes, *[(name, _COLUMN_TYPES[name]) for name in (HISTORY_COLUMNS if history else CURRENT_COLUMNS)]]
    return T.StructType.fromDDL(", ".join(f"`{name}` {kind}" for name, kind in columns))


@dataclass
class Applied:
    """What applying one batch did, and how long each step took (seconds); `late`: the changes
    set aside as older than what the lake knows of their key."""

    inserted: int
    updated: int
    deleted: int
    unchanged: int
    late: pa.Table
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


COUNTS = ("inserted", "updated", "deleted", "unchanged", "late")
RUN_MARK = "integration_run"  # the key of a run's mark in its current-table commit


@dataclass(frozen=True)
class Run:
    """A run of batches applied together, named for the ledger; its mark (with the counts) is the
    userMetadata of the current table's commit, so that a run killed after that commit and before
    its ledger rows reports, when run again, what it did rather than that nothing was left to do."""

    label: str
    batches: tuple[str, ...]

    def mark(self, counts: dict[str, int]) -> str:
        return json.dumps({RUN_MARK: self.label, "batches": list(self.batches), **counts}, sort_keys=True)

    def is_marked_by(self, metadata: str) -> bool:
        try:
            mark = json.loads(metadata)
        except ValueError:
            return False
        return isinstance(mark, dict) and mark.get(RUN_MARK) == self.label and mark.get("batches") == list(self.batches)


def applied_before(spark: SparkSession, resource_table: str, run: Run) -> dict[str, int] | None:
    """The counts of the run if its current-table commit is already made, else None."""
    for metadata in lake.recent_user_metadata(spark, resource_table):
        if run.is_marked_by(metadata):
            mark = json.loads(metadata)
            return {name: int(mark[name]) for name in COUNTS}
    return None


def apply_changes(spark: SparkSession, changes: DataFrame, resource_table: str, key: list[str], *,
                  full_extract: bool = False, run: Run | None = None) -> Applied:
    """Apply a batch of changes to `integrated.<resource>` and its `_history`; `full_extract`:
    the changes are a full extract's diff (see `_mark_late`); `run`: the run whose mark the
    current table's commit carries."""
    steps = Steps()
    attributes = [c for c in changes.columns if c not in key and c not in CHANGE_COLUMNS]
    properties = lake_layout().table_properties
    current = ExternalCommit(spark, lake.table_uri(resource_table), properties)
    history = ExternalCommit(spark, lake.table_uri(f"{resource_table}_history"), properties)
    if not history.table_exists:
        if current.table_exists:
            raise ValueError(f"{resource_table} exists without its history {resource_table}_history: restore the "
                             "history (Delta time travel) or drop both tables and integrate the resource again")
        return _load(spark, changes, resource_table, key, attributes, steps, run)
    with steps("read the batch"):
        batch = _distinct(_frame(changes.toArrow()), key)
        batches = batch.get_column("_batch_id").drop_nulls().unique().to_list()  # a full's deletes may have none
        keys = batch.select(key).unique().to_arrow()
    with steps("look up the batch's keys in current"):
        versions = _current_versions(current, batch, keys, key)
    with steps("look up the batch's keys in history"):
        past = _frame(history.lookup(_arrow_schema(history), keys))
    with steps("order, set late changes aside"):
        marked = _mark_late(batch, versions, past, batches, key, full_extract)
        late = marked.filter(pl.col(LATE)).drop(LATE)
        ordered = _ordered(marked.filter(~pl.col(LATE)).drop(LATE), key)
    with steps("write history"):
        removed, added = _history_edits(ordered, past, batches, key, attributes)
        _commit(history, f"{resource_table}_history", removed, added)
    with steps("write current"):
        counts = _write_current(current, resource_table, ordered, versions, key, attributes, run, late.height)
    return Applied(late=late.to_arrow(), timings=steps.spent, **counts)


def _frame(table: pa.Table) -> pl.DataFrame:
    """An Arrow table as a polars frame, every timestamp in UTC (Spark hands them in the session's
    zone; the tables hold UTC), so that times from both compare."""
    columns = [column.cast(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(column.type) else column
               for column in table.columns]
    return pl.from_arrow(pa.Table.from_arrays(columns, names=table.column_names))


def _distinct(changes: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """A row delivered twice in one batch is one change, not two versions."""
    return changes.unique([*key, *SAME_CHANGE], keep="first", maintain_order=True)


def _arrow_schema(table: ExternalCommit, columns: list[str] | None = None) -> pa.Schema:
    """The table's columns (default all) as Arrow types, timestamps in UTC."""
    fields = T.StructType.fromJson({"type": "struct", "fields": table.columns.fields}).fields
    return _arrow_fields([f for f in fields if columns is None or f.name in columns])


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


def _load(spark: SparkSession, changes: DataFrame, resource_table: str, key: list[str], attributes: list[str],
          steps: Steps, run: Run | None) -> Applied:
    """The first batch of a resource: both tables written whole by Spark (nothing to look up or
    replace), the history first."""
    with steps("order"):
        by_key = Window.partitionBy(*key).orderBy(*CHANGE_ORDER)
        ordered = (changes.dropDuplicates([*key, *SAME_CHANGE])
                   .withColumn("_next_at", F.lead("_changed_at").over(by_key))
                   .withColumn("_last", F.lead(F.lit(True)).over(by_key).isNull())
                   .persist())
    try:
        with steps("write history"):
            versions = ordered.where(F.col("_op") != "D").select(*key, *attributes, *_version_columns(F.col))
            lake.write_table(versions, f"{resource_table}_history", "append")
        with steps("write current"):
            latest = ordered.where(F.col("_last") & (F.col("_op") != "D")).select(*key, *attributes, *CHANGE_COLUMNS)
            inserted = latest.count()
            mark = run.mark(dict(inserted=inserted, updated=0, deleted=0, unchanged=0, late=0)) if run else None
            lake.write_table(latest.drop("_op"), resource_table, "append",
                             options={"userMetadata": mark} if mark else None)
    finally:
        ordered.unpersist()
    return Applied(inserted=inserted, updated=0, deleted=0, unchanged=0,
                   late=_arrow_fields(changes.schema.fields).empty_table(), timings=steps.spent)


def _version_columns(col):
    """A history row's columns after its key and attributes (`HISTORY_COLUMNS`), from an ordered
    change (`col` is Spark's or polars' column function: both engines write versions alike)."""
    return [col("_changed_at").alias("_valid_from"), col("_next_at").alias("_valid_to"),
            *[col(name) for name in HISTORY_COLUMNS[2:]]]


# --------------------------------------------------------------------------- looking up the batch's keys


def _current_versions(current: ExternalCommit, batch: pl.DataFrame, keys: pa.Table, key: list[str]) -> pl.DataFrame:
    """Current version of each key of the batch: its change time, hash and position."""
    wanted = [*key, "_changed_at", "_row_hash"]
    if current.table_exists:
        rows = _frame(current.lookup(_arrow_schema(current, wanted), keys))
    else:  # a first batch that stopped between its history and its current table
        rows = batch.select(wanted).clear().with_columns(pl.lit(None, pl.String).alias(FILE),
                                                         pl.lit(None, pl.Int64).alias(ROW))
    return rows.select(*key, pl.col("_changed_at").alias("_current_at"), pl.col("_row_hash").alias("_current_hash"),
                       FILE, ROW)


def _mark_late(changes: pl.DataFrame, versions: pl.DataFrame, past: pl.DataFrame, batches: list[str],
               key: list[str], full_extract: bool) -> pl.DataFrame:
    """The changes, each with `_late`: older than the latest change the lake knows of its key (the
    current version, or for a deleted key the delete that closed its last version). Versions this
    run's batches wrote themselves (a rerun) do not count.

    A full extract says what exists now: a deleted key it brings back (after an extract that
    left it out) is never late; it is back from the time of the delete, however old its row's own
    change time."""
    ended = (past.filter(~pl.col("_batch_id").is_in(batches)).group_by(key)
             .agg(pl.col("_valid_to").max().alias("_ended_at")))
    known = versions.select(*key, pl.col("_current_at").alias("_known_at"))
    marked = changes.join(known, on=key, how="left").join(ended, on=key, how="left")
    if full_extract:
        back = pl.col("_known_at").is_null() & pl.col("_ended_at").is_not_null()
        marked = marked.with_columns(pl.when(back).then(pl.max_horizontal("_changed_at", "_ended_at"))
                                     .otherwise(pl.col("_changed_at")).alias("_changed_at"))
    else:
        marked = marked.with_columns(pl.max_horizontal("_known_at", "_ended_at").alias("_known_at"))
    is_late = (pl.col("_changed_at") < pl.col("_known_at")).fill_null(False)
    return marked.with_columns(is_late.alias(LATE)).drop("_known_at", "_ended_at")


def _ordered(changes: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Each key's changes in business order: numbered (`_n`), with the time the next one takes
    over (`_next_at`) and whether it is the key's last (`_last`)."""
    position = pl.int_range(pl.len()).over(key)
    return (changes.sort([*key, *CHANGE_ORDER])
            .with_columns((position + 1).alias("_n"), pl.col("_changed_at").shift(-1).over(key).alias("_next_at"),
                          (position == pl.len().over(key) - 1).alias("_last")))


# --------------------------------------------------------------------------- history


def _versions(ordered: pl.DataFrame, key: list[str], attributes: list[str]) -> pl.DataFrame:
    """The versions the ordered changes make: each valid until the key's next change."""
    return ordered.filter(pl.col("_op") != "D").select(*key, *attributes, *_version_columns(pl.col))


def _history_edits(ordered: pl.DataFrame, past: pl.DataFrame, batches: list[str], key: list[str],
                   attributes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the batch changes in the history, as (positions removed, rows added): the open
    version of each key it changes is closed at its first change of the key (removed, and added
    back closed), and its versions are added.

    Versions of this run's batches the history already has (a run that stopped after the
    history's commit) are compared with the ones it makes now: the same ones stay, any other
    (a rerun that takes in a batch more) is replaced."""
    versions = _versions(ordered, key, attributes)
    ours = pl.col("_batch_id").is_in(batches)
    firsts = ordered.filter(pl.col("_n") == 1).select(*key, pl.col("_changed_at").alias("_closes_at"))
    closing = (past.filter(~ours & pl.col("_valid_to").is_null()).join(firsts, on=key)
               .filter(pl.col("_valid_from") < pl.col("_closes_at")))
    closed = closing.with_columns(pl.col("_closes_at").alias("_valid_to")).drop("_closes_at", FILE, ROW)
    written = past.filter(ours)
    if written.is_empty():  # as on every run but one that follows a stop
        return closing.select(FILE, ROW), pl.concat([closed, versions], how="diagonal_relaxed")
    new = _unmatched(versions, written, key)
    stale = _unmatched(written, versions, key)
    return (pl.concat([closing.select(FILE, ROW), stale.select(FILE, ROW)]),
            pl.concat([closed, new], how="diagonal_relaxed"))


def _unmatched(rows: pl.DataFrame, others: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The versions of `rows` that `others` does not have (same key, validity and batch)."""
    same = [*key, "_valid_from", "_valid_to", "_batch_id"]
    return rows.join(others.select(same), on=same, how="anti", nulls_equal=True)


# --------------------------------------------------------------------------- current


def _write_current(current: ExternalCommit, name: str, ordered: pl.DataFrame, versions: pl.DataFrame,
                   key: list[str], attributes: list[str], run: Run | None, late: int) -> dict[str, int]:
    latest = (ordered.filter(pl.col("_last")).select(*key, *attributes, *CHANGE_COLUMNS)
              .join(versions, on=key, how="left"))
    exists, deleting = pl.col(FILE).is_not_null(), pl.col("_op") == "D"
    outcome = (pl.when(deleting & exists).then(pl.lit("deleted"))
               .when(deleting).then(pl.lit("unchanged"))
               .when(~exists).then(pl.lit("inserted"))
               .when(~pl.col("_row_hash").eq_missing(pl.col("_current_hash"))).then(pl.lit("updated"))
               .otherwise(pl.lit("unchanged")))
    latest = latest.with_columns(outcome.alias("_outcome"))
    found = dict(latest.group_by("_outcome").len().iter_rows())
    counts = {outcome: found.get(outcome, 0) for outcome in ("inserted", "updated", "deleted", "unchanged")}
    rows = latest.filter(pl.col("_outcome").is_in(["inserted", "updated"])).drop(
        "_op", "_outcome", "_current_at", "_current_hash", FILE, ROW)
    # An updated key's old row is replaced; a deleted key's row goes.
    replaced = latest.filter(pl.col("_outcome").is_in(["updated", "deleted"])).select(FILE, ROW)
    _commit(current, name, replaced, rows, run.mark({**counts, "late": late}) if run else None)
    return counts


# --------------------------------------------------------------------------- Delta, by row position


def _commit(table: ExternalCommit, name: str, removed: pl.DataFrame, added: pl.DataFrame,
            user_metadata: str | None = None) -> None:
    """One commit of a table's edits: the rows at `removed`'s positions go, `added`'s rows come
    (no commit when there is nothing to do)."""
    table.remove_rows(removed.to_arrow())
    files = table.write_rows(added.to_arrow(), lake.table_folder(name)) if added.height else []
    if table.commit(files, user_metadata=user_metadata) is not None:
        lake.publish(name)


def _arrow_fields(fields: list[T.StructField]) -> pa.Schema:
    return pa.schema([pa.field(f.name, to_arrow_type(f.dataType, timezone="UTC")) for f in fields])
