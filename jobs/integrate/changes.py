"""Applying a resource's changes to its current state and its history in business time.

The input is a batch of typed changes: key columns, attribute columns and
`_op` (I/U/D), `_changed_at` (business time of the change), `_batch_id`, `_sequence`, `_record`
and `_row_hash` (of the attributes). Two tables come out:

- current (`integrated.<resource>`): one row per live key, its latest version;
- history (`integrated.<resource>_history`): every version with `_valid_from` and `_valid_to`
  (NULL while valid), so the resource can be read as of any past business date.

Changes are applied per key in change-time order; a change older than the key's current version
(a late row) never overwrites it and is returned aside. Re-applying a batch changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from citylake import lake

CHANGE_COLUMNS = ["_op", "_changed_at", "_batch_id", "_sequence", "_record", "_row_hash"]


@dataclass
class Applied:
    """What applying one batch did."""

    inserted: int
    updated: int
    deleted: int
    unchanged: int
    late: DataFrame


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


def apply_changes(spark: SparkSession, changes: DataFrame, resource_table: str, key: list[str]) -> Applied:
    """Apply a batch of changes to `integrated.<resource>` and its `_history`."""
    current_name, history_name = resource_table, f"{resource_table}_history"
    current = lake.read_table(spark, current_name) if lake.table_exists(spark, current_name) else None
    attributes = [c for c in changes.columns if c not in key and c not in CHANGE_COLUMNS]
    # A row delivered twice in one batch is one change, not two versions.
    changes = changes.dropDuplicates([*key, "_changed_at", "_op", "_row_hash"])
    effective, late = split_late(changes, current, key)
    ordered = order_changes(effective, key).cache()
    try:
        _write_history(spark, ordered, history_name, key, attributes)
        counts = _write_current(spark, ordered, current, current_name, key, attributes)
    finally:
        ordered.unpersist()
    return Applied(late=late, **counts)


def _write_history(spark: SparkSession, ordered: DataFrame, name: str, key: list[str], attributes: list[str]) -> None:
    versions = (ordered.where(F.col("_op") != "D")
                .select(*key, *attributes, F.col("_changed_at").alias("_valid_from"),
                        F.col("_next_at").alias("_valid_to"), "_op", "_batch_id", "_sequence", "_row_hash"))
    firsts = ordered.where(F.col("_n") == 1).select(*key, F.col("_changed_at").alias("_closes_at"))
    if not lake.table_exists(spark, name):
        lake.write_table(versions, name, "append")
        return
    history = lake.delta_table(spark, name)
    on_key = " AND ".join(f"h.`{k}` <=> f.`{k}`" for k in key)
    # Close each key's open version at its first change of this batch (a rerun finds it closed).
    (history.alias("h").merge(firsts.alias("f"), f"{on_key} AND h._valid_to IS NULL AND h._valid_from < f._closes_at")
     .whenMatchedUpdate(set={"_valid_to": "f._closes_at"}).execute())
    # Insert the batch's versions that are not there yet (a rerun inserts none).
    on_version = " AND ".join(f"h.`{k}` <=> v.`{k}`" for k in key) + " AND h._valid_from = v._valid_from " \
                                                                      "AND h._batch_id = v._batch_id"
    history.alias("h").merge(versions.alias("v"), on_version).whenNotMatchedInsertAll().execute()
    lake.publish(name)


def _write_current(spark: SparkSession, ordered: DataFrame, current: DataFrame | None, name: str,
                   key: list[str], attributes: list[str]) -> dict[str, int]:
    latest = ordered.where(F.col("_last")).select(*key, *attributes, *CHANGE_COLUMNS)
    if current is None:
        rows = latest.where(F.col("_op") != "D").drop("_op")
        lake.write_table(rows, name, "append")
        return {"inserted": rows.count(), "updated": 0, "deleted": 0, "unchanged": 0}
    counts = _count_outcomes(latest, current, key)
    on_key = " AND ".join(f"c.`{k}` <=> l.`{k}`" for k in key)
    newer = "l._changed_at >= c._changed_at"
    updates = {f"`{c}`": f"l.`{c}`" for c in [*attributes, *CHANGE_COLUMNS] if c != "_op"}
    inserts = {f"`{c}`": f"l.`{c}`" for c in key} | updates
    (lake.delta_table(spark, name).alias("c").merge(latest.alias("l"), on_key)
     .whenMatchedDelete(condition=f"l._op = 'D' AND {newer}")
     .whenMatchedUpdate(condition=f"l._op <> 'D' AND {newer} AND l._row_hash <> c._row_hash", set=updates)
     .whenNotMatchedInsert(condition="l._op <> 'D'", values=inserts)
     .execute())
    lake.publish(name)
    return counts


def _count_outcomes(latest: DataFrame, current: DataFrame, key: list[str]) -> dict[str, int]:
    joined = latest.join(current.select(*key, F.col("_row_hash").alias("_current_hash")), on=key, how="left")
    outcome = (F.when((F.col("_op") == "D") & F.col("_current_hash").isNotNull(), "deleted")
               .when(F.col("_op") == "D", "unchanged")
               .when(F.col("_current_hash").isNull(), "inserted")
               .when(F.col("_current_hash") != F.col("_row_hash"), "updated")
               .otherwise("unchanged"))
    found = {row["outcome"]: row["count"] for row in joined.groupBy(outcome.alias("outcome")).count().collect()}
    return {name: found.get(name, 0) for name in ("inserted", "updated", "deleted", "unchanged")}
