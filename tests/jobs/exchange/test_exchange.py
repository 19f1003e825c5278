"""Exchange with other levels on a few rows of real Delta tables: the province's package re-read
against its manifest, re-sends that change nothing, receipts recorded or refused, a district's
back-flow (its rows only, masked as Python's twins of the masks say), open data without personal
columns."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import types as T

from citylake import lake
from citylake.masks import mask
from citylake.settings import profile
from jobs.exchange import ledger
from jobs.exchange.package import ExchangeError, read_manifest, verify_package

pytestmark = pytest.mark.spark

ENTERPRISES = T.StructType([T.StructField(name, kind) for name, kind in (
    ("uscc", T.StringType()), ("enterprise_name", T.StringType()), ("legal_rep_name", T.StringType()),
    ("legal_rep_id_number", T.StringType()), ("registered_capital_10k", T.DecimalType(18, 4)),
    ("established_on", T.DateType()), ("division_code", T.StringType()), ("address", T.StringType()),
    ("changed_at", T.TimestampType()), ("_batch_id", T.StringType()))])
ENTERPRISE_ROWS = [
    ("91350502MA0000001A", "泉州甲公司", "张三", "350502199001011234", Decimal("100.5000"), date(2020, 1, 2),
     "350502", "泉州市鲤城区海滨街道中山路1号", datetime(2026, 3, 1, 9), "b1"),
    ("91350502MA0000002B", "泉州乙公司, 有限", "李四", "35050219850505432X", Decimal("20"), date(2021, 6, 1),
     "350502", "泉州市鲤城区开元街道新华路2号", datetime(2026, 3, 1, 9), "b1"),
    ("91350503MA0000003C", '丰泽"丙"公司', "王五", "350503197712120011", None, date(2019, 3, 3),
     "350503", "泉州市丰泽区东海街道3号", datetime(2026, 3, 2, 10, 30), "b2"),
]
LEGAL_ENTITIES = T.StructType([T.StructField(name, T.StringType()) for name in (
    "uscc", "name", "legal_rep_name", "legal_rep_id_number", "address", "division_code", "street_code", "_lineage")])
LEGAL_ENTITY_ROWS = [
    ("91350502MA0000001A", "泉州甲公司", "张三", "350502199001011234", "泉州市鲤城区海滨街道中山路1号", "350502",
     "350502001", "x"),
    ("91350502MA0000002B", "泉州乙公司", "李四", "35050219850505432X", "泉州市鲤城区开元街道新华路2号", "350502",
     "350502002", "x"),
    ("91350503MA0000003C", "丰泽丙公司", "王五", "350503197712120011", "泉州市丰泽区东海街道3号", "350503",
     "350503001", "x"),
]


@pytest.fixture(scope="module")
def own_lake(spark, tmp_path_factory):
    """A lake of this module's own (the session's scratch lake may hold a golden city other tests
    read): the enterprise register, a conditional register, and the legal-entity library."""
    patch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("exchange-lake")
    patch.setenv("CITYLAKE__PATHS__VAR", str(root / "var"))
    patch.setenv("CITYLAKE__PATHS__WAREHOUSE", str(root / "var" / "warehouse"))
    profile.cache_clear()
    lake.write_table(spark.createDataFrame(ENTERPRISE_ROWS, ENTERPRISES), "integrated.amr_enterprise_registration",
                     "overwrite")
    lake.write_table(spark.createDataFrame([("350502199001011234", "张三", "350502")],
                                           "id_number string, name string, division_code string"),
                     "integrated.psb_household_registration", "overwrite")
    lake.write_table(spark.createDataFrame(LEGAL_ENTITY_ROWS, LEGAL_ENTITIES), "base.legal_entity", "overwrite")
    yield profile().path("var")
    patch.undo()
    profile.cache_clear()


def read_csv(folder: Path, manifest: dict, table: int = 0) -> list[dict[str, str]]:
    rows = []
    for entry in manifest["tables"][table]["files"]:
        with (folder / entry["name"]).open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_mtime_ns, path.stat().st_size) for path in folder.iterdir()}


def test_report_package_is_its_manifest_and_a_resend_changes_nothing(spark, own_lake):
    from jobs.exchange.report import report

    sent = report(spark, "amr.enterprise_registration")
    folder, manifest = sent.written.folder, read_manifest(sent.written.folder)
    assert folder == own_lake / "exchange" / "report" / "amr.enterprise_registration" / sent.written.package_id
    assert sent.recorded and verify_package(folder) == []
    assert manifest["package_id"] == sent.written.package_id and manifest["rows"] == 3
    assert manifest["owner"]["code"] == "amr" and manifest["as_of"]
    table = manifest["tables"][0]
    assert [c["name"] for c in table["columns"]] == [f.name for f in ENTERPRISES.fields if f.name != "_batch_id"]
    assert {c["name"]: c["type"] for c in table["columns"]}["registered_capital_10k"] == "decimal(18,4)"
    rows = read_csv(folder, manifest)
    assert len(rows) == 3 and list(rows[0]) == [c["name"] for c in table["columns"]]
    # the file holds the table's values: quoting, decimals, dates, times and NULL as an empty field
    by_id = {row["uscc"]: row for row in rows}
    assert by_id["91350502MA0000002B"]["enterprise_name"] == "泉州乙公司, 有限"
    assert by_id["91350503MA0000003C"]["enterprise_name"] == '丰泽"丙"公司'
    assert by_id["91350503MA0000003C"]["registered_capital_10k"] == ""
    assert by_id["91350502MA0000001A"]["registered_capital_10k"] == "100.5000"
    assert by_id["91350502MA0000001A"]["established_on"] == "2020-01-02"
    assert by_id["91350502MA0000001A"]["legal_rep_id_number"] == "350502199001011234"  # the province: in clear
    (sends,) = ledger.sends(spark)
    assert sends["rows"] == 3 and sends["status"] == ledger.SENT and sends["target"] == "350000"
    assert sends["tables"] == [f"integrated.amr_enterprise_registration@{table['version']}"]

    before = folder_state(folder)
    again = report(spark, "amr.enterprise_registration")
    assert again.recorded is None and again.written.package_id == sent.written.package_id
    assert folder_state(folder) == before and len(ledger.sends(spark)) == 1

    resent = report(spark, "amr.enterprise_registration", resend=True)
    assert resent.written.package_id == sent.written.package_id and resent.recorded["resend"]
    assert {name: size for name, (_, size) in folder_state(folder).items()} == {n: s for n, (_, s) in before.items()}
    assert verify_package(folder) == [] and len(ledger.sends(spark)) == 2

    # a damaged package is noticed and written again, and is not sent again
    (folder / table["files"][0]["name"]).write_text("uscc\r\n", encoding="utf-8")
    assert verify_package(folder)
    repaired = report(spark, "amr.enterprise_registration")
    assert repaired.recorded is None and verify_package(folder) == [] and len(ledger.sends(spark)) == 2


def test_report_refuses_the_negative_list_and_unknown_names(spark, own_lake):
    from jobs.exchange.report import report

    with pytest.raises(ExchangeError, match="negative list"):
        report(spark, "hcb.property_registration")
    with pytest.raises(ExchangeError, match="neither a catalog resource"):
        report(spark, "app.warning")
    with pytest.raises(ExchangeError, match="does not exist yet"):
        report(spark, "base.population")


def drop(folder: Path, name: str, content: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_receipts_are_recorded_and_wrong_ones_refused_with_the_reason(spark, own_lake):
    from jobs.exchange.report import read_receipts, receipts_dir, report

    written = report(spark, "amr.enterprise_registration").written
    folder = receipts_dir()
    good = {"package_id": written.package_id, "status": "accepted", "counts": {"rows": 3, "files": 1},
            "message": "入库成功"}
    drop(folder, "a-good.json", good)
    drop(folder, "b-counts.json", good | {"counts": {"rows": 2, "files": 1}})
    drop(folder, "c-unknown.json", good | {"package_id": "nobody-000000000000"})
    drop(folder, "d-broken.json", "{not json")
    outcomes = {outcome.file: outcome for outcome in read_receipts(spark)}
    assert outcomes["a-good.json"].outcome == "recorded (accepted)"
    assert "counts disagree" in outcomes["b-counts.json"].reason and "2 rows" in outcomes["b-counts.json"].reason
    assert "unknown package 'nobody-000000000000'" in outcomes["c-unknown.json"].reason
    assert outcomes["d-broken.json"].reason.startswith("not a receipt")
    assert sorted(path.name for path in folder.glob("*.json")) == []
    assert (folder / "processed" / "a-good.json").is_file()
    assert "counts disagree" in (folder / "quarantine" / "b-counts.json.reason.txt").read_text(encoding="utf-8")
    sends = ledger.sends(spark, written.package_id)
    assert {send["status"] for send in sends} == {ledger.ACCEPTED}
    assert json.loads(sends[0]["receipt"])["message"] == "入库成功"
    recorded = lake.read_table(spark, ledger.RECEIPTS).toPandas().set_index("receipt_file")
    assert recorded.loc["a-good.json", "outcome"] == "recorded" and recorded.loc["b-counts.json", "outcome"] == "refused"
    assert recorded.loc["c-unknown.json", "reason"].startswith("unknown package")

    drop(folder, "a-good-again.json", good)  # the same receipt again: nothing new
    (again,) = read_receipts(spark)
    assert again.outcome == "already recorded" and len(lake.read_table(spark, ledger.RECEIPTS).collect()) == 4


def test_backflow_has_the_districts_rows_only_masked(spark, own_lake):
    from jobs.exchange.backflow import backflow

    sent, missing = backflow(spark, "鲤城区")
    folder, manifest = sent.written.folder, read_manifest(sent.written.folder)
    assert verify_package(folder) == [] and sent.recorded["target"] == "350502"
    assert folder.parent == own_lake / "exchange" / "backflow" / "350502"
    tables = {table["table"]: index for index, table in enumerate(manifest["tables"])}
    # unconditional tables a district reads; the conditional register and integrated layer are not its
    assert set(tables) == {"base.legal_entity"} and "base.building" in missing
    table = manifest["tables"][tables["base.legal_entity"]]
    assert table["masked"] == ["address", "legal_rep_id_number", "legal_rep_name"]
    assert "350502" in table["row_filter"]
    rows = read_csv(folder, manifest, tables["base.legal_entity"])
    clear = {row[0]: row for row in LEGAL_ENTITY_ROWS if row[5] == "350502"}
    assert {row["uscc"] for row in rows} == set(clear)
    assert "_lineage" not in rows[0]
    for row in rows:
        uscc, name, rep, rep_id, address, *_ = clear[row["uscc"]]
        assert row["name"] == name
        assert row["legal_rep_name"] == mask("name").apply(rep) != rep
        assert row["legal_rep_id_number"] == mask("id_number").apply(rep_id) != rep_id
        assert row["address"] == mask("address").apply(address) != address

    count = len(ledger.sends(spark))
    again, _ = backflow(spark, "350502")
    assert again.recorded is None and again.written.package_id == sent.written.package_id
    assert len(ledger.sends(spark)) == count
    with pytest.raises(ValueError, match="not a district"):
        backflow(spark, "350599")
    with pytest.raises(ExchangeError, match="name the district"):
        backflow(spark, " ")


def test_backflow_follows_the_districts_approvals(spark, own_lake):
    """A conditional table reaches the district once it has an approval, with the approved columns
    only (masked still: the approval is not for clear text)."""
    from datetime import timedelta, timezone

    from citylake.access import Grant, write_grants
    from jobs.exchange.backflow import backflow

    people = [("350502199001011234", "张三", "13800001234", "36", "350502001"),
              ("350503198505054321", "李四", "13900005678", "41", "350503001")]
    lake.write_table(spark.createDataFrame(people, "id_number string, name string, phone string, age string, "
                                                   "division_code string"), "base.population", "overwrite")
    sent, _ = backflow(spark, "350502")
    assert "base.population" not in {table["table"] for table in sent.written.manifest["tables"]}
    until = datetime.now(timezone.utc) + timedelta(days=30)
    write_grants(own_lake, [Grant("sr-test", "350502", "base.population", until,
                                  ("id_number", "name", "age", "division_code"))])
    try:
        sent, _ = backflow(spark, "Licheng")
    finally:
        write_grants(own_lake, [])
    tables = {table["table"]: index for index, table in enumerate(sent.written.manifest["tables"])}
    table = sent.written.manifest["tables"][tables["base.population"]]
    assert table["why"] == "approved" and table["removed"] == ["phone"]
    assert table["masked"] == ["id_number", "name"] and "current_timestamp" in table["row_filter"]
    (row,) = read_csv(sent.written.folder, sent.written.manifest, tables["base.population"])
    assert row == {"id_number": mask("id_number").apply(people[0][0]), "name": "张*", "age": "36",
                   "division_code": "350502001"}


def test_open_data_has_unconditional_resources_without_personal_columns(spark, own_lake):
    from jobs.exchange.open_data import publish_open_data

    published, missing = publish_open_data(spark)
    assert [item.resource for item in published] == ["amr.enterprise_registration"]
    assert "psb.household_registration" not in missing and "amr.administrative_license" in missing
    folder = own_lake / "open"
    assert not (folder / "psb.household_registration").exists()
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert [entry["resource"] for entry in index["resources"]] == ["amr.enterprise_registration"]
    meta = json.loads((folder / "amr.enterprise_registration" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["title_zh"] == "企业登记" and meta["title_en"] == "Enterprise register"
    assert meta["owner"]["name"] == "市场监督管理局" and meta["update_cycle"] == {"full": "weekly"}
    assert meta["licence"]["url"] and meta["rows"] == 3 and meta["as_of"]
    assert meta["removed_personal_fields"] == ["address", "legal_rep_id_number", "legal_rep_name"]
    names = [field["name"] for field in meta["fields"]]
    assert names == ["uscc", "enterprise_name", "registered_capital_10k", "established_on", "division_code",
                     "changed_at"]
    assert all(field["description_zh"] for field in meta["fields"])
    package = folder / "amr.enterprise_registration" / meta["package_id"]
    assert verify_package(package) == []
    rows = read_csv(package, read_manifest(package))
    assert len(rows) == 3 and list(rows[0]) == names
    assert not any("张三" in value or "350502199001011234" in value for row in rows for value in row.values())

    count = len(ledger.sends(spark))
    again, _ = publish_open_data(spark)
    assert not again[0].new and again[0].written.package_id == meta["package_id"]
    assert len(ledger.sends(spark)) == count


def test_the_command_line_says_what_it_sent_and_refuses_clearly(spark, own_lake, capsys):
    from citylake.cli import main
    from jobs.exchange.report import receipts_dir

    main(["exchange", "report", "amr.enterprise_registration"])
    assert "already sent, nothing new" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["exchange", "report", "hcb.property_registration"])
    assert refused.value.code == 2 and "negative list" in capsys.readouterr().out
    drop(receipts_dir(), "late.json", {"package_id": "x", "status": "accepted", "counts": {"rows": 1, "files": 1}})
    with pytest.raises(SystemExit) as quarantined:
        main(["exchange", "receipts"])
    assert quarantined.value.code == 1 and "unknown package 'x'" in capsys.readouterr().out
