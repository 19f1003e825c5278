"""The landing job against real packages, a real Spark session, real Delta tables and Trino:
one test per row of the delivery contract's table."""

import json

import pytest

from citylake import lake
from citylake.trino import client
from jobs.landing import job
from jobs.landing.job import land_inbox
from jobs.landing.ledger import release
from tests.packages import PSB_HEADER, csv_bytes, psb_rows, write_package

pytestmark = [pytest.mark.spark, pytest.mark.trino]

TABLE = "raw.psb_household_registration"


def _psb(inbox, sequence, rows, *, batch_id=None, mode="full", name="a.csv", count=None, header=PSB_HEADER):
    content = csv_bytes(header, rows)
    return write_package(inbox, "psb", "household_registration", sequence, {name: content},
                         rows={name: len(rows) if count is None else count}, batch_id=batch_id, mode=mode)


def _ledger(spark, batch_id):
    return lake.read_table(spark, "ops.batch_ledger").where(f"batch_id = '{batch_id}'").orderBy("finished_at").collect()


def _rows_of_batch(spark, batch_id):
    if not lake.table_exists(spark, TABLE):
        return 0
    return lake.read_table(spark, TABLE).where(f"_batch_id = '{batch_id}'").count()


def _statuses(spark, inbox, catalog):
    return [(e.batch_id, e.status) for e in land_inbox(spark, inbox, catalog)]


def test_a_full_gbk_extract_lands_with_its_origin_and_trino_sees_it(spark, trino, catalog, inbox, fresh_psb):
    rows = psb_rows(25)
    rows[3][6] = '鲤城区"开元"路, 3号\n后楼'  # quoted field with delimiter, quote and newline
    _psb(inbox, 1, rows, batch_id="t-land-1", name="part1.csv")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_read, entry.rows_landed, entry.rows_quarantined) == ("landed", 25, 25, 0)
    got = client.run_query(trino, "SELECT count(*), min(_record), max(_record), count(DISTINCT _row_hash) "
                                  f"FROM lake.{TABLE} WHERE _batch_id = 't-land-1'")
    assert got == [(25, 1, 25, 25)]
    fourth = client.run_query(trino, f"SELECT gmsfhm, xm, hjdz, _file, _sequence, _department "
                                     f"FROM lake.{TABLE} WHERE _batch_id = 't-land-1' AND _record = 4")
    assert fourth == [(rows[3][0], "测试3", '鲤城区"开元"路, 3号\n后楼', "part1.csv", 1, "psb")]
    assert _ledger(spark, "t-land-1")[0].status == "landed"
    ledger = client.run_query(trino, "SELECT status, rows_landed FROM lake.ops.batch_ledger WHERE batch_id = 't-land-1'")
    assert ledger == [("landed", 25)]


def test_a_replay_changes_nothing_and_a_conflicting_replay_is_rejected(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(5, start=100), batch_id="t-replay")
    assert _statuses(spark, inbox, catalog) == [("t-replay", "landed")]
    assert _statuses(spark, inbox, catalog) == []  # a later scan of the same delivery says nothing new
    _psb(inbox, 1, psb_rows(5, start=100), batch_id="t-replay")  # the department sends it again
    assert _statuses(spark, inbox, catalog) == [("t-replay", "replay")]
    assert _rows_of_batch(spark, "t-replay") == 5

    _psb(inbox, 1, psb_rows(5, start=200), batch_id="t-replay")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "conflicting replay" in entry.reason
    assert _rows_of_batch(spark, "t-replay") == 5


def test_a_truncated_file_is_rejected_and_nothing_is_written(spark, catalog, inbox, fresh_psb):
    folder = _psb(inbox, 1, psb_rows(10), batch_id="t-truncated")
    content = (folder / "a.csv").read_bytes()
    (folder / "a.csv").write_bytes(content[: len(content) // 2])
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "a.csv" in entry.reason and "sha256" in entry.reason
    assert _rows_of_batch(spark, "t-truncated") == 0


def test_a_missing_file_or_a_row_count_that_differs_is_rejected(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(4), batch_id="t-count", count=5)
    (_psb(inbox, 2, psb_rows(4), batch_id="t-missing-file") / "a.csv").unlink()
    entries = {e.batch_id: e for e in land_inbox(spark, inbox, catalog)}
    assert "4 data rows, the manifest says 5" in entries["t-count"].reason
    assert entries["t-missing-file"].reason == "file a.csv: missing"
    assert _rows_of_batch(spark, "t-count") == 0


def test_an_unparseable_row_is_quarantined_with_its_reason_and_the_batch_lands(spark, catalog, inbox, fresh_psb):
    body = csv_bytes(PSB_HEADER, psb_rows(50, start=400)) + "坏行,only,three\r\n".encode("gbk")
    write_package(inbox, "psb", "household_registration", 1, {"a.csv": body}, rows={"a.csv": 51},
                  batch_id="t-bad-row")
    [entry] = land_inbox(spark, inbox, catalog)
    assert (entry.status, entry.rows_landed, entry.rows_quarantined) == ("landed", 50, 1)
    [row] = lake.read_table(spark, "ops.quarantine").where("batch_id = 't-bad-row'").collect()
    assert (row.record, row.rule, row.row_text) == (51, "unparseable_row", "坏行,only,three")
    assert "expected 11 fields, found 3" in row.reason


def test_more_quarantined_rows_than_the_limit_rejects_the_batch(spark, catalog, inbox, fresh_psb):
    body = csv_bytes(PSB_HEADER, psb_rows(10)) + "x,y\r\n".encode("gbk")  # 1 of 11 > 5 %
    write_package(inbox, "psb", "household_registration", 1, {"a.csv": body}, rows={"a.csv": 11},
                  batch_id="t-too-many")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "over the resource's quarantine limit" in entry.reason
    assert _rows_of_batch(spark, "t-too-many") == 0


def test_a_missing_required_column_rejects_and_a_new_column_is_kept_as_drift(spark, catalog, inbox, fresh_psb):
    header = [c for c in PSB_HEADER if c != "XM"]
    rows = [[v for c, v in zip(PSB_HEADER, r) if c != "XM"] for r in psb_rows(3)]
    _psb(inbox, 1, rows, header=header, batch_id="t-missing-column")
    [entry] = land_inbox(spark, inbox, catalog)
    assert entry.status == "rejected" and "XM" in entry.reason

    _psb(inbox, 1, [r + ["13800000000"] for r in psb_rows(3, start=500)], header=PSB_HEADER + ["LXDH"],
         batch_id="t-drift")
    statuses = [(e.batch_id, e.status, e.drift_columns) for e in land_inbox(spark, inbox, catalog)]
    assert ("t-drift", "landed", ["LXDH"]) in statuses
    kept = lake.read_table(spark, TABLE).where("_batch_id = 't-drift'").select("LXDH").collect()
    assert [r.LXDH for r in kept] == ["13800000000"] * 3


def test_a_sequence_gap_is_held_until_the_missing_package_lands(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(5), batch_id="t-seq-1")
    _psb(inbox, 3, psb_rows(5, start=10), batch_id="t-seq-3", mode="incremental")
    assert _statuses(spark, inbox, catalog) == [("t-seq-1", "landed"), ("t-seq-3", "held")]
    assert "3 arrived while 2 is missing" in _ledger(spark, "t-seq-3")[0].reason
    assert _statuses(spark, inbox, catalog) == [("t-seq-3", "held")]
    assert len(_ledger(spark, "t-seq-3")) == 1  # held once in the ledger, not once per run

    _psb(inbox, 2, psb_rows(5, start=5), batch_id="t-seq-2", mode="incremental")
    assert _statuses(spark, inbox, catalog) == [("t-seq-2", "landed"), ("t-seq-3", "landed")]


def test_an_operator_releases_a_held_package_and_an_old_sequence_is_then_rejected(spark, catalog, inbox, fresh_psb):
    _psb(inbox, 1, psb_rows(5), batch_id="t-rel-1")
    _psb(inbox, 3, psb_rows(5, start=10), batch_id="t-rel-3", mode="incremental")
    land_inbox(spark, inbox, catalog)
    with pytest.raises(ValueError, match="not held"):
        release(spark, "psb", "household_registration", "t-rel-1", "wrong batch")
    release(spark, "psb", "household_registration", "t-rel-3", "sequence 2 was never cut, confirmed by phone")
    assert ("t-rel-3", "landed") in _statuses(spark, inbox, catalog)

    _psb(inbox, 2, psb_rows(5, start=5), batch_id="t-rel-2", mode="incremental")
    entry = next(e for e in land_inbox(spark, inbox, catalog) if e.batch_id == "t-rel-2")
    assert entry.status == "rejected" and "sequence 2 is behind" in entry.reason


def test_a_full_extract_missing_a_district_is_held_by_the_delete_guard(spark, catalog, inbox, fresh_psb):
    everyone = psb_rows(100)
    _psb(inbox, 1, everyone, batch_id="t-guard-1")
    _psb(inbox, 2, everyone[:70], batch_id="t-guard-2")  # 30 % of the keys gone
    assert _statuses(spark, inbox, catalog) == [("t-guard-1", "landed"), ("t-guard-2", "held")]
    assert "would delete 30 of 100 current keys (30.0%)" in _ledger(spark, "t-guard-2")[0].reason
    assert _rows_of_batch(spark, "t-guard-2") == 0
    release(spark, "psb", "household_registration", "t-guard-2", "district 350503 really closed its office")
    assert ("t-guard-2", "landed") in _statuses(spark, inbox, catalog)


def test_a_crash_between_the_commit_and_the_ledger_is_finished_by_a_rerun(spark, catalog, inbox, fresh_psb,
                                                                           land_killed_at):
    _psb(inbox, 1, psb_rows(20), batch_id="t-crash")
    land_killed_at(inbox, job, "record")
    assert _rows_of_batch(spark, "t-crash") == 20  # committed, but the ledger never heard of it
    assert _statuses(spark, inbox, catalog) == [("t-crash", "landed")]
    assert _rows_of_batch(spark, "t-crash") == 20  # not twice


def test_an_unknown_resource_or_unreadable_manifest_is_rejected(spark, catalog, inbox, fresh_psb):
    write_package(inbox, "psb", "no_such_resource", 1, {"a.csv": csv_bytes(["X"], [["1"]])}, rows={"a.csv": 1})
    broken = inbox / "psb" / "household_registration" / "t-broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    entries = {e.package_path.rsplit("/", 1)[-1]: e for e in land_inbox(spark, inbox, catalog)}
    assert "unknown resource psb.no_such_resource" in entries["psb-no_such_resource-00001"].reason
    assert entries["t-broken"].status == "rejected" and "manifest unreadable" in entries["t-broken"].reason


def test_a_package_without_manifest_is_still_arriving_and_untouched(spark, catalog, inbox, fresh_psb):
    (_psb(inbox, 1, psb_rows(2), batch_id="t-arriving") / "manifest.json").unlink()
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


def test_a_newer_full_extract_supersedes_a_held_one(spark, catalog, inbox, fresh_psb):
    everyone = psb_rows(100)
    _psb(inbox, 1, everyone, batch_id="t-sup-1")
    _psb(inbox, 2, everyone[:50], batch_id="t-sup-2")          # a lost district: held
    _psb(inbox, 3, everyone[:98], batch_id="t-sup-3")          # next month's complete extract
    assert _statuses(spark, inbox, catalog) == [("t-sup-1", "landed"), ("t-sup-2", "held"), ("t-sup-3", "landed")]
    entry = next(e for e in land_inbox(spark, inbox, catalog) if e.batch_id == "t-sup-2")
    assert entry.status == "rejected" and "superseded" in entry.reason


def test_gb18030_csv_keeps_characters_gbk_cannot_encode(tmp_path):
    from jobs.landing.readers import FileReader

    path = tmp_path / "a.csv"
    path.write_bytes("GMSFHM,XM\r\n350502199001010018,王㐀𠀀\r\n".encode("gb18030"))
    [batch] = list(FileReader(path, "csv", "gb18030").batches())
    assert batch.to_pylist() == [{"GMSFHM": "350502199001010018", "XM": "王㐀𠀀", "_record": 1}]
