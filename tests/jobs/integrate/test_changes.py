"""Change application on real Delta tables: ordering, late rows, snapshot diffs, deletes, reruns."""

from datetime import datetime

import shutil

import pytest
from pyspark.sql import functions as F

from citylake import lake
from jobs.integrate.changes import Run, applied_before, apply_changes, full_extract_changes

pytestmark = pytest.mark.spark

KEY = ["id_number"]


@pytest.fixture()
def table(spark, settings, request):
    name = f"integrated.test_{request.node.name[5:40]}"
    for suffix in ("", "_history"):
        shutil.rmtree(settings.path("warehouse") / "integrated" / (name.split(".")[1] + suffix), ignore_errors=True)
    return name


def changes(spark, rows, batch="b1", sequence=1):
    """rows: (id, name, op, 'YYYY-MM-DD HH:MM')"""
    data = [(i, n, op, datetime.fromisoformat(at), batch, sequence, r + 1) for r, (i, n, op, at) in enumerate(rows)]
    frame = spark.createDataFrame(data, "id_number string, name string, _op string, _changed_at timestamp, "
                                        "_batch_id string, _sequence long, _record long")
    return frame.withColumn("_row_hash", F.sha2(F.coalesce(F.col("name"), F.lit("")), 256))


def current_of(spark, name):
    return {r.id_number: r.name for r in lake.read_table(spark, name).collect()}


def history_of(spark, name, key):
    rows = lake.read_table(spark, f"{name}_history").where(F.col("id_number") == key).orderBy("_valid_from").collect()
    return [(r.name, r._valid_from.strftime("%m-%d"), r._valid_to.strftime("%m-%d") if r._valid_to else None)
            for r in rows]


def test_changes_apply_in_change_time_order_whatever_the_delivery_order(spark, table):
    apply_changes(spark, changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("B", "李四", "I", "2026-01-01 09:00")]),
                  table, KEY)
    # delivered out of order within the batch: the 03rd change arrives first
    batch = changes(spark, [("A", "张三丰", "U", "2026-01-03 09:00"), ("A", "张叁", "U", "2026-01-02 09:00")], "b2", 2)
    result = apply_changes(spark, batch, table, KEY)
    assert current_of(spark, table) == {"A": "张三丰", "B": "李四"}
    assert history_of(spark, table, "A") == [("张三", "01-01", "01-02"), ("张叁", "01-02", "01-03"), ("张三丰", "01-03", None)]
    assert (result.inserted, result.updated, result.deleted) == (0, 1, 0)


def test_a_late_row_never_overwrites_a_newer_one(spark, table):
    apply_changes(spark, changes(spark, [("A", "新名", "I", "2026-01-05 09:00")]), table, KEY)
    result = apply_changes(spark, changes(spark, [("A", "旧名", "U", "2026-01-02 09:00")], "b2", 2), table, KEY)
    assert current_of(spark, table) == {"A": "新名"}
    assert [r["name"] for r in result.late.to_pylist()] == ["旧名"]
    assert history_of(spark, table, "A") == [("新名", "01-05", None)]


def test_a_delete_closes_the_validity_and_removes_the_current_row(spark, table):
    apply_changes(spark, changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("B", "李四", "I", "2026-01-01 09:00")]),
                  table, KEY)
    result = apply_changes(spark, changes(spark, [("A", None, "D", "2026-01-04 10:00")], "b2", 2), table, KEY)
    assert current_of(spark, table) == {"B": "李四"}
    assert history_of(spark, table, "A") == [("张三", "01-01", "01-04")]
    assert result.deleted == 1


def test_reapplying_a_batch_changes_nothing(spark, table):
    first = changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("A", "张三", "I", "2026-01-01 09:00")])
    apply_changes(spark, first, table, KEY)
    second = changes(spark, [("A", "张叁", "U", "2026-01-02 09:00"), ("B", "李四", "I", "2026-01-02 09:00")], "b2", 2)
    apply_changes(spark, second, table, KEY)
    before = (lake.read_table(spark, table).count(), lake.read_table(spark, f"{table}_history").count())
    result = apply_changes(spark, second, table, KEY)
    after = (lake.read_table(spark, table).count(), lake.read_table(spark, f"{table}_history").count())
    assert before == after == (2, 3)  # the duplicated first row is one version
    assert (result.inserted, result.updated, result.deleted, result.unchanged) == (0, 0, 0, 2)
    assert history_of(spark, table, "A") == [("张三", "01-01", "01-02"), ("张叁", "01-02", None)]


def test_a_full_extract_is_diffed_into_inserts_updates_and_deletes(spark, table):
    apply_changes(spark, changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("B", "李四", "I", "2026-01-01 09:00"),
                                         ("C", "王五", "I", "2026-01-01 09:00")]), table, KEY)
    extract = changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("B", "李肆", "I", "2026-02-01 08:00"),
                              ("D", "赵六", "I", "2026-02-01 08:00")], "full-2", 2).drop("_op")
    current = lake.read_table(spark, table)
    diff = full_extract_changes(extract, current, KEY, F.lit(datetime(2026, 2, 1, 12, 0)))
    assert sorted((r.id_number, r._op) for r in diff.collect()) == [("B", "U"), ("C", "D"), ("D", "I")]
    result = apply_changes(spark, diff, table, KEY)
    assert current_of(spark, table) == {"A": "张三", "B": "李肆", "D": "赵六"}
    assert history_of(spark, table, "C") == [("王五", "01-01", "02-01")]
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 1)


def test_a_full_extract_brings_back_a_key_an_earlier_one_left_out(spark, table):
    """An extract missing a district deletes its keys; the next full extract has them again with
    their old change times, and they are back, from the time of the delete."""
    apply_changes(spark, changes(spark, [("A", "张三", "I", "2025-06-01 09:00"), ("B", "李四", "I", "2025-06-01 09:00")]),
                  table, KEY)
    left_out = changes(spark, [("A", "张三", "I", "2025-06-01 09:00")], "full-2", 2).drop("_op")
    diff = full_extract_changes(left_out, lake.read_table(spark, table), KEY, F.lit(datetime(2026, 2, 1, 12, 0)))
    apply_changes(spark, diff, table, KEY, full_extract=True)
    assert current_of(spark, table) == {"A": "张三"}
    restored = changes(spark, [("A", "张三", "I", "2025-06-01 09:00"), ("B", "李四", "I", "2025-06-01 09:00")],
                       "full-3", 3).drop("_op")
    diff = full_extract_changes(restored, lake.read_table(spark, table), KEY, F.lit(datetime(2026, 2, 8, 12, 0)))
    result = apply_changes(spark, diff, table, KEY, full_extract=True)
    assert (result.inserted, result.late.num_rows) == (1, 0)
    assert current_of(spark, table) == {"A": "张三", "B": "李四"}
    assert history_of(spark, table, "B") == [("李四", "06-01", "02-01"), ("李四", "02-01", None)]
    # an incremental insert as old as that is a stale re-send, and stays out
    apply_changes(spark, changes(spark, [("B", None, "D", "2026-02-10 09:00")], "inc-4", 4), table, KEY)
    stale = apply_changes(spark, changes(spark, [("B", "李四", "I", "2025-06-01 09:00")], "inc-5", 5), table, KEY)
    assert stale.late.num_rows == 1 and "B" not in current_of(spark, table)


def test_batches_applied_one_by_one_give_the_tables_a_first_load_of_all_of_them_gives(spark, settings, table):
    """The first load (Spark) and later batches (on the driver) agree: versions, closings, late
    rows, deletes, re-inserts and a key changed twice at the same time."""
    batches = [
        [("A", "甲", "I", "2026-01-01 09:00"), ("B", "乙", "I", "2026-01-01 09:00"), ("C", "丙", "I", "2026-01-02 09:00")],
        [("A", "甲一", "U", "2026-01-03 09:00"), ("B", None, "D", "2026-01-03 10:00"), ("D", "丁", "I", "2026-01-03 11:00"),
         ("C", "丙一", "U", "2026-01-04 09:00"), ("C", "丙二", "U", "2026-01-04 09:00")],
        [("B", "乙二", "I", "2026-01-05 09:00"), ("A", "甲二", "U", "2026-01-06 09:00"), ("A", "甲零", "U", "2026-01-02 09:00"),
         ("D", "丁一", "U", "2026-01-05 09:00"), ("D", None, "D", "2026-01-07 09:00")],
    ]
    for number, rows in enumerate(batches, start=1):
        apply_changes(spark, changes(spark, rows, f"b{number}", number), table, KEY)
    at_once = f"{table}_at_once"
    for suffix in ("", "_history"):
        shutil.rmtree(settings.path("warehouse") / "integrated" / (at_once.split(".")[1] + suffix), ignore_errors=True)
    everything = [(i, n, op, at, f"b{b}", b, r) for b, rows in enumerate(batches, start=1)
                  for r, (i, n, op, at) in enumerate(rows, start=1)]
    frame = spark.createDataFrame([(i, n, op, datetime.fromisoformat(at), b, s, r) for i, n, op, at, b, s, r in everything],
                                  "id_number string, name string, _op string, _changed_at timestamp, "
                                  "_batch_id string, _sequence long, _record long")
    # The late change (甲零, 01-02, delivered after 01-03) is set aside one by one; at once it is
    # simply an earlier version: leave it out of the load so both describe the same deliveries.
    frame = frame.where(F.col("name").isNull() | (F.col("name") != "甲零"))
    apply_changes(spark, frame.withColumn("_row_hash", F.sha2(F.coalesce(F.col("name"), F.lit("")), 256)), at_once, KEY)

    def state(name):
        current = sorted((r.id_number, r.name, r._changed_at) for r in lake.read_table(spark, name).collect())
        history = sorted((r.id_number, r.name, r._valid_from, r._valid_to, r._batch_id)
                         for r in lake.read_table(spark, f"{name}_history").collect())
        return current, history

    assert state(table) == state(at_once)
    assert current_of(spark, table) == {"A": "甲二", "B": "乙二", "C": "丙二"}


@pytest.mark.trino
def test_trino_reads_the_applied_batches_as_spark_does(spark, table, trino):
    """Rows replaced by deletion vectors written on the driver, and rows added as Arrow files,
    read the same in Trino as in Spark."""
    from citylake.trino.client import query_df, sync_catalog

    apply_changes(spark, changes(spark, [("A", "甲", "I", "2026-01-01 09:00"), ("B", "乙", "I", "2026-01-01 09:00"),
                                         ("C", "丙", "I", "2026-01-01 09:00")]), table, KEY)
    apply_changes(spark, changes(spark, [("A", "甲一", "U", "2026-01-02 09:00"), ("B", None, "D", "2026-01-02 09:00"),
                                         ("D", "丁", "I", "2026-01-02 09:00")], "b2", 2), table, KEY)
    apply_changes(spark, changes(spark, [("A", "甲二", "U", "2026-01-03 09:00")], "b3", 3), table, KEY)
    sync_catalog(trino)

    in_trino = query_df(f"SELECT id_number, name FROM lake.{table}")
    assert dict(in_trino.itertuples(index=False)) == current_of(spark, table) == {"A": "甲二", "C": "丙", "D": "丁"}
    versions = query_df(f"SELECT id_number, name, to_unixtime(_valid_from) AS valid_from, "
                        f"to_unixtime(_valid_to) AS valid_to FROM lake.{table}_history")
    from_trino = sorted((r.id_number, r.name, r.valid_from, None if r.valid_to != r.valid_to else r.valid_to)
                        for r in versions.itertuples(index=False))
    from_spark = sorted((r.id_number, r.name, r._valid_from.timestamp(), r._valid_to.timestamp() if r._valid_to else None)
                        for r in lake.read_table(spark, f"{table}_history").collect())
    assert from_trino == from_spark and len(from_spark) == 6


def test_a_current_table_without_its_history_is_refused_not_rebuilt(spark, settings, table):
    apply_changes(spark, changes(spark, [("A", "甲", "I", "2026-01-01 09:00")]), table, KEY)
    shutil.rmtree(settings.path("warehouse") / "integrated" / (table.split(".")[1] + "_history"))
    with pytest.raises(ValueError, match="exists without its history"):
        apply_changes(spark, changes(spark, [("A", "甲一", "U", "2026-01-02 09:00")], "b2", 2), table, KEY)
    assert current_of(spark, table) == {"A": "甲"}


def test_a_run_s_commit_carries_its_counts_for_a_rerun_after_a_kill(spark, table):
    """A run killed after its current-table commit and before its ledger rows: run again, it
    finds its mark and reports what it did (the rows are there already, so a new diff would
    count nothing); a resent batch of the same sequence is another run."""
    first, second = Run("psb.test#1-1", ("b1",)), Run("psb.test#2-2", ("b2",))
    assert applied_before(spark, table, first) is None  # no table yet
    apply_changes(spark, changes(spark, [("A", "张三", "I", "2026-01-01 09:00"), ("B", "李四", "I", "2026-01-01 09:00")]),
                  table, KEY, run=first)
    assert applied_before(spark, table, first) == dict(inserted=2, updated=0, deleted=0, unchanged=0, late=0)
    assert applied_before(spark, table, second) is None
    apply_changes(spark, changes(spark, [("A", "张叁", "U", "2026-01-02 09:00"), ("B", "李四", "I", "2025-12-01 09:00")],
                                 "b2", 2), table, KEY, run=second)
    assert applied_before(spark, table, second) == dict(inserted=0, updated=1, deleted=0, unchanged=0, late=1)
    assert applied_before(spark, table, first) is not None  # older marks are still found
    assert applied_before(spark, table, Run("psb.test#2-2", ("b2-resent",))) is None
