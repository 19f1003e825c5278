"""The landing job against real packages, a real Spark session, real Delta tables and Trino."""

import json

import pytest

from citylake import lake
from citylake.catalog import load_catalog
from citylake.trino import client
from jobs.landing.job import land_inbox
from tests.packages import PSB_HEADER, csv_bytes, psb_rows, write_package

pytestmark = [pytest.mark.spark, pytest.mark.trino]

TABLE = "raw.psb_household_registration"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture()
def inbox(tmp_path):
    return tmp_path / "inbox"


def _ledger(spark, batch_id):
    return lake.read_table(spark, "ops.batch_ledger").where(f"batch_id = '{batch_id}'").collect()


def _rows_of_batch(spark, batch_id):
    if not lake.table_exists(spark, TABLE):
        return 0
    return lake.read_table(spark, TABLE).where(f"_batch_id = '{batch_id}'").count()


def test_a_full_gbk_extract_lands_with_its_origin_and_trino_sees_it(spark, trino, catalog, inbox):
    rows = psb_rows(25)
    rows[3][6] = '鲤城区"开元"路, 3号\n后楼'  # quoted field with delimiter, quote and newline
    write_package(inbox, "psb", "household_registration", 1, {"part1.csv": csv_bytes(PSB_HEADER, rows)},
                  rows={"part1.csv": 25}, batch_id="t-land-1")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_read, entry.rows_landed, entry.rows_quarantined) == ("landed", 25, 25, 0)
    got = client.run_query(trino, "SELECT count(*), min(_record), max(_record), count(DISTINCT _row_hash) "
                                  f"FROM lake.{TABLE} WHERE _batch_id = 't-land-1'")
    assert got == [(25, 1, 25, 25)]
    fourth = client.run_query(trino, f"SELECT gmsfhm, xm, hjdz, _file, _sequence, _department "
                                     f"FROM lake.{TABLE} WHERE _batch_id = 't-land-1' AND _record = 4")
    assert fourth == [(rows[3][0], "测试3", '鲤城区"开元"路, 3号\n后楼', "part1.csv", 1, "psb")]
    assert _ledger(spark, "t-land-1")[0].status == "landed"


def test_a_replay_changes_nothing_and_a_conflicting_replay_is_rejected(spark, trino, catalog, inbox):
    content = csv_bytes(PSB_HEADER, psb_rows(5, start=100))
    write_package(inbox, "psb", "household_registration", 2, {"a.csv": content}, rows={"a.csv": 5},
                  batch_id="t-replay")
    assert [e.status for e in land_inbox(spark, inbox, catalog)] == ["landed"]
    assert [e.status for e in land_inbox(spark, inbox, catalog)] == ["replay"]
    assert _rows_of_batch(spark, "t-replay") == 5

    other = csv_bytes(PSB_HEADER, psb_rows(5, start=200))
    write_package(inbox, "psb", "household_registration", 2, {"a.csv": other}, rows={"a.csv": 5},
                  batch_id="t-replay")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "conflicting replay" in entry.reason
    assert _rows_of_batch(spark, "t-replay") == 5


def test_a_truncated_file_is_rejected_and_nothing_is_written(spark, catalog, inbox):
    content = csv_bytes(PSB_HEADER, psb_rows(10, start=300))
    folder = write_package(inbox, "psb", "household_registration", 3, {"a.csv": content}, rows={"a.csv": 10},
                           batch_id="t-truncated")
    (folder / "a.csv").write_bytes(content[: len(content) // 2])
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "a.csv" in entry.reason and "sha256" in entry.reason
    assert _rows_of_batch(spark, "t-truncated") == 0


def test_a_row_count_that_differs_from_the_manifest_is_rejected(spark, catalog, inbox):
    write_package(inbox, "psb", "household_registration", 4, {"a.csv": csv_bytes(PSB_HEADER, psb_rows(4))},
                  rows={"a.csv": 5}, batch_id="t-count")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "4 data rows, the manifest says 5" in entry.reason
    assert _rows_of_batch(spark, "t-count") == 0


def test_an_unparseable_row_is_quarantined_with_its_reason_and_the_batch_lands(spark, catalog, inbox):
    body = csv_bytes(PSB_HEADER, psb_rows(50, start=400)) + "坏行,only,three\r\n".encode("gbk")
    write_package(inbox, "psb", "household_registration", 5, {"a.csv": body}, rows={"a.csv": 51},
                  batch_id="t-bad-row")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_landed, entry.rows_quarantined) == ("landed", 50, 1)
    [row] = lake.read_table(spark, "ops.quarantine").where("batch_id = 't-bad-row'").collect()
    assert (row.record, row.rule, row.row_text) == (51, "unparseable_row", "坏行,only,three")
    assert "expected 11 fields, found 3" in row.reason


def test_a_missing_required_column_rejects_and_a_new_column_is_kept_as_drift(spark, catalog, inbox):
    header = [c for c in PSB_HEADER if c != "XM"]
    rows = [[v for c, v in zip(PSB_HEADER, r) if c != "XM"] for r in psb_rows(3)]
    write_package(inbox, "psb", "household_registration", 6, {"a.csv": csv_bytes(header, rows)},
                  rows={"a.csv": 3}, batch_id="t-missing")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "XM" in entry.reason

    drift_rows = [r + ["13800000000"] for r in psb_rows(3, start=500)]
    write_package(inbox, "psb", "household_registration", 7,
                  {"b.csv": csv_bytes(PSB_HEADER + ["LXDH"], drift_rows)}, rows={"b.csv": 3}, batch_id="t-drift")
    statuses = [(e.batch_id, e.status, e.drift_columns) for e in land_inbox(spark, inbox, catalog)]
    assert ("t-drift", "landed", ["LXDH"]) in statuses
    kept = lake.read_table(spark, TABLE).where("_batch_id = 't-drift'").select("LXDH").collect()
    assert [r.LXDH for r in kept] == ["13800000000"] * 3


def test_an_unknown_resource_or_unreadable_manifest_is_rejected(spark, catalog, inbox):
    write_package(inbox, "psb", "no_such_resource", 1, {"a.csv": csv_bytes(["X"], [["1"]])}, rows={"a.csv": 1})
    broken = inbox / "psb" / "household_registration" / "t-broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    entries = {e.package_path.rsplit("/", 1)[-1]: e for e in land_inbox(spark, inbox, catalog)}
    assert "unknown resource psb.no_such_resource" in entries["psb-no_such_resource-00001"].reason
    assert entries["t-broken"].status == "rejected" and "manifest unreadable" in entries["t-broken"].reason


def test_a_package_without_manifest_is_still_arriving_and_untouched(spark, catalog, inbox):
    folder = write_package(inbox, "psb", "household_registration", 9, {"a.csv": csv_bytes(PSB_HEADER, psb_rows(2))},
                           rows={"a.csv": 2}, batch_id="t-arriving")
    (folder / "manifest.json").unlink()
    assert land_inbox(spark, inbox, catalog) == []


def test_jsonl_and_utf8_sig_csv_read_as_delivered(tmp_path):
    from jobs.landing.readers import FileReader

    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"身份证号": "1", "缴费基数": 5000.5}, ensure_ascii=False) + "\n{oops\n",
                     encoding="utf-8")
    reader = FileReader(jsonl, "jsonl", "utf-8")
    [batch] = list(reader.batches())
    assert batch.to_pylist() == [{"身份证号": "1", "缴费基数": "5000.5", "_record": 1}]
    assert reader.bad_rows[0].record == 2 and "not valid JSON" in reader.bad_rows[0].reason

    bom = tmp_path / "b.csv"
    bom.write_bytes("case_no,uscc\r\nC1,91350500MA2XXXXX0X\r\n".encode("utf-8-sig"))
    reader = FileReader(bom, "csv", "utf-8-sig")
    assert [b.to_pylist() for b in reader.batches()] == [[{"case_no": "C1", "uscc": "91350500MA2XXXXX0X",
                                                            "_record": 1}]]
