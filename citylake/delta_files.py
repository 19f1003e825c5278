"""Changing a Delta table with Parquet files written outside Spark (by Arrow) and rows removed by
position, as one commit made by Delta Lake's own transaction code.

Landing writes a batch's rows once, with Arrow, straight into the table's folder. This module
makes those files part of the table: it tells the writer which physical column name and field
id each column has under the table's column mapping (`name` mode, conf/lake.yml), and commits the
files together with any new columns (or a new table's metadata) and the idempotency marker
(`txn` appId/version) in one atomic commit. The commit goes through Delta 4.4's
`OptimisticTransaction` in Spark's JVM, so protocol and column-mapping checks, conflict
detection, checksums and checkpoints are Delta's own: nothing here writes the log by hand.

The integration job changes tables the same way: it looks a batch's keys up in the files Delta
Kernel lists, removes replaced rows with deletion vectors (Delta's bitmap and store classes, on
the driver) and adds the new rows as Arrow-written files, in one commit and no Spark job.

`append_rows` uses the same path for a few rows (the landing ledger's entry): one small Arrow
file and one commit, where a DataFrame write would run Spark jobs to write a single row.
`read_arrow` is its reading side: a small table's rows read by Arrow from the files Delta Kernel
lists, where a Spark query would pay Spark's first-use cost of its read path in a landing run.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Union
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from citylake.spark import session_settings

MAPPING_MODE = "delta.columnMapping.mode"
MAX_COLUMN_ID = "delta.columnMapping.maxColumnId"
PHYSICAL_NAME = "delta.columnMapping.physicalName"
COLUMN_ID = "delta.columnMapping.id"

# A column's type as the Delta schema writes it: a name (string, long, ...) or, for an array,
# its JSON object ({"type": "array", "elementType": "string", "containsNull": true}).
DeltaType = Union[str, dict]

# Delta types and the Arrow types their data files hold (timestamps: microseconds, UTC, as Spark's).
ARROW_TYPES = {"string": pa.string(), "long": pa.int64(), "integer": pa.int32(), "double": pa.float64(),
               "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC")}
DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
# Delta statistics are kept for these types only: their Parquet min/max are exact Delta bounds
# (a timestamp's or a double's Delta bound is written in a form of its own).
STATS_TYPES = {"string", "long"}

# In a session whose time zone is not UTC, Delta 4.4 re-reads the whole table state after every
# commit (two Spark jobs) to check the file list it derived for the checksum file against a real
# state reconstruction; the check is aimed at timestamp statistics and partition values, which
# the commits made here never carry (STATS_TYPES, no partitions), and its outcome only decides
# whether the checksum file keeps its file list, which no reader of the lake uses.
FORCED_CRC_VERIFICATION = "spark.databricks.delta.allFilesInCrc.verificationMode.forceOnNonUTC.enabled"
# For that file list, the commit that creates a table collects the (empty) files of the table
# before it with a Spark job: on a process's first new table, seconds of Spark's first use.
ALL_FILES_IN_CRC = "spark.databricks.delta.allFilesInCrc.enabled"
# The session settings of our commits (their own restored after each).
COMMIT_SETTINGS = {FORCED_CRC_VERIFICATION: "false", ALL_FILES_IN_CRC: "false"}
# The commit info's userMetadata where the operation carries none (Delta's public setting).
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@dataclass(frozen=True)
class Column:
    """A table column as a data file must hold it."""

    name: str
    type: DeltaType           # string, long, double, timestamp, or an array's JSON object
    physical: str             # the column's name inside Parquet files
    field_id: int | None      # the Parquet field id (None without column mapping)


@dataclass
class ColumnLayout:
    """The table's columns, growing as a write meets columns the table does not have yet.

    New columns get their column-mapping id and physical name here, before any file is written,
    so that the files and the commit's metadata agree (Delta keeps ids and names it is given)."""

    fields: list[dict]
    mapped: bool
    max_id: int
    added: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, metadata: dict | None, new_table_properties: dict[str, str]) -> "ColumnLayout":
        if metadata is None:
            mapped = new_table_properties.get(MAPPING_MODE, "none") != "none"
            return cls(fields=[], mapped=mapped, max_id=0)
        configuration = metadata.get("configuration", {})
        return cls(fields=json.loads(metadata["schemaString"])["fields"],
                   mapped=configuration.get(MAPPING_MODE, "none") != "none",
                   max_id=int(configuration.get(MAX_COLUMN_ID, "0")))

    def get(self, name: str) -> Column | None:
        """The column called `name`, if the layout has it."""
        spec = next((spec for spec in self.fields if spec["name"] == name), None)
        return _column(spec) if spec is not None else None

    def column(self, name: str, delta_type: DeltaType) -> Column:
        """The column called `name`, added to the layout if the table does not have it."""
        existing = self.get(name)
        if existing is not None:
            if existing.type != delta_type:
                raise ValueError(f"column {name} is {existing.type} in the table, not {delta_type}")
            return existing
        metadata = {}
        if self.mapped:
            self.max_id += 1
            metadata = {COLUMN_ID: self.max_id, PHYSICAL_NAME: f"col-{uuid.uuid4()}"}
        new = {"name": name, "type": delta_type, "nullable": True, "metadata": metadata}
        self.fields.append(new)
        self.added.append(name)
        return _column(new)

    def schema_string(self) -> str:
        return json.dumps({"type": "struct", "fields": self.fields}, ensure_ascii=False)


def _column(spec: dict) -> Column:
    metadata = spec.get("metadata", {})
    return Column(spec["name"], spec["type"], metadata.get(PHYSICAL_NAME, spec["name"]), metadata.get(COLUMN_ID))


@dataclass(frozen=True)
class DataFile:
    """A Parquet file under the table's folder, with its Delta statistics (keyed by physical name)."""

    path: str                 # relative to the table's root, URL-safe
    size: int
    modified_ms: int
    stats: dict

    def add_action(self) -> dict:
        return {"add": {"path": self.path, "partitionValues": {}, "size": self.size,
                        "modificationTime": self.modified_ms, "dataChange": True,
                        "stats": json.dumps(self.stats, ensure_ascii=False)}}


def arrow_type(delta_type: DeltaType) -> pa.DataType:
    """The Arrow type a data file holds for a column of this Delta type."""
    if isinstance(delta_type, dict) and delta_type.get("type") == "array":
        return pa.list_(arrow_type(delta_type["elementType"]))
    decimal = DECIMAL.fullmatch(delta_type)
    if decimal:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    return ARROW_TYPES[delta_type]


def delta_type(arrow: pa.DataType) -> DeltaType:
    """The Delta type of a column whose values come as this Arrow type (the inverse of `arrow_type`)."""
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return {"type": "array", "elementType": delta_type(arrow.value_type), "containsNull": True}
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
        return "string"
    for name, known in ARROW_TYPES.items():
        if arrow == known:
            return name
    raise ValueError(f"no Delta type for Arrow type {arrow}")


def arrow_field(column: Column) -> pa.Field:
    """The data file's field of a column: its physical name, Arrow type and Parquet field id."""
    metadata = {b"PARQUET:field_id": str(column.field_id).encode()} if column.field_id is not None else None
    return pa.field(column.physical, arrow_type(column.type), metadata=metadata)


def data_file(path: Path, root: Path, metadata: pq.FileMetaData, columns: Iterable[Column | None]) -> DataFile:
    """A Parquet file written under the table's root, with Delta statistics of the given columns
    (those of STATS_TYPES) taken from its footer."""
    stat = path.stat()
    wanted = {column.physical for column in columns
              if column is not None and isinstance(column.type, str) and column.type in STATS_TYPES}
    return DataFile(path.relative_to(root).as_posix(), stat.st_size, int(stat.st_mtime * 1000),
                    delta_stats(metadata, wanted))


def delta_stats(metadata: pq.FileMetaData, physical_columns: set[str]) -> dict:
    """Delta file statistics (records; min, max and nulls of the wanted columns) from the Parquet
    footer's row-group statistics, which Arrow wrote anyway: no second look at the rows."""
    low, high, nulls = {}, {}, {}
    exact = set(physical_columns)
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            name = chunk.path_in_schema
            if name not in physical_columns:
                continue
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:
                exact.discard(name)
                continue
            nulls[name] = nulls.get(name, 0) + stats.null_count
            if stats.has_min_max:
                low[name] = stats.min if name not in low else min(low[name], stats.min)
                high[name] = stats.max if name not in high else max(high[name], stats.max)
            elif stats.null_count != row_group.num_rows:
                exact.discard(name)  # values without bounds: no bound is better than a wrong one
    return {"numRecords": metadata.num_rows, "minValues": _only(low, exact), "maxValues": _only(high, exact),
            "nullCount": _only(nulls, exact), "tightBounds": True}


def _only(values: dict, names: set[str]) -> dict:
    return {name: value for name, value in values.items() if name in names}


@dataclass(frozen=True)
class ScanFile:
    """A data file of a table's snapshot: its absolute path (as Spark's `_metadata.file_path` gives
    it) and Delta Kernel's add action for it (with statistics and any deletion vector)."""

    path: str
    add: object  # io.delta.kernel.internal.actions.AddFile

    @property
    def deletion_vector(self):
        descriptor = self.add.getDeletionVector()
        return descriptor.get() if descriptor.isPresent() else None


class ExternalCommit:
    """One Delta transaction on a table, open while its rows are looked up, new files are written
    outside Spark (by Arrow) and rows are removed by position.

    `columns` gives a writer each column's physical name; `write_rows` writes rows as data files
    of the table; `remove_rows` marks rows deleted with deletion vectors; `commit` adds the files,
    the removals, any new columns (or the new table) and the `txn` marker in one commit, or raises
    and changes nothing. Nothing here runs a Spark job: the files come from Delta Kernel's listing
    of the snapshot the transaction read, deletion vectors are built on the driver with Delta's
    own bitmap and store classes, and the commit is Delta's `OptimisticTransaction`. The table must
    be on the local disk (NotArrowReadable otherwise), where Arrow reads and writes its files."""

    def __init__(self, spark: SparkSession, uri: str, new_table_properties: dict[str, str]) -> None:
        _require_local(uri)
        self._spark, self._uri = spark, uri
        self._jvm = spark._jvm
        self._delta = self._jvm.org.apache.spark.sql.delta
        self._log = self._delta.DeltaLog.forTable(spark._jsparkSession, uri)
        self._txn = self._log.startTransaction()
        self.version = int(self._txn.readVersion())
        self.table_exists = self.version >= 0
        self._metadata = json.loads(self._txn.metadata().json())["metaData"] if self.table_exists else None
        self._new_table_properties = new_table_properties
        self.columns = ColumnLayout.of(self._metadata, new_table_properties)
        self._removals: list = []

    def committed_version(self, app_id: str) -> int | None:
        """The version of `app_id` this table has committed (Delta's idempotent-write marker), if any.

        Read by Delta Kernel from the snapshot this transaction read: Delta Spark's `txnVersion`
        rebuilds the table's whole state with Spark jobs for it. The transaction still records
        that it read `app_id`, so a concurrent commit of the same marker makes this one fail."""
        if not self.table_exists:
            return None
        version = self._snapshot.getLatestTransactionVersion(self._kernel, app_id)
        self._txn.readTxn().addOne(app_id)
        return int(version.get()) if version.isPresent() else None

    # ----------------------------------------------------------------------- reading

    @cached_property
    def _kernel(self):
        return _kernel_engine(self._spark)

    @cached_property
    def _snapshot(self):
        return _kernel_snapshot(self._spark, self._kernel, self._uri, self.version)

    @cached_property
    def data_files(self) -> dict[str, ScanFile]:
        """The data files of the snapshot this transaction read, by absolute path."""
        if not self.table_exists:
            return {}
        return {file.path: file for file in _scan_files(self._jvm, self._kernel, self._snapshot)}

    def lookup(self, schema: pa.Schema, keys: pa.Table) -> pa.Table:
        """The rows whose key (the columns of `keys`) is one of `keys`: the columns of `schema` (by
        name, as its types), the data file each lives in (`file_path`, absolute) and its index in
        the file (`row_index`), leaving out rows a deletion vector deleted.

        Looking up a batch's keys, this reads a large table several times faster than a Spark scan
        (Arrow's native reader, no Spark job or Delta state reconstruction)."""
        result_schema = schema.append(pa.field("row_index", pa.int64())).append(pa.field("file_path", pa.string()))
        if not self.table_exists:
            return result_schema.empty_table()
        wanted = [self.columns.get(name) for name in schema.names]
        keys = keys.cast(pa.schema([schema.field(name) for name in keys.column_names]))
        parts = []
        for file in self.data_files.values():
            rows = _file_columns(_local_path(file.path), wanted, schema)
            # Only the key columns go through the join; the matched rows are taken from the rest.
            index = rows.select(keys.column_names).append_column(
                "row_index", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
            if file.deletion_vector is not None:
                index = index.filter(self._kept(file, rows.num_rows))
            positions = index.join(keys, keys.column_names, join_type="inner").column("row_index")
            positions = positions.take(pc.sort_indices(positions))  # in file order: a local take
            found = rows.take(positions).append_column("row_index", positions)
            parts.append(found.append_column("file_path", pa.repeat(pa.scalar(file.path), found.num_rows)))
        if not parts:
            return result_schema.empty_table()
        return pa.concat_tables([part.select(result_schema.names).cast(result_schema) for part in parts])

    def _kept(self, file: ScanFile, rows: int) -> np.ndarray:
        """A mask of a data file's rows: False where its deletion vector deleted the row."""
        from py4j.java_gateway import get_field

        loaded = self._jvm.io.delta.kernel.internal.deletionvectors.DeletionVectorUtils.loadNewDvAndBitmap(
            self._kernel, self._snapshot.getPath(), file.deletion_vector)
        kept = np.ones(rows, dtype=bool)
        kept[_from_java_longs(self._jvm, get_field(loaded, "_2").toArray())] = False
        return kept

    # ----------------------------------------------------------------------- writing

    def write_rows(self, rows: pa.Table, root: Path, rows_per_file: int = 1_000_000) -> list[DataFile]:
        """`rows` (by column name) written as data files of the table under `root`, its folder;
        a column the table lacks is added to it by the commit."""
        # A column the table has keeps its type; the rows' values are cast to it.
        columns = [self.columns.get(field.name) or self.columns.column(field.name, delta_type(field.type))
                   for field in rows.schema]
        schema = pa.schema([arrow_field(column) for column in columns])
        root.mkdir(parents=True, exist_ok=True)
        files = []
        for start in range(0, rows.num_rows, rows_per_file):
            part = rows.slice(start, rows_per_file)
            path = root / f"part-{uuid.uuid4()}.snappy.parquet"
            collected: list[pq.FileMetaData] = []
            pq.write_table(pa.Table.from_arrays([part.column(i).cast(field.type) for i, field in enumerate(schema)],
                                                schema=schema),
                           path, compression="snappy", metadata_collector=collected)
            files.append(data_file(path, root, collected[0], columns))
        return files

    def remove_rows(self, positions: pa.Table) -> None:
        """Mark the rows at `positions` (`file_path`, `row_index`, as `lookup` gives them) deleted,
        in the commit: per touched file a deletion vector (merged with its existing one) written to
        the table's folder, and the file removed and added back with it, or removed outright when
        no row of it is left. As Delta's own DELETE does, without its Spark jobs."""
        if positions.num_rows == 0:
            return
        self._require_deletion_vectors()
        jvm, delta = self._jvm, self._delta
        store = _scala_object(delta.storage.dv, "DeletionVectorStore").createInstance(self._log.newDeltaHadoopConf())
        table_path = self._log.dataPath()
        utils = _scala_object(delta.util, "Utils")
        prefix = utils.getRandomPrefix(utils.getRandomPrefixLength(self._txn.metadata()))
        created = _scala_object(delta.commands, "DeletionVectorWriter").createWriter(
            store, store.pathWithFileSystem(table_path), prefix)
        writer, file_id = created._1(), created._2()
        portable = _scala_object(delta.deletionvectors, "RoaringBitmapArrayFormat").Portable()
        descriptors = _scala_object(delta.actions, "DeletionVectorDescriptor")
        now = int(time.time() * 1000)
        try:
            for path, rows in _rows_by_file(positions).items():
                if path not in self.data_files:
                    raise ValueError(f"{path} is not a data file of {self._uri} at version {self.version}")
                add = self._spark_add(self.data_files[path].add)
                bitmap = _bitmap(jvm, rows)
                if add.deletionVector() is not None:
                    existing = _scala_object(delta.deletionvectors, "StoredBitmap").create(
                        add.deletionVector(), table_path).load(store)
                    existing.merge(bitmap)
                    bitmap = existing
                if bitmap.cardinality() == add.numPhysicalRecords().get():
                    self._removals.append(add.removeWithTimestamp(now, True))
                    continue
                data = bitmap.serializeAsByteArray(portable)
                stored = writer.write(data)
                descriptor = descriptors.onDiskWithRelativePath(
                    file_id, prefix, len(data), bitmap.cardinality(), jvm.scala.Option.apply(stored.offset()),
                    jvm.scala.Option.empty())
                replaced = add.removeRows(descriptor, True, True)  # statistics widened; a data change
                self._removals.extend([replaced._1(), replaced._2()])
        finally:
            writer.close()

    def _spark_add(self, add):
        """Delta Spark's add action for a file Delta Kernel listed."""
        action = {"path": add.getPath(), "partitionValues": {}, "size": add.getSize(),
                  "modificationTime": add.getModificationTime(), "dataChange": True}
        if add.getStatsJson().isPresent():
            action["stats"] = add.getStatsJson().get()
        descriptor = add.getDeletionVector()
        if descriptor.isPresent():
            dv = descriptor.get()
            action["deletionVector"] = {"storageType": dv.getStorageType(), "pathOrInlineDv": dv.getPathOrInlineDv(),
                                        "sizeInBytes": dv.getSizeInBytes(), "cardinality": dv.getCardinality()}
            if dv.getOffset().isPresent():
                action["deletionVector"]["offset"] = dv.getOffset().get()
        for name, value in (("baseRowId", add.getBaseRowId()), ("defaultRowCommitVersion", add.getDefaultRowCommitVersion())):
            if value.isPresent():
                action[name] = value.get()
        return self._action({"add": action})

    def _require_deletion_vectors(self) -> None:
        configuration = (self._metadata or {}).get("configuration", {})
        if str(configuration.get("delta.enableDeletionVectors")).lower() != "true":
            raise ValueError(f"{self._uri} has no deletion vectors: set delta.enableDeletionVectors on it "
                             "(conf/lake.yml gives them to every new table)")

    def commit(self, files: list[DataFile], *, app_id: str | None = None, app_version: int = 0,
               user_metadata: str | None = None) -> int | None:
        """Add the files and the removals (and any new columns or the new table) as one commit,
        with the `txn` marker of `app_id` when given and `user_metadata` in its commit info; its
        version, or None when there was nothing to commit."""
        if not files and not self._removals and app_id is None:
            return None
        if not self.table_exists or self.columns.added:
            self._update_metadata()
        actions = [file.add_action() for file in files]
        if app_id is not None:
            actions.append({"txn": {"appId": app_id, "version": app_version,
                                    "lastUpdated": int(time.time() * 1000)}})
        if self._removals:
            # Rows it read may go: any concurrent change to the table makes this commit fail.
            self._txn.readWholeTable()
        operation = self._update_operation() if self._removals else self._append_operation()
        settings = {**COMMIT_SETTINGS, **({USER_METADATA: user_metadata} if user_metadata else {})}
        with session_settings(self._spark, settings):
            return int(self._txn.commit(self._seq([self._action(a) for a in actions] + self._removals), operation))

    def _update_metadata(self) -> None:
        if self.table_exists:
            metadata = dict(self._metadata)
            configuration = dict(metadata.get("configuration", {}))
        else:
            metadata = {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}},
                        "partitionColumns": [], "createdTime": int(time.time() * 1000)}
            configuration = dict(self._new_table_properties)
        if self.columns.mapped:
            configuration[MAX_COLUMN_ID] = str(self.columns.max_id)
        metadata.update(schemaString=self.columns.schema_string(), configuration=configuration)
        action = self._action({"metaData": metadata})
        # A new table also gets Delta's session defaults (the lake's table properties) and the
        # protocol its features need; an existing one keeps its own and gains the new columns.
        if self.table_exists:
            self._txn.updateMetadata(action, False)
        else:
            self._txn.updateMetadataForNewTable(action)

    def _action(self, action: dict):
        return self._delta.actions.Action.fromJson(json.dumps(action, ensure_ascii=False))

    def _seq(self, items: list):
        values = self._jvm.java.util.ArrayList()
        for item in items:
            values.add(item)
        return self._jvm.scala.jdk.javaapi.CollectionConverters.asScala(values).toList()

    def _append_operation(self):
        # DeltaOperations.Write(mode, partitionBy, predicate, userMetadata, and five more options
        # in Delta 4.4): the commit shows in the table's history as a WRITE in Append mode.
        none = self._jvm.scala.Option.empty()
        save_mode = self._jvm.org.apache.spark.sql.SaveMode.Append
        return self._delta.DeltaOperations.Write(save_mode, *[none] * 8)

    def _update_operation(self):
        # Rows replaced or removed: the commit shows in the table's history as an UPDATE.
        return getattr(self._delta, "DeltaOperations$Update")(self._jvm.scala.Option.empty())


def _scala_object(package, name: str):
    """A Scala object (`Name$.MODULE$`) of a JVM package, for its methods."""
    return getattr(getattr(package, f"{name}$"), "MODULE$")


def _rows_by_file(positions: pa.Table) -> dict[str, np.ndarray]:
    """The row indexes of `positions`, per data file."""
    grouped = positions.group_by("file_path").aggregate([("row_index", "list")])
    return {path: np.asarray(rows, dtype=np.int64)
            for path, rows in zip(grouped.column("file_path").to_pylist(),
                                  grouped.column("row_index_list").to_numpy(zero_copy_only=False))}


def _bitmap(jvm, rows: np.ndarray):
    """Delta's bitmap of these row indexes, built in the JVM from one byte array (not one call per row)."""
    bitmap = jvm.org.apache.spark.sql.delta.deletionvectors.RoaringBitmapArray()
    bitmap.addAll(jvm.scala.collection.immutable.ArraySeq.unsafeWrapArray(_to_java_longs(jvm, rows)))
    return bitmap


def _to_java_longs(jvm, values: np.ndarray):
    buffer = jvm.java.nio.ByteBuffer.wrap(np.asarray(values, dtype=">i8").tobytes()).asLongBuffer()
    longs = jvm.java.lang.reflect.Array.newInstance(jvm.java.lang.Long.TYPE, len(values))
    buffer.get(longs)
    return longs


def _from_java_longs(jvm, longs) -> np.ndarray:
    # The numbers cross from the JVM as one byte array, not one call per number.
    buffer = jvm.java.nio.ByteBuffer.allocate(8 * len(longs))
    buffer.asLongBuffer().put(longs)
    return np.frombuffer(bytes(buffer.array()), dtype=">i8")


def append_rows(spark: SparkSession, uri: str, root: Path, schema: T.StructType, rows: list[dict],
                new_table_properties: dict[str, str]) -> int:
    """Append rows (values by `schema`'s column names) to the table at `uri` (folder `root`) as
    one Arrow-written data file and one Delta commit, creating the table if it is missing; the
    commit's version. A failure before the commit leaves at most an unreferenced file."""
    append = ExternalCommit(spark, uri, new_table_properties)
    arrow_schema = pa.schema([pa.field(spec.name, arrow_type(spec.dataType.jsonValue())) for spec in schema.fields])
    return append.commit(append.write_rows(pa.Table.from_pylist(rows, schema=arrow_schema), root))


class NotArrowReadable(Exception):
    """A table Arrow cannot read on its own: off the local disk, or with rows deleted by
    deletion vectors (which only Delta's readers apply)."""


def read_arrow(spark: SparkSession, uri: str, columns: list[str]) -> pa.Table:
    """The table's current rows, these columns by their names, read by Arrow from the data files
    of the latest snapshot as Delta Kernel lists them (no Spark job). A file written before a
    column was added has it as nulls. Raises NotArrowReadable where only Delta's readers can."""
    _require_local(uri)
    engine = _kernel_engine(spark)
    snapshot = _kernel_snapshot(spark, engine, uri)
    layout = {spec["name"]: _column(spec) for spec in json.loads(snapshot.getSchema().toJson())["fields"]}
    wanted = [layout[name] for name in columns]
    schema = pa.schema([pa.field(column.name, arrow_type(column.type)) for column in wanted])
    parts = []
    for file in _scan_files(spark._jvm, engine, snapshot):
        if file.deletion_vector is not None:
            raise NotArrowReadable(f"{file.path} has rows deleted by a deletion vector")
        parts.append(_file_columns(_local_path(file.path), wanted, schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def table_version(spark: SparkSession, uri: str) -> int | None:
    """The table's latest version, as Delta Kernel reads it from the log alone (no Spark job);
    None where there is no table."""
    try:
        return int(_kernel_snapshot(spark, _kernel_engine(spark), uri).getVersion())
    except Py4JJavaError as error:
        if "TableNotFoundException" in str(error.java_exception.getClass().getName()):
            return None
        raise


def _require_local(uri: str) -> None:
    if urlparse(uri).scheme != "file":
        raise NotArrowReadable(f"{uri} is not on the local disk")


def _kernel_engine(spark: SparkSession):
    """Delta Kernel's engine on the session's Hadoop configuration (file systems, credentials)."""
    return spark._jvm.io.delta.kernel.defaults.engine.DefaultEngine.create(spark._jsc.hadoopConfiguration())


def _kernel_snapshot(spark: SparkSession, engine, uri: str, version: int | None = None):
    """The table's snapshot (latest, or at `version`) as Delta Kernel reads it from the log alone."""
    table = spark._jvm.io.delta.kernel.Table.forPath(engine, uri)
    return table.getLatestSnapshot(engine) if version is None else table.getSnapshotAsOfVersion(engine, version)


def _scan_files(jvm, engine, snapshot) -> Iterator[ScanFile]:
    """Each data file of the snapshot, with its add action (statistics included)."""
    files = jvm.io.delta.kernel.internal.InternalScanFileUtils
    batches = snapshot.getScanBuilder().build().getScanFiles(engine, True)
    try:
        while batches.hasNext():
            rows = batches.next().getRows()
            try:
                while rows.hasNext():
                    row = rows.next()
                    yield ScanFile(files.getAddFileStatus(row).getPath(),
                                   jvm.io.delta.kernel.internal.actions.AddFile(row.getStruct(files.ADD_FILE_ORDINAL)))
            finally:
                rows.close()
    finally:
        batches.close()


def _local_path(path: str) -> Path:
    return Path(unquote(urlparse(path).path))


def _file_columns(path: Path, columns: list[Column], schema: pa.Schema) -> pa.Table:
    """One data file's columns under their names and the table's types (nulls where it has none)."""
    file = pq.ParquetFile(path)
    present = set(file.schema_arrow.names)
    table = file.read(columns=[c.physical for c in columns if c.physical in present])
    arrays = [table.column(c.physical).cast(schema.field(c.name).type) if c.physical in present
              else pa.nulls(table.num_rows, schema.field(c.name).type) for c in columns]
    return pa.Table.from_arrays(arrays, schema=schema)
