"""The `lake.ops` tables declared once: the declarations parse, every one is documented by the job
that writes it with the same columns, and a merged table is not written as a whole."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from citylake import ops_tables
from citylake.ops_tables import MERGE, OPS_TABLES, columns
from jobs.catalog.registry import declarations, documented_tables


def test_columns_reads_types_and_not_null():
    schema = columns("id string not null, n bigint, at timestamp, tags array<string>, values map<string,string>")
    assert schema == T.StructType([
        T.StructField("id", T.StringType(), False), T.StructField("n", T.LongType()),
        T.StructField("at", T.TimestampType()), T.StructField("tags", T.ArrayType(T.StringType())),
        T.StructField("values", T.MapType(T.StringType(), T.StringType()))])


@pytest.mark.parametrize("ddl, error", [("id string null", ValueError), ("id varchar", KeyError)])
def test_columns_refuses_what_it_does_not_know(ddl, error):
    with pytest.raises(error):
        columns(ddl)


def test_every_ops_table_is_declared_once_and_found_by_name():
    names = [table.name for table in OPS_TABLES]
    assert len(names) == len(set(names)) and all(name.startswith("ops.") for name in names)
    assert ops_tables.table("ops.batch_ledger") is ops_tables.BATCH_LEDGER
    with pytest.raises(KeyError, match="not a declared ops table"):
        ops_tables.table("ops.nothing")


def test_every_declared_table_is_documented_with_its_columns(catalog):
    documented = documented_tables(declarations(catalog))
    for table in OPS_TABLES:
        doc = documented[table.name]
        if table.schema is not None:
            assert [(c.name, c.type) for c in doc.columns] == [
                (f.name, f.dataType.simpleString()) for f in table.schema.fields], table.name
        assert set(table.keys) <= {c.name for c in doc.columns}, table.name


def test_a_merged_table_is_not_written_whole():
    merged = next(table for table in OPS_TABLES if table.written == MERGE)
    with pytest.raises(ValueError, match="merged by"):
        merged.write(None, [])


def test_only_a_table_written_whole_has_rows_replaced():
    appended = next(table for table in OPS_TABLES if table.written == ops_tables.APPEND)
    with pytest.raises(ValueError, match="not written whole"):
        appended.write(None, [], replacing="day = DATE '2026-03-01'")
