"""Appending Parquet files written outside Spark (by Arrow) to a Delta table, as one commit made
by Delta Lake's own transaction code.

Landing writes a batch's rows once, with Arrow, straight into the table's folder. This module
makes those files part of the table: it tells the writer which physical column name and field
id each column has under the table's column mapping (`name` mode, conf/lake.yml), and commits the
files together with any new columns (or a new table's metadata) and the idempotency marker
(`txn` appId/version) in one atomic commit. The commit goes through Delta 4.4's
`OptimisticTransaction` in Spark's JVM, so protocol and column-mapping checks, conflict
detection, checksums and checkpoints are Delta's own: nothing here writes the log by hand.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

MAPPING_MODE = "delta.columnMapping.mode"
MAX_COLUMN_ID = "delta.columnMapping.maxColumnId"
PHYSICAL_NAME = "delta.columnMapping.physicalName"
COLUMN_ID = "delta.columnMapping.id"


@dataclass(frozen=True)
class Column:
    """A table column as a data file must hold it."""

    name: str
    type: str                 # Delta type name: string, long, timestamp
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

    def column(self, name: str, delta_type: str) -> Column:
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


class ExternalAppend:
    """One Delta transaction on a table, open while its new files are written outside Spark.

    `columns` gives the writer each column's physical name; `commit` adds the files, the new
    columns (or the new table) and the `txn` marker in one commit, or raises and adds nothing."""

    def __init__(self, spark: SparkSession, uri: str, new_table_properties: dict[str, str]) -> None:
        self._jvm = spark._jvm
        delta = self._jvm.org.apache.spark.sql.delta
        self._txn = delta.DeltaLog.forTable(spark._jsparkSession, uri).startTransaction()
        self.table_exists = self._txn.readVersion() >= 0
        self._metadata = json.loads(self._txn.metadata().json())["metaData"] if self.table_exists else None
        self._new_table_properties = new_table_properties
        self.columns = ColumnLayout.of(self._metadata, new_table_properties)

    def committed_version(self, app_id: str) -> int | None:
        """The version of `app_id` this table has committed (Delta's idempotent-write marker), if any."""
        version = self._txn.txnVersion(app_id)
        return None if version < 0 else int(version)

    def commit(self, files: list[DataFile], *, app_id: str, app_version: int) -> int:
        """Add the files (and any new columns or the new table) as one commit; its version."""
        if not self.table_exists or self.columns.added:
            self._update_metadata()
        actions = [file.add_action() for file in files]
        actions.append({"txn": {"appId": app_id, "version": app_version, "lastUpdated": int(time.time() * 1000)}})
        return int(self._txn.commit(self._seq([self._action(a) for a in actions]), self._append_operation()))

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
        return self._jvm.org.apache.spark.sql.delta.actions.Action.fromJson(json.dumps(action, ensure_ascii=False))

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
        return self._jvm.org.apache.spark.sql.delta.DeltaOperations.Write(save_mode, *[none] * 8)
