"""Deliveries of no rows and files of no bytes.

A header-only file (CSV with or without the line break after its header, in UTF-8, UTF-8 with BOM
and GBK; a workbook with only its header row) is a valid delivery of 0 rows, after which the raw
table exists with its columns, for Spark and Trino; a 0-byte CSV or workbook is rejected with a
clear reason (a workbook that is no zip archive as unreadable); and a rejected package leaves no
folder under raw/ and no trace but its ledger row.
"""

import pytest
from delta.tables import DeltaTable
from openpyxl import Workbook

from citylake import lake
from citylake.trino import client
from jobs.landing.job import land_inbox
from jobs.landing.readers import EmptyFile, FileReader
from jobs.landing.staging import ORIGIN_COLUMNS
from tests.packages import PSB_HEADER, csv_bytes, header_only_csv, jsonl_bytes, psb_rows, write_package, xlsx_bytes

PSB = ("psb", "household_registration")
AMR = ("amr", "enterprise_registration")
HRSS = ("hrss", "social_insurance")
AMR_SHEET = "企业登记"
ENCODINGS = ["utf-8", "utf-8-sig", "gbk"]


def _catalog_columns(catalog, department, resource):
    return [column.source for column in catalog.resource(department, resource).columns]


def _trino_columns(trino, table):
    return [row[0] for row in client.run_query(trino, f"SHOW COLUMNS FROM lake.{table}")]


def _ledger(spark, department, resource):
    rows = lake.read_table(spark, "ops.batch_ledger").where(
        f"department = '{department}' AND resource = '{resource}'").collect()
    return [(row.batch_id, row.status) for row in rows]


def _quarantined(spark, department, resource):
    if not lake.table_exists(spark, "ops.quarantine"):
        return 0
    return lake.read_table(spark, "ops.quarantine").where(
        f"department = '{department}' AND resource = '{resource}'").count()


def _assert_empty_table_with_columns(spark, trino, table, columns):
    """The raw table exists with these delivered columns and the origin ones, and no row."""
    frame = lake.read_table(spark, table)
    assert frame.columns == columns + ORIGIN_COLUMNS
    assert frame.count() == 0
    assert _trino_columns(trino, table) == [name.lower() for name in columns + ORIGIN_COLUMNS]
    assert client.run_query(trino, f"SELECT count(*) FROM lake.{table}") == [(0,)]


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("final_newline", [True, False], ids=["final newline", "no final newline"])
def test_a_header_only_csv_reads_as_its_columns_and_no_rows(tmp_path, encoding, final_newline):
    path = tmp_path / "a.csv"
    path.write_bytes(header_only_csv(["GMSFHM", "姓名"], encoding, final_newline=final_newline))
    reader = FileReader(path, "csv", encoding)
    assert list(reader.batches()) == []
    assert (reader.header, reader.bad_rows) == (["GMSFHM", "姓名"], [])


def test_a_zero_byte_csv_or_workbook_is_an_empty_file_and_a_jsonl_one_holds_no_rows(tmp_path):
    for name, file_format in (("a.csv", "csv"), ("a.xlsx", "xlsx")):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(EmptyFile, match=r"empty \(0 bytes\)"):
            list(FileReader(tmp_path / name, file_format, "utf-8" if file_format == "csv" else None).batches())
    (tmp_path / "a.jsonl").write_bytes(b"")
    reader = FileReader(tmp_path / "a.jsonl", "jsonl", "utf-8")
    assert (list(reader.batches()), reader.header) == ([], [])


def test_a_file_whose_first_row_names_no_column_has_no_header(tmp_path):
    (tmp_path / "a.csv").write_bytes("\ufeff\r\n".encode())
    with pytest.raises(ValueError, match="no header row"):
        list(FileReader(tmp_path / "a.csv", "csv", "utf-8").batches())
    Workbook().save(tmp_path / "a.xlsx")  # one sheet, no cell written
    with pytest.raises(ValueError, match="no header row"):
        list(FileReader(tmp_path / "a.xlsx", "xlsx", None).batches())


# ------------------------------------------------------------------ landing


@pytest.mark.spark
@pytest.mark.trino
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("final_newline", [True, False], ids=["final newline", "no final newline"])
def test_a_header_only_csv_lands_no_rows_and_creates_the_table(spark, trino, catalog, inbox, fresh_resource,
                                                               encoding, final_newline):
    table = fresh_resource(*PSB)
    # a full extract's header: the catalog's columns but the operation column of incremental ones
    assert PSB_HEADER == [c for c in _catalog_columns(catalog, *PSB) if c != "CZLX"]
    content = header_only_csv(PSB_HEADER, encoding, final_newline=final_newline)
    write_package(inbox, *PSB, 1, {"a.csv": content}, rows={"a.csv": 0}, encoding=encoding, batch_id="t-header-only")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.reason, entry.rows_read, entry.rows_landed) == ("landed", None, 0, 0)
    _assert_empty_table_with_columns(spark, trino, table, PSB_HEADER)


@pytest.mark.spark
@pytest.mark.trino
def test_a_workbook_with_only_its_header_row_lands_no_rows_and_creates_the_table(spark, trino, catalog, inbox,
                                                                                  fresh_resource):
    table = fresh_resource(*AMR)
    header = _catalog_columns(catalog, *AMR)
    write_package(inbox, *AMR, 1, {"e.xlsx": xlsx_bytes(header, [], sheet=AMR_SHEET)}, rows={"e.xlsx": 0},
                  fmt="xlsx", encoding=None, manifest_overrides={"sheet": AMR_SHEET}, batch_id="t-header-only-xlsx")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_read, entry.rows_landed) == ("landed", 0, 0)
    _assert_empty_table_with_columns(spark, trino, table, header)


@pytest.mark.spark
@pytest.mark.trino
def test_an_empty_jsonl_file_of_no_declared_rows_lands_and_creates_the_table_with_the_catalogs_columns(
        spark, trino, catalog, inbox, fresh_resource):
    """Decision: JSON lines have no header, so a 0-byte .jsonl file is a file of no rows, and with
    `rows: 0` in the manifest it is a valid delivery of no rows (a department with nothing to
    deliver), not an empty file to reject. It names no column, so the raw table gets the catalog's
    columns, in the catalog's order (the optional operation column included), and the origin
    columns. Declared with rows, the same file is rejected for its count (see below)."""
    table = fresh_resource(*HRSS)
    write_package(inbox, *HRSS, 1, {"s.jsonl": b""}, rows={"s.jsonl": 0}, fmt="jsonl", encoding="utf-8",
                  batch_id="t-empty-jsonl")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_read, entry.rows_landed, entry.drift_columns) == ("landed", 0, 0, [])
    _assert_empty_table_with_columns(spark, trino, table, _catalog_columns(catalog, *HRSS))


@pytest.mark.spark
def test_rows_delivered_after_a_delivery_of_no_rows_land_in_its_table(spark, catalog, inbox, fresh_resource):
    table = fresh_resource(*HRSS)
    write_package(inbox, *HRSS, 1, {"s.jsonl": b""}, rows={"s.jsonl": 0}, fmt="jsonl", encoding="utf-8",
                  batch_id="t-empty-jsonl-1")
    row = {"身份证号": "11010519491231002X", "姓名": "张三", "单位统一社会信用代码": "91110000600037341L",
           "单位名称": "某公司", "险种": "110", "参保状态": "1", "缴费基数": "5000.50", "参保日期": "2020-01-01",
           "更新时间": "2026-01-01 08:00:00", "操作类型": "I"}
    write_package(inbox, *HRSS, 2, {"s.jsonl": jsonl_bytes([row])}, rows={"s.jsonl": 1}, fmt="jsonl",
                  encoding="utf-8", mode="incremental", batch_id="t-empty-jsonl-2")
    assert [(e.batch_id, e.status) for e in land_inbox(spark, inbox, catalog)] == [
        ("t-empty-jsonl-1", "landed"), ("t-empty-jsonl-2", "landed")]
    [landed] = lake.read_table(spark, table).collect()
    assert {name: landed[name] for name in row} == row and landed._batch_id == "t-empty-jsonl-2"


@pytest.mark.spark
def test_a_header_only_incremental_commits_only_columns_the_table_lacks(spark, catalog, inbox, fresh_resource):
    table = fresh_resource(*PSB)
    write_package(inbox, *PSB, 1, {"a.csv": csv_bytes(PSB_HEADER, psb_rows(3))}, rows={"a.csv": 3},
                  batch_id="t-columns-1")
    incremental = PSB_HEADER + ["CZLX"]  # the full extract did not carry the operation column
    for sequence in (2, 3):
        write_package(inbox, *PSB, sequence, {"a.csv": header_only_csv(incremental)}, rows={"a.csv": 0},
                      mode="incremental", batch_id=f"t-columns-{sequence}")
    statuses = [(e.batch_id, e.status) for e in land_inbox(spark, inbox, catalog)]
    assert statuses == [("t-columns-1", "landed"), ("t-columns-2", "landed"), ("t-columns-3", "landed")]
    # the first creates the table with its rows, the second adds CZLX, the third changes nothing
    assert DeltaTable.forPath(spark, lake.table_uri(table)).history().count() == 2
    frame = lake.read_table(spark, table)
    assert "CZLX" in frame.columns and frame.count() == 3


# ------------------------------------------------------------------ rejected packages leave nothing behind

REJECTED = {
    "0-byte csv": (PSB, {"a.csv": b""}, {"a.csv": 0}, {}, "file a.csv: empty (0 bytes)"),
    "0-byte workbook": (AMR, {"e.xlsx": b""}, {"e.xlsx": 0},
                        {"fmt": "xlsx", "encoding": None, "manifest_overrides": {"sheet": AMR_SHEET}},
                        "file e.xlsx: empty (0 bytes)"),
    "workbook that is no workbook": (AMR, {"e.xlsx": b"PK? no"}, {"e.xlsx": 0},
                                     {"fmt": "xlsx", "encoding": None, "manifest_overrides": {"sheet": AMR_SHEET}},
                                     "file e.xlsx: unreadable: File is not a zip file"),
    "0-byte jsonl declared with rows": (HRSS, {"s.jsonl": b""}, {"s.jsonl": 3}, {"fmt": "jsonl", "encoding": "utf-8"},
                                        "file s.jsonl: 0 data rows, the manifest says 3"),
    "row count differs": (PSB, {"a.csv": csv_bytes(PSB_HEADER, psb_rows(2))}, {"a.csv": 3}, {},
                          "file a.csv: 2 data rows, the manifest says 3"),
    "header only, a required column missing": (PSB, {"a.csv": header_only_csv([c for c in PSB_HEADER if c != "XM"])},
                                               {"a.csv": 0}, {}, "catalog column(s) missing from the file: XM"),
}


@pytest.mark.spark
@pytest.mark.parametrize("resource, files, rows, options, reason", REJECTED.values(), ids=REJECTED.keys())
def test_a_rejected_first_package_leaves_nothing_but_its_ledger_row(spark, catalog, inbox, fresh_resource,
                                                                   resource, files, rows, options, reason):
    table = fresh_resource(*resource)
    write_package(inbox, *resource, 1, files, rows=rows, batch_id="t-rejected", **options)
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and entry.reason.startswith(reason), entry.reason
    assert not lake.table_folder(table).exists()
    assert not lake.table_exists(spark, table)
    assert _ledger(spark, *resource) == [("t-rejected", "rejected")]
    assert _quarantined(spark, *resource) == 0
