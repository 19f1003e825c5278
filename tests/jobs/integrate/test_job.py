"""The integration job on real packages landed into real Delta tables: standards, each rule kind
and action, full-extract diffs, idempotent reruns, quality metrics and corrections."""

import shutil
from datetime import datetime

import pytest
from pyspark.sql import functions as F
from stdnum.cn import ric

from citylake import lake
from citylake.rules import RulesFile, load_rules
from jobs.corrections.job import CORRECTIONS, RULE_COLUMN, write_packages
from jobs.integrate.job import integrate
from jobs.landing.job import land_inbox
from tests.packages import PSB_HEADER, csv_bytes, write_package
from tests.packages import psb_rows as raw_psb_rows

pytestmark = pytest.mark.spark

RESOURCE = "psb.household_registration"
CURRENT, HISTORY = "integrated.psb_household_registration", "integrated.psb_household_registration_history"
OPS = ("ops.batch_ledger", "ops.quarantine", "ops.integration_ledger", "ops.quality_metrics", CORRECTIONS)


@pytest.fixture()
def psb(spark, settings, tmp_path):
    """psb.household_registration as if nothing had been delivered; yields the inbox."""
    for layer, table in (("raw", "psb_household_registration"), ("integrated", "psb_household_registration"),
                         ("integrated", "psb_household_registration_history")):
        shutil.rmtree(settings.path("warehouse") / layer / table, ignore_errors=True)
    for table in OPS:
        if lake.table_exists(spark, table):
            lake.delta_table(spark, table).delete(
                (F.col("department") == "psb") & (F.col("resource") == "household_registration"))
    return tmp_path / "inbox"


def psb_rows(count: int, start: int = 0) -> list[list[str]]:
    """Household registration rows valid under every standard: Chinese names, 15-digit
    household numbers, each person the head of a household."""
    rows = raw_psb_rows(count, start)
    for i, row in enumerate(rows, start=start):
        row[1] = "测试" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))
        row[7] = f"350502{i // 3:09d}"
        row[8] = "02"
    return rows


def deliver(inbox, sequence, rows, *, mode="full", extracted_at="2026-01-01T02:00:00+08:00", header=None):
    header = header or (PSB_HEADER + ["CZLX"] if mode == "incremental" else PSB_HEADER)
    write_package(inbox, "psb", "household_registration", sequence, {"a.csv": csv_bytes(header, rows)},
                  rows={"a.csv": len(rows)}, mode=mode, manifest_overrides={"extracted_at": extracted_at})


def land_and_integrate(spark, catalog, inbox, rules=None):
    land_inbox(spark, inbox, catalog)
    return integrate(spark, catalog, resources=[RESOURCE], rules=rules)


def current(spark):
    return {row.id_number: row for row in lake.read_table(spark, CURRENT).collect()}


def quarantined(spark):
    rows = lake.read_table(spark, "ops.quarantine").where(
        "resource = 'household_registration' AND stage = 'integration'").collect()
    return {(row.record, row.rule, row.column_name) for row in rows}


def metric(spark, check):
    [row] = lake.read_table(spark, "ops.quality_metrics").where(
        f"resource = 'household_registration' AND `check` = '{check}'").collect()
    return row


def local_time(column: str):
    """A timestamp as the city's wall-clock time (the session time zone), whatever the test's own zone."""
    return F.date_format(column, "yyyy-MM-dd HH:mm:ss").alias(column)


def legacy_15(id_number: str) -> str:
    return id_number[:6] + id_number[8:17]


def test_standards_repair_what_they_can_and_rules_quarantine_the_rest(spark, catalog, psb):
    rows = psb_rows(100)                                              # 4 bad rows stay under the 5 % limit
    truth = [list(row) for row in rows]
    rows[0][0] = legacy_15(rows[0][0])                               # 15-digit ID
    rows[2][2] = "女"                                                 # gender as a word
    year, month, day = rows[3][4].split("-")
    rows[3][4] = f"{year}年{int(month)}月{int(day)}日"                   # date in Chinese
    rows[4][3] = "汉族"                                               # ethnicity by name
    rows[5][0] = rows[5][0].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows[6][0] = rows[6][0][:17] + ("0" if rows[6][0][17] != "0" else "1")   # wrong check digit
    rows[7][1] = ""                                                   # name missing
    rows[8][5] = "350599"                                             # no such district
    rows.append(list(rows[9]))                                        # row 10 delivered twice
    deliver(psb, 1, rows)
    [entry] = land_and_integrate(spark, catalog, psb)
    assert (entry.status, entry.rows_in, entry.rows_quarantined, entry.inserted) == ("applied", 101, 4, 97)

    state = current(spark)
    assert len(state) == 97
    for i in (0, 2, 3, 4, 5):
        row = state[truth[i][0]]
        assert (row.gender, str(row.birth_date), row.ethnicity) == (truth[i][2], truth[i][4], truth[i][3])
    assert truth[6][0] not in state and rows[6][0] not in state
    assert quarantined(spark) == {(7, "invalid_check_digit", "GMSFHM"), (8, "missing_required", "XM"),
                                  (9, "unknown_division_code", "HJDZ_XZQH"), (101, "duplicate_key", None)}
    assert (metric(spark, "validity:GMSFHM").rows_checked, metric(spark, "validity:GMSFHM").rows_failed) == (101, 1)
    assert metric(spark, "uniqueness").rows_failed == 1
    assert metric(spark, "completeness:XM").rows_failed == 1
    assert metric(spark, "validity:XB").rows_failed == 0   # a repaired value is valid
    score = lake.read_table(spark, "ops.quality_score").where(
        "level = 'resource' AND resource = 'household_registration'").collect()
    assert len(score) == 1 and 0 < score[0].score < 100


def test_changes_apply_in_business_time_and_a_full_extract_is_diffed(spark, catalog, psb):
    rows = psb_rows(40)                        # so that the full extract below stays within the delete guard
    deliver(psb, 1, rows)
    land_and_integrate(spark, catalog, psb)
    renamed, deleted, late = rows[1], rows[2], rows[3]
    changes = [
        [*renamed[:1], "新名甲", *renamed[2:10], "2026-01-02 09:00:00", "U"],
        [*renamed[:1], "旧名乙", *renamed[2:10], "2026-01-02 08:00:00", "U"],   # older, same batch
        [*deleted[:10], "2026-01-02 10:00:00", "D"],
        [*late[:1], "迟到名", *late[2:10], "2025-12-31 08:00:00", "U"],          # older than the current state
    ]
    deliver(psb, 2, changes, mode="incremental", extracted_at="2026-01-03T02:00:00+08:00")
    [entry] = land_and_integrate(spark, catalog, psb)
    assert (entry.updated, entry.deleted, entry.late) == (1, 1, 1)
    state = current(spark)
    assert state[renamed[0]].name == "新名甲" and deleted[0] not in state and state[late[0]].name == late[1]
    versions = (lake.read_table(spark, HISTORY).where(F.col("id_number") == renamed[0]).orderBy("_valid_from")
                .select("name", local_time("_valid_to")).collect())
    assert [(v.name, str(v._valid_to)) for v in versions] == [
        (renamed[1], "2026-01-02 08:00:00"), ("旧名乙", "2026-01-02 09:00:00"), ("新名甲", "None")]

    # a full extract without person 5 and with person 6's check digit mistyped
    full = [list(row) for i, row in enumerate(rows) if i not in (2, 5)]
    typo = next(row for row in full if row[0] == rows[6][0])
    typo[0] = typo[0][:17] + ("0" if typo[0][17] != "0" else "1")
    deliver(psb, 3, full, extracted_at="2026-01-10T02:00:00+08:00")
    [entry] = land_and_integrate(spark, catalog, psb)
    assert (entry.status, entry.deleted, entry.rows_quarantined) == ("applied", 1, 1)
    state = current(spark)
    assert rows[5][0] not in state and rows[6][0] in state       # a quarantined key is not a deletion
    closed = lake.read_table(spark, HISTORY).where(F.col("id_number") == rows[5][0]).select(
        local_time("_valid_to")).collect()
    assert [str(v._valid_to) for v in closed] == ["2026-01-10 02:00:00"]


def test_reruns_change_nothing(spark, catalog, psb):
    deliver(psb, 1, psb_rows(8))
    [first] = land_and_integrate(spark, catalog, psb)
    before = sorted(map(tuple, lake.read_table(spark, HISTORY).drop("_batch_id").collect()))
    assert integrate(spark, catalog, resources=[RESOURCE]) == []          # nothing pending
    # a run interrupted before its ledger row: the whole run is redone, to the same state, and the
    # ledger row says what the interrupted run did (its counts are in its commit), not "nothing"
    versions = lake.table_version(spark, CURRENT), lake.table_version(spark, HISTORY)
    lake.delta_table(spark, "ops.integration_ledger").delete("resource = 'household_registration'")
    [entry] = integrate(spark, catalog, resources=[RESOURCE])
    assert (entry.status, entry.inserted, entry.updated, entry.deleted) == ("applied", first.inserted, 0, 0)
    assert first.inserted == 8
    assert (lake.table_version(spark, CURRENT), lake.table_version(spark, HISTORY)) == versions
    assert sorted(map(tuple, lake.read_table(spark, HISTORY).drop("_batch_id").collect())) == before
    assert lake.read_table(spark, "ops.quality_metrics").where(
        "resource = 'household_registration' AND `check` = 'uniqueness'").count() == 1


def test_actions_warn_reject_and_the_quarantine_limit(spark, catalog, psb):
    loaded = load_rules(catalog)
    strict = RulesFile.model_validate({**loaded.model_dump(), "resources": {RESOURCE: {
        "validity": {"action": "quarantine", "columns": {"GMSFHM": "reject", "XB": "warn"}}}}})
    rows = psb_rows(40)
    rows[0][2] = "X"                                                  # invalid gender: warn only
    deliver(psb, 1, rows)
    [entry] = land_and_integrate(spark, catalog, psb, strict)
    assert (entry.status, entry.rows_warned, entry.rows_quarantined, entry.inserted) == ("applied", 1, 0, 40)
    assert current(spark)[rows[0][0]].gender is None

    over_limit = [[*row, "I"] for row in psb_rows(10, start=200)]
    for row in over_limit[:3]:
        row[1] = ""                                                   # 30 % missing names > 5 % limit
    deliver(psb, 2, over_limit, mode="incremental")
    [entry] = land_and_integrate(spark, catalog, psb, strict)
    assert entry.status == "rejected" and "over the resource's limit" in entry.reason
    assert entry.failures == {"completeness:XM": 3}                  # for the summary's most failed rules
    assert len(current(spark)) == 40                                  # nothing of it applied

    rejecting = [[*row, "I"] for row in psb_rows(40, start=300)]
    rejecting[5][0] = rejecting[5][0][:17] + ("0" if rejecting[5][0][17] != "0" else "1")
    deliver(psb, 3, rejecting, mode="incremental")
    [entry] = land_and_integrate(spark, catalog, psb, strict)
    assert (entry.status, entry.reason) == ("rejected", "a rule whose action is reject failed: validity:GMSFHM (1 row)")
    assert len(current(spark)) == 40


def test_a_delivery_later_than_its_cycle_fails_timeliness(spark, catalog, psb):
    deliver(psb, 1, psb_rows(5))
    deliver(psb, 2, psb_rows(5), extracted_at="2026-02-20T02:00:00+08:00")   # monthly + 7 days grace < 50 days
    land_and_integrate(spark, catalog, psb)
    rows = lake.read_table(spark, "ops.quality_metrics").where(
        "resource = 'household_registration' AND `check` = 'timeliness'").orderBy("sequence").collect()
    assert [(row.sequence, row.rows_failed, row.action) for row in rows] == [(1, 0, "warn"), (2, 1, "warn")]


def test_corrections_open_close_and_go_back_in_the_departments_own_form(spark, catalog, psb, tmp_path):
    rows = psb_rows(60)
    wrong, missing = list(rows[0]), list(rows[1])
    wrong[0] = wrong[0][:17] + ("0" if wrong[0][17] != "0" else "1")
    missing[1] = ""
    deliver(psb, 1, [wrong, missing, *rows[2:]])
    land_and_integrate(spark, catalog, psb)
    opened = {row.rule: row for row in lake.read_table(spark, CORRECTIONS).where(
        "resource = 'household_registration'").collect()}
    assert set(opened) == {"invalid_check_digit", "missing_required"}
    assert all(row.status == "open" for row in opened.values())

    corrected = [*rows[0][:10], "2026-01-05 08:00:00", "I"]
    deliver(psb, 2, [corrected], mode="incremental", extracted_at="2026-01-05T02:00:00+08:00")
    land_and_integrate(spark, catalog, psb)
    now = {row.rule: row for row in lake.read_table(spark, CORRECTIONS).where(
        "resource = 'household_registration'").collect()}
    assert (now["invalid_check_digit"].status, now["invalid_check_digit"].closed_by_batch,
            now["invalid_check_digit"].age_days) == ("closed", "psb-household_registration-00002", 4)
    assert now["missing_required"].status == "open" and now["missing_required"].age_days > 0

    [package] = write_packages(spark, catalog, tmp_path / "corrections", datetime(2026, 1, 6, 9), ["psb"])
    lines = (package / "household_registration.csv").read_bytes().decode("gbk").splitlines()
    assert lines[0].split(",")[:11] == PSB_HEADER and RULE_COLUMN in lines[0]
    assert len(lines) == 2 and lines[1].startswith(missing[0]) and "missing_required" in lines[1]
    assert ric.is_valid(lines[1].split(",")[0])


def test_a_rejected_batch_leaves_its_failing_rows_for_the_department_to_correct(spark, catalog, psb, tmp_path):
    deliver(psb, 1, psb_rows(20))
    land_and_integrate(spark, catalog, psb)
    resent = [[*row, "I"] for row in psb_rows(10, start=200)]
    over_limit = [list(row) for row in resent]
    for row in over_limit[:3]:
        row[1] = ""                                                   # 30 % missing names > 5 % limit
    deliver(psb, 2, over_limit, mode="incremental", extracted_at="2026-01-02T02:00:00+08:00")
    [entry] = land_and_integrate(spark, catalog, psb)
    assert (entry.status, entry.rows_quarantined) == ("rejected", 3)
    rejected_batch = entry.batch_id

    def set_aside(table):
        return lake.read_table(spark, table).where(
            (F.col("resource") == "household_registration") & (F.col("batch_id") == rejected_batch)).collect()

    held = set_aside("ops.quarantine")
    assert sorted((row.record, row.rule, row.column_name) for row in held) == [
        (1, "missing_required", "XM"), (2, "missing_required", "XM"), (3, "missing_required", "XM")]
    assert all("XM" in row.reason for row in held)
    assert sorted((row.record, row.status, row.rule) for row in set_aside(CORRECTIONS)) == [
        (1, "open", "missing_required"), (2, "open", "missing_required"), (3, "open", "missing_required")]
    [package] = write_packages(spark, catalog, tmp_path / "corrections", datetime(2026, 1, 2, 9), ["psb"])
    lines = (package / "household_registration.csv").read_bytes().decode("gbk").splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == sorted(row[0] for row in over_limit[:3])
    assert all("missing_required" in line and rejected_batch in line for line in lines)

    # a run interrupted before its ledger row is redone: the same rows, not a second copy
    lake.delta_table(spark, "ops.integration_ledger").delete(F.col("batch_id") == rejected_batch)
    [entry] = integrate(spark, catalog, resources=[RESOURCE])
    assert entry.status == "rejected"
    assert (len(set_aside("ops.quarantine")), len(set_aside(CORRECTIONS))) == (3, 3)

    # the department sends the batch again, corrected: the corrections close as for an applied batch
    deliver(psb, 3, resent, mode="incremental", extracted_at="2026-01-03T02:00:00+08:00")
    [entry] = land_and_integrate(spark, catalog, psb)
    assert (entry.status, entry.inserted) == ("applied", 10)
    assert {(row.status, row.closed_by_batch, row.age_days) for row in set_aside(CORRECTIONS)} == {
        ("closed", entry.batch_id, 1)}
    packages = write_packages(spark, catalog, tmp_path / "later", datetime(2026, 1, 3, 9), ["psb"])
    assert not any((package / "household_registration.csv").exists() for package in packages)


def table_versions(spark, settings) -> dict[str, int]:
    """Every Delta table under the warehouse, by name, with its latest version."""
    return {f"{layer.name}.{table.name}": lake.delta_table(spark, f"{layer.name}.{table.name}").history(1).first().version
            for layer in settings.path("warehouse").iterdir() if layer.is_dir()
            for table in layer.iterdir() if (table / "_delta_log").is_dir()}


def test_a_rerun_with_nothing_new_commits_nothing(spark, catalog, settings, psb):
    rows = psb_rows(30)
    rows[0][1] = ""                                                   # an open correction, which ages
    deliver(psb, 1, rows)
    land_and_integrate(spark, catalog, psb)
    integrate(spark, catalog)                                         # anything else still pending
    before = table_versions(spark, settings)
    assert {"ops.quality_score", CORRECTIONS} <= set(before)

    assert integrate(spark, catalog) == []
    assert table_versions(spark, settings) == before
    [correction] = lake.read_table(spark, CORRECTIONS).where("resource = 'household_registration'").select(
        (F.col("age_days") == F.datediff(F.current_timestamp(), "opened_at")).alias("aged_to_today")).collect()
    assert correction.aged_to_today
