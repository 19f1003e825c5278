"""Reading a small Delta table with Arrow from the files Delta Kernel lists: the same rows Spark
reads, across schema changes, and a clear refusal where only Delta's readers are right."""

from datetime import datetime, timezone

import pytest

import pyarrow as pa
from pyspark.sql import functions as F

from citylake.delta_files import ExternalCommit, NotArrowReadable, read_arrow
from citylake.settings import lake_layout

pytestmark = pytest.mark.spark


def _table(spark, tmp_path, name):
    uri = (tmp_path / name).as_uri()
    properties = ", ".join(f"'{k}' = '{v}'" for k, v in lake_layout().table_properties.items())
    spark.sql(f"CREATE TABLE delta.`{uri}` (name string, n long, at timestamp) USING delta "
              f"TBLPROPERTIES ({properties})")
    return uri


def test_arrow_reads_the_rows_spark_reads_including_files_older_than_a_column(spark, tmp_path):
    uri = _table(spark, tmp_path, "evolving")
    spark.sql(f"INSERT INTO delta.`{uri}` VALUES ('甲', 1, TIMESTAMP '2026-03-01 08:00:00 UTC')")
    spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS (tags array<string>)")
    spark.sql(f"ALTER TABLE delta.`{uri}` RENAME COLUMN n TO count")
    spark.sql(f"INSERT INTO delta.`{uri}` VALUES ('乙', 2, NULL, array('x', 'y'))")

    rows = sorted(read_arrow(spark, uri, ["name", "count", "at", "tags"]).to_pylist(), key=lambda r: r["count"])

    assert rows == [
        {"name": "甲", "count": 1, "at": datetime(2026, 3, 1, 8, tzinfo=timezone.utc), "tags": None},
        {"name": "乙", "count": 2, "at": None, "tags": ["x", "y"]},
    ]
    spark_rows = sorted(spark.read.format("delta").load(uri).collect(), key=lambda r: r["count"])
    assert [(r.name, r["count"], r.at.timestamp() if r.at else None, r.tags) for r in spark_rows] == [
        (r["name"], r["count"], r["at"].timestamp() if r["at"] else None, r["tags"]) for r in rows]


def test_an_empty_table_reads_as_no_rows_of_its_columns(spark, tmp_path):
    table = read_arrow(spark, _table(spark, tmp_path, "empty"), ["n", "name"])
    assert table.num_rows == 0 and table.column_names == ["n", "name"]


def test_rows_deleted_by_a_deletion_vector_are_refused_not_read_back(spark, tmp_path):
    uri = _table(spark, tmp_path, "deleted")
    spark.sql(f"INSERT INTO delta.`{uri}` VALUES ('a', 1, NULL), ('b', 2, NULL), ('c', 3, NULL)")
    spark.sql(f"DELETE FROM delta.`{uri}` WHERE n = 2")
    with pytest.raises(NotArrowReadable, match="deletion vector"):
        read_arrow(spark, uri, ["n"])


def test_a_table_off_the_local_disk_is_refused(spark):
    with pytest.raises(NotArrowReadable, match="not on the local disk"):
        read_arrow(spark, "s3a://citylake/warehouse/ops/batch_ledger", ["n"])
    with pytest.raises(NotArrowReadable, match="not on the local disk"):
        ExternalCommit(spark, "s3a://citylake/warehouse/integrated/x", {})


def test_a_lookup_finds_the_rows_and_positions_spark_finds_leaving_out_deleted_rows(spark, tmp_path):
    uri = _table(spark, tmp_path, "looked_up")
    rows = spark.range(20_000).select(F.concat(F.lit("k"), F.col("id").cast("string")).alias("name"),
                                      F.col("id").alias("n"), F.timestamp_seconds(F.col("id")).alias("at"))
    rows.repartition(2).write.format("delta").mode("append").save(uri)
    spark.sql(f"DELETE FROM delta.`{uri}` WHERE n % 3 = 0")  # thousands of rows per deletion vector
    version = spark.sql(f"DESCRIBE HISTORY delta.`{uri}`").first()["version"]
    transaction = ExternalCommit(spark, uri, {})
    spark.sql(f"DELETE FROM delta.`{uri}` WHERE n % 3 = 1")  # after the transaction started: not seen
    keys = pa.table({"name": [f"k{n}" for n in range(0, 20_000, 7)] + ["nobody"]})

    found = transaction.lookup(pa.schema([("n", pa.int64()), ("name", pa.string()),
                                          ("at", pa.timestamp("us", tz="UTC"))]), keys)

    assert found.column_names == ["n", "name", "at", "row_index", "file_path"]
    expected = (spark.read.format("delta").option("versionAsOf", version).load(uri)
                .where(F.col("n") % 7 == 0)
                .select("n", F.col("at").cast("long").alias("at"), F.col("_metadata.row_index").alias("row_index"),
                        F.col("_metadata.file_path").alias("file_path")))
    assert sorted((r["n"], r["at"].timestamp(), r["row_index"], r["file_path"]) for r in found.to_pylist()) == sorted(
        (r.n, r.at, r.row_index, r.file_path) for r in expected.collect())
    assert found.num_rows == len([n for n in range(0, 20_000, 7) if n % 3])


def test_the_idempotency_marker_is_read_back_and_a_concurrent_commit_of_it_fails(spark, tmp_path):
    # delta's Python package turns Delta's Java exceptions into its own classes
    from delta.exceptions import ConcurrentTransactionException

    uri = _table(spark, tmp_path, "marked")
    properties = lake_layout().table_properties
    assert ExternalCommit(spark, uri, properties).committed_version("lander:b1") is None
    first, second = ExternalCommit(spark, uri, properties), ExternalCommit(spark, uri, properties)
    assert first.committed_version("lander:b1") is None and second.committed_version("lander:b1") is None
    first.commit([], app_id="lander:b1", app_version=3)
    assert ExternalCommit(spark, uri, properties).committed_version("lander:b1") == 3
    assert ExternalCommit(spark, uri, properties).committed_version("lander:b2") is None
    with pytest.raises(ConcurrentTransactionException):
        second.commit([], app_id="lander:b1", app_version=3)


def test_creating_a_table_and_appending_rows_runs_no_spark_job(spark, tmp_path):
    from pyspark.sql import types as T

    from citylake.delta_files import append_rows

    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    schema = T.StructType([T.StructField("name", T.StringType()), T.StructField("n", T.LongType())])
    root = tmp_path / "appended"
    for n in (1, 2):
        append_rows(spark, root.as_uri(), root, schema, [{"name": "甲", "n": n}], lake_layout().table_properties)
    assert set(tracker.getJobIdsForGroup(None)) == before
    assert sorted(read_arrow(spark, root.as_uri(), ["n"]).column("n").to_pylist()) == [1, 2]


def _positions(spark, uri, condition):
    return pa.Table.from_pylist([r.asDict() for r in spark.read.format("delta").load(uri).where(condition).select(
        F.col("_metadata.file_path").alias("file_path"), F.col("_metadata.row_index").alias("row_index")).collect()],
        schema=pa.schema([("file_path", pa.string()), ("row_index", pa.int64())]))


def test_rows_removed_by_position_and_rows_added_are_one_commit_spark_and_kernel_read_alike(spark, tmp_path):
    uri = _table(spark, tmp_path, "edited")
    spark.range(6_000).select(F.concat(F.lit("k"), F.col("id").cast("string")).alias("name"), F.col("id").alias("n"),
                              F.lit(None).cast("timestamp").alias("at")).repartition(3).write.format("delta") \
        .mode("append").save(uri)
    tracker = spark.sparkContext.statusTracker()
    edit = ExternalCommit(spark, uri, lake_layout().table_properties)
    positions = _positions(spark, uri, F.col("n") % 5 == 0)  # in every file
    before = set(tracker.getJobIdsForGroup(None))
    edit.remove_rows(positions)
    added = pa.table({"name": ["新"], "n": pa.array([10_000], pa.int64()),
                      "at": pa.array([datetime(2026, 1, 1, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC"))})
    edit.commit(edit.write_rows(added, tmp_path / "edited"))
    assert set(tracker.getJobIdsForGroup(None)) == before  # no Spark job
    expected = {n for n in range(6_000) if n % 5} | {10_000}
    assert {r.n for r in spark.read.format("delta").load(uri).collect()} == expected

    # A second removal merges with each file's existing deletion vector; a file whose rows are
    # all gone is removed outright.
    files = spark.read.format("delta").load(uri).select(F.col("_metadata.file_path").alias("f"), "n").collect()
    emptied = next(r.f for r in files if r.n == 10_000)
    edit = ExternalCommit(spark, uri, {})
    edit.remove_rows(_positions(spark, uri, (F.col("n") % 5 == 1) | (F.col("n") == 10_000)))
    edit.commit([])
    expected = {n for n in range(6_000) if n % 5 > 1}
    assert {r.n for r in spark.read.format("delta").load(uri).collect()} == expected
    found = ExternalCommit(spark, uri, {}).lookup(pa.schema([("n", pa.int64()), ("name", pa.string())]),
                                                  pa.table({"name": [f"k{n}" for n in range(6_000)]}))
    assert set(found.column("n").to_pylist()) == expected  # Kernel applies the merged vectors
    assert emptied not in ExternalCommit(spark, uri, {}).data_files
    history = spark.sql(f"DESCRIBE HISTORY delta.`{uri}`").orderBy("version").collect()
    assert [r.operation for r in history][-2:] == ["UPDATE", "UPDATE"]


def test_a_removal_fails_when_the_table_changed_since_it_was_read(spark, tmp_path):
    from delta.exceptions import ConcurrentAppendException, ConcurrentDeleteReadException

    uri = _table(spark, tmp_path, "raced")
    spark.sql(f"INSERT INTO delta.`{uri}` VALUES ('a', 1, NULL), ('b', 2, NULL)")
    edit = ExternalCommit(spark, uri, {})
    edit.remove_rows(_positions(spark, uri, F.col("n") == 1))
    spark.sql(f"DELETE FROM delta.`{uri}` WHERE n = 1")  # a concurrent writer got there first
    with pytest.raises((ConcurrentAppendException, ConcurrentDeleteReadException)):
        edit.commit([])
    assert {r.n for r in spark.read.format("delta").load(uri).collect()} == {2}
