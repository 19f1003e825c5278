"""`citylake maintain` on real Delta tables in a lake of its own: a table of many small files with
deleted rows comes out as one Z-ordered file with the same rows, files no recent version refers to
are vacuumed while time travel within the retention still reads, and a second pass does nothing."""

import time

import pytest
from pyspark.sql import functions as F

from citylake import lake
from citylake.maintenance import load_maintenance
from jobs.maintain.job import maintain

pytestmark = [pytest.mark.spark]
TABLE = "integrated.psb_household_registration"


@pytest.fixture()
def own_lake(settings, tmp_path):
    """A profile whose warehouse is this test's own: the session lake's run ledger, whose steps set
    the retention floor, stays out of it."""
    from tests.conftest import _free_port

    paths = settings.paths.model_copy(update={"warehouse": str(tmp_path / "warehouse")})
    return settings.model_copy(update={"paths": paths, "trino": settings.trino.model_copy(update={"port": _free_port()})})


def rows(spark, profile, **options):
    frame = spark.read.format("delta").options(**options).load(lake.table_uri(TABLE, profile))
    return sorted(tuple(row) for row in frame.collect())


def test_small_files_and_deleted_rows_are_compacted_and_old_files_vacuumed(spark, own_lake):
    people = spark.range(0, 60).select(F.format_string("35050219900101%04d", "id").alias("id_number"),
                                       F.concat(F.lit("person "), F.col("id").cast("string")).alias("name"))
    lake.write_table(people.where("id < 10"), TABLE, "overwrite", own_lake)
    # six small files; the first version's file is no longer current
    lake.write_table(people.repartition(6), TABLE, "overwrite", own_lake)
    lake.delta_table(spark, TABLE, own_lake).delete("name LIKE 'person 5%'")  # a deletion vector
    lake.write_table(people.where("id = 55"), TABLE, "append", own_lake, made_from="inputs:test")
    before, read_as = rows(spark, own_lake), lake.inputs_fingerprint(spark, [TABLE], profile=own_lake)
    declared = load_maintenance()
    rules = declared.model_copy(update={"compaction": declared.compaction.model_copy(update={"min_files": 4})})

    planned = maintain(spark, [TABLE], dry_run=True, rules=rules, profile=own_lake).tables[0].plan
    # a table younger than the week's retention has no file old enough to vacuum
    assert (planned.compact, planned.vacuum, planned.zorder) == (True, False, ("id_number",))
    assert lake.table_version(spark, TABLE, own_lake) == 3  # a dry run changes nothing

    done = maintain(spark, [TABLE], rules=rules, profile=own_lake).tables[0]
    assert rows(spark, own_lake) == before and done.files_before >= 6 and done.files_after == 1
    operations = [row[0] for row in lake.delta_table(spark, TABLE, own_lake).history().select("operation").collect()]
    assert operations[:2] == ["OPTIMIZE", "WRITE"] and len(rows(spark, own_lake, versionAsOf="0")) == 10
    # compaction and vacuum change no row: a job reading the table, or one that wrote it, has nothing to redo
    assert lake.inputs_fingerprint(spark, [TABLE], profile=own_lake) == read_as
    assert lake.recorded_fingerprint(spark, TABLE, own_lake) == "inputs:test"

    # files kept for a second: the first version's and those the compaction replaced go
    time.sleep(2)
    short = rules.model_copy(update={"vacuum": rules.vacuum.model_copy(update={"retain_hours": 1 / 3600,
                                                                               "every_days": 0})})
    swept = maintain(spark, [TABLE], rules=short, profile=own_lake).tables[0]
    assert not swept.plan.compact and swept.vacuumed_files >= 7 and rows(spark, own_lake) == before
    operations = [row[0] for row in lake.delta_table(spark, TABLE, own_lake).history().select("operation").collect()]
    assert operations[:3] == ["VACUUM END", "VACUUM START", "OPTIMIZE"]

    again = maintain(spark, [TABLE], rules=rules, profile=own_lake).tables[0]
    assert not again.plan.anything and again.files_after == 1


def test_an_unknown_table_is_refused_before_anything_runs(spark, own_lake):
    with pytest.raises(ValueError, match="not a table of the lake: integrated.nothing_here"):
        maintain(spark, ["integrated.nothing_here"], profile=own_lake)
