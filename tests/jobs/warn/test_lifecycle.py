"""The early warnings' lifecycle on real Delta tables: opened, found again, acknowledged, closed by a
person or by a cleared condition, reopened; reruns commit nothing; every change in the history
with who and why; the CLI; Trino reading the warnings."""

import io
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F
from rich.console import Console

from citylake import cli, lake
from citylake.trino import client, server
from jobs.warn import lifecycle
from jobs.warn.lifecycle import HISTORY, WARNINGS, WarningError, acknowledge, apply_findings, close

pytestmark = [pytest.mark.spark]

DISTRESS, AGEING = "enterprise_distress", "ageing_street"
ACME, BOLT = "91350502MA2Y00001X", "91350503MA2Y000021"
STREET = "350502001"
CITY = ZoneInfo("Asia/Shanghai")   # the session's time zone (conf/profiles/local.yml)
MARCH, APRIL, MAY, JUNE = (datetime(2026, month, day, 23, 59, 59, tzinfo=CITY)
                           for month, day in ((3, 31), (4, 30), (5, 31), (6, 30)))
RUN_BY = "citylake warn"


@pytest.fixture(autouse=True)
def no_warnings(settings):
    """Each test starts with neither warning table (and Trino forgets them when it runs)."""
    for table in ("warning", "warning_history"):
        shutil.rmtree(settings.path("warehouse") / "app" / table, ignore_errors=True)
    if server.is_running(settings):
        client.sync_catalog(settings)


def distress(subject=ACME, severity="medium", observed_at=MARCH, drop_pct="45.0", name="泉州甲机械有限公司"):
    return (DISTRESS, "企业经营困难 Enterprise distress", "enterprise", subject, name, "350502", "鲤城区 Licheng",
            severity, {"headcount_then": "40", "headcount_now": "22", "drop_pct": drop_pct, "tax_arrears": "12000.00"},
            observed_at)


def ageing(subject=STREET, observed_at=MARCH):
    return (AGEING, "老龄化街道 Ageing street", "street", subject, "海滨街道", "350502", "鲤城区 Licheng", "low",
            {"share_65_plus": "0.231"}, observed_at)


def evaluate(spark, *rows, rules=(DISTRESS, AGEING), as_of=None):
    return apply_findings(spark, spark.createDataFrame(list(rows), lifecycle.FINDING), rules, as_of=as_of)


def warning(spark, warning_id):
    return lifecycle.find_warning(spark, warning_id)


def history(spark, warning_id):
    """(from, to, by, reason) of each change of the warning, in order."""
    rows = (lake.read_table(spark, HISTORY).where(F.col("warning_id") == warning_id).orderBy("revision")
            .select("from_status", "to_status", "changed_by", "reason").collect())
    return [tuple(row) for row in rows]


def history_table(spark):
    """The history's rows (dicts), their times in the city's time zone."""
    return [{key: value.astimezone(CITY) if isinstance(value, datetime) else value
             for key, value in row.asDict().items()}
            for row in lake.read_table(spark, HISTORY).orderBy("changed_at", "warning_id", "revision").collect()]


def versions(spark):
    return lake.table_version(spark, WARNINGS), lake.table_version(spark, HISTORY)


def test_a_finding_opens_a_new_warning_with_its_numbers(spark):
    changes = evaluate(spark, distress())
    assert (changes.opened, changes.changed, changes.ids) == (1, 1, {"opened": [f"{DISTRESS}:{ACME}"]})
    opened = warning(spark, f"{DISTRESS}:{ACME}")
    assert (opened["status"], opened["condition_active"], opened["severity"], opened["reopen_count"]) == (
        "new", True, "medium", 0)
    assert opened["first_seen"] == opened["last_seen"] == MARCH and opened["opened_at"] is not None
    assert opened["evidence"]["drop_pct"] == "45.0" and opened["subject_name"] == "泉州甲机械有限公司"
    assert opened["acknowledged_by"] is None and opened["closed_by"] is None
    [row] = history_table(spark)
    assert (row["from_status"], row["to_status"], row["changed_by"], row["reason"]) == (
        None, "new", RUN_BY, "condition met")
    assert (row["severity"], row["evidence"]["tax_arrears"], row["observed_at"], row["revision"]) == (
        "medium", "12000.00", MARCH, 1)
    assert row["changed_at"] == opened["opened_at"]


def test_a_rerun_with_the_same_findings_commits_nothing(spark):
    evaluate(spark, distress(ACME), distress(BOLT), ageing())
    close(spark, f"{AGEING}:{STREET}", "王芳", "街道已安排养老服务")
    # ACME found again, BOLT closed automatically, the street closed by a person and still ageing
    second = evaluate(spark, distress(ACME), ageing())
    assert (second.auto_closed, second.unchanged) == (1, 2)
    before = versions(spark)
    third = evaluate(spark, distress(ACME), ageing())
    assert versions(spark) == before
    assert (third.changed, third.unchanged, third.ids) == (0, 3, {})


def test_newer_evidence_updates_the_warning_and_a_change_of_severity_is_kept_in_the_history(spark):
    warning_id = f"{DISTRESS}:{ACME}"
    evaluate(spark, distress(drop_pct="45.0"))
    acknowledge(spark, warning_id, "李强", "联系企业核实")
    changes = evaluate(spark, distress(drop_pct="50.0", observed_at=APRIL, name="泉州甲机械股份有限公司"))
    assert (changes.updated, changes.changed) == (1, 1)
    updated = warning(spark, warning_id)
    assert (updated["first_seen"], updated["last_seen"], updated["evidence"]["drop_pct"]) == (MARCH, APRIL, "50.0")
    assert (updated["status"], updated["subject_name"], updated["revision"]) == (
        "acknowledged", "泉州甲机械股份有限公司", 2)
    assert len(history(spark, warning_id)) == 2

    changes = evaluate(spark, distress(severity="high", drop_pct="60.0", observed_at=MAY))
    assert (changes.severity_changed, changes.changed) == (1, 1)
    assert warning(spark, warning_id)["status"] == "acknowledged"
    assert history(spark, warning_id)[-1] == ("acknowledged", "acknowledged", RUN_BY, "severity medium -> high")
    last = history_table(spark)[-1]
    assert (last["severity"], last["evidence"]["drop_pct"], last["observed_at"]) == ("high", "60.0", MAY)


def test_a_warning_a_person_closed_stays_closed_while_the_condition_lasts_and_reopens_after_it_cleared(spark):
    warning_id = f"{DISTRESS}:{ACME}"
    evaluate(spark, distress())
    acknowledge(spark, warning_id, "李强", "联系企业核实")
    acked = warning(spark, warning_id)
    assert (acked["status"], acked["acknowledged_by"], acked["ack_reason"]) == ("acknowledged", "李强", "联系企业核实")
    with pytest.raises(WarningError, match="is acknowledged already \\(by 李强 at .*: 联系企业核实\\); close it"):
        acknowledge(spark, warning_id, "王芳", "核实")
    close(spark, warning_id, "李强", "已纳入帮扶名单")
    closed = warning(spark, warning_id)
    assert (closed["status"], closed["closed_by"], closed["close_reason"], closed["condition_active"]) == (
        "closed", "李强", "已纳入帮扶名单", True)
    for change in (acknowledge, close):
        with pytest.raises(WarningError, match="is closed already \\(by 李强 at .*: 已纳入帮扶名单\\)"):
            change(spark, warning_id, "王芳", "再看")

    still = evaluate(spark, distress(observed_at=APRIL))            # the condition persists: no recurrence
    assert (still.updated, still.reopened) == (1, 0)
    assert warning(spark, warning_id)["status"] == "closed"
    cleared = evaluate(spark, rules=[DISTRESS], as_of=MAY)            # the condition cleared
    assert cleared.cleared == 1 and cleared.auto_closed == 0
    assert (warning(spark, warning_id)["status"], warning(spark, warning_id)["condition_active"]) == ("closed", False)
    back = evaluate(spark, distress(observed_at=JUNE))             # and came back
    assert (back.reopened, back.ids) == (1, {"reopened": [warning_id]})

    reopened = warning(spark, warning_id)
    assert (reopened["status"], reopened["reopen_count"], reopened["condition_active"]) == ("new", 1, True)
    assert reopened["acknowledged_by"] is reopened["ack_reason"] is reopened["closed_by"] is None
    assert reopened["first_seen"] == MARCH and reopened["opened_at"] > acked["acknowledged_at"]
    assert history(spark, warning_id) == [
        (None, "new", RUN_BY, "condition met"),
        ("new", "acknowledged", "李强", "联系企业核实"),
        ("acknowledged", "closed", "李强", "已纳入帮扶名单"),
        ("closed", "closed", RUN_BY, "condition cleared"),
        ("closed", "new", RUN_BY, "condition recurred"),
    ]


def test_a_cleared_condition_closes_the_warning_and_its_return_reopens_it_leaving_rules_not_evaluated_alone(spark):
    warning_id = f"{DISTRESS}:{ACME}"
    evaluate(spark, distress(), distress(BOLT), ageing())
    street = warning(spark, f"{AGEING}:{STREET}")
    # ACME's condition cleared; the ageing rule was not evaluated (its inputs were missing)
    changes = evaluate(spark, distress(BOLT, observed_at=APRIL), rules=[DISTRESS], as_of=APRIL)
    assert (changes.auto_closed, changes.ids["auto_closed"], changes.updated) == (1, [warning_id], 1)
    closed = warning(spark, warning_id)
    assert (closed["status"], closed["closed_by"], closed["close_reason"], closed["condition_active"]) == (
        "closed", RUN_BY, "condition cleared", False)
    assert closed["last_seen"] == MARCH          # the last evaluation that found it
    assert warning(spark, f"{AGEING}:{STREET}") == street
    [closing] = [row for row in history_table(spark) if row["to_status"] == "closed"]
    assert (closing["observed_at"], closing["from_status"], closing["changed_at"]) == (
        APRIL, "new", closed["closed_at"])

    reopened = evaluate(spark, distress(observed_at=MAY), distress(BOLT, observed_at=APRIL), rules=[DISTRESS])
    assert (reopened.reopened, reopened.unchanged, reopened.changed) == (1, 1, 1)
    again = warning(spark, warning_id)
    assert (again["status"], again["reopen_count"], again["closed_at"], again["last_seen"]) == ("new", 1, None, MAY)
    assert [change[1:] for change in history(spark, warning_id)] == [
        ("new", RUN_BY, "condition met"), ("closed", RUN_BY, "condition cleared"),
        ("new", RUN_BY, "condition recurred")]


def test_findings_that_break_the_contract_are_refused_before_anything_is_written(spark):
    with pytest.raises(WarningError, match="findings of rules not listed as evaluated: ageing_street"):
        evaluate(spark, distress(), ageing(), rules=[DISTRESS])
    with pytest.raises(WarningError, match=f"more than one finding for {DISTRESS}:{ACME}"):
        evaluate(spark, distress(), distress(severity="high"))
    with pytest.raises(WarningError, match="severities critical"):
        evaluate(spark, distress(severity="critical"))
    with pytest.raises(WarningError, match="lack the columns evidence, observed_at"):
        apply_findings(spark, spark.createDataFrame([distress()], lifecycle.FINDING).drop("evidence", "observed_at"),
                       [DISTRESS])
    assert not lake.table_exists(spark, WARNINGS)


def test_people_are_told_which_warning_they_may_mean_and_to_say_who_and_why(spark):
    with pytest.raises(WarningError, match="^no warnings yet: run citylake warn$"):
        acknowledge(spark, f"{DISTRESS}:{ACME}", "李强", "核实")
    evaluate(spark, distress(), distress(BOLT))
    with pytest.raises(WarningError, match=f"no warning '{DISTRESS}:9135'; did you mean {DISTRESS}:{ACME}, "
                                           f"{DISTRESS}:{BOLT}\\?"):
        acknowledge(spark, f"{DISTRESS}:9135", "李强", "核实")
    with pytest.raises(WarningError, match=f"no warning 'enterprise_distres:{ACME}'; did you mean {DISTRESS}:{ACME}, "):
        close(spark, f"enterprise_distres:{ACME}", "李强", "核实")
    with pytest.raises(WarningError, match="say who you are"):
        acknowledge(spark, f"{DISTRESS}:{ACME}", " ", "核实")
    with pytest.raises(WarningError, match="say why you close"):
        close(spark, f"{DISTRESS}:{ACME}", "李强", "")
    assert [len(history(spark, f"{DISTRESS}:{subject}")) for subject in (ACME, BOLT)] == [1, 1]


def test_a_run_that_died_between_the_warning_and_history_commits_is_completed_by_the_next(spark, monkeypatch):
    def dies_after_the_warning_commit(rows):
        raise RuntimeError("killed")

    monkeypatch.setattr(lifecycle, "append_history", dies_after_the_warning_commit)
    with pytest.raises(RuntimeError, match="killed"):
        evaluate(spark, distress())
    assert warning(spark, f"{DISTRESS}:{ACME}")["revision"] == 1 and history(spark, f"{DISTRESS}:{ACME}") == []
    monkeypatch.undo()

    warnings_version = lake.table_version(spark, WARNINGS)
    rerun = evaluate(spark, distress())
    assert rerun.changed == 0 and lake.table_version(spark, WARNINGS) == warnings_version
    [row] = history_table(spark)
    assert (row["to_status"], row["reason"]) == ("new", "condition met")
    assert row["changed_at"] == warning(spark, f"{DISTRESS}:{ACME}")["opened_at"]   # as the first run would have


def test_an_evaluation_does_not_overwrite_a_warning_a_person_changed_meanwhile(spark):
    warning_id = f"{DISTRESS}:{ACME}"
    evaluate(spark, distress())
    found = spark.createDataFrame([distress(severity="high", observed_at=APRIL)], lifecycle.FINDING)
    running = lifecycle.lifecycle_changes(lake.read_table(spark, WARNINGS), found, [DISTRESS], at=datetime.now(CITY),
                                          by=RUN_BY, as_of=APRIL).localCheckpoint()
    acknowledge(spark, warning_id, "李强", "联系企业核实")          # while the evaluation runs
    changed = running.where(F.col("change") != "unchanged").drop("change")
    with pytest.raises(WarningError, match="1 of 1 warnings changed while this ran"):
        lifecycle.write_changes(spark, changed, 1, changed)
    kept = warning(spark, warning_id)
    assert (kept["status"], kept["severity"], kept["last_seen"]) == ("acknowledged", "medium", MARCH)
    assert [change[1] for change in history(spark, warning_id)] == ["new", "acknowledged"]


def run_cli(monkeypatch, *args, width=80) -> tuple[str, int]:
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=width, force_terminal=False))
    try:
        cli.main(["warnings", *args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return out.getvalue(), code


def test_citylake_warnings_list_ack_and_close(spark, monkeypatch):
    assert run_cli(monkeypatch, "list") == ("no warnings yet: run citylake warn\n", 0)
    evaluate(spark, distress(), distress(BOLT, severity="high"), ageing())

    text, code = run_cli(monkeypatch, "list")
    assert code == 0 and "Warnings: 3 new" in text and "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    for shown in (f"{DISTRESS}:{ACME}", f"{AGEING}:{STREET}", "泉州甲机械有限公司 · 鲤城区 Licheng", "drop_pct=45.0",
                  "share_65_plus=0.231", "2026-03-31"):
        assert shown in text
    assert text.index(BOLT) < text.index(ACME) < text.index(STREET)   # by severity, high first

    text, code = run_cli(monkeypatch, "ack", f"{DISTRESS}:{ACME}", "--by", "李强", "--reason", "联系企业核实")
    assert (text, code) == (f"{DISTRESS}:{ACME}: new -> acknowledged by 李强: 联系企业核实\n", 0)
    text, _ = run_cli(monkeypatch, "list", "--status", "acknowledged", width=120)
    assert "Warnings: 1 acknowledged" in text and ACME in text and BOLT not in text
    open_first = lifecycle.list_warnings(spark)      # new ones first, then acknowledged; by severity
    assert list(open_first["warning_id"]) == [f"{DISTRESS}:{BOLT}", f"{AGEING}:{STREET}", f"{DISTRESS}:{ACME}"]
    assert [len(lifecycle.list_warnings(spark, **{key: value})) for key, value in (
        ("status", "open"), ("status", "closed"), ("rule", AGEING), ("district", "licheng"), ("district", "350502"),
        ("district", "丰泽"))] == [3, 0, 1, 3, 3, 0]

    text, code = run_cli(monkeypatch, "close", f"{DISTRESS}:{ACME}", "--by", "李强", "--reason", "已纳入帮扶名单")
    assert code == 0 and "acknowledged -> closed by 李强" in text
    text, code = run_cli(monkeypatch, "close", f"{DISTRESS}:{ACME}", "--by", "李强", "--reason", "again")
    assert code == 1 and len(text.splitlines()) == 1 and "is closed already" in text
    text, code = run_cli(monkeypatch, "ack", "enterprise_distress:nope", "--by", "李强", "--reason", "x")
    assert code == 1 and text.startswith("no warning 'enterprise_distress:nope'")
    text, code = run_cli(monkeypatch, "ack", f"{AGEING}:{STREET}", "--reason", "x")
    assert (text, code) == ("say who you are to acknowledge a warning (--by NAME)\n", 1)
    assert run_cli(monkeypatch, "list", "--district", "丰泽") == ("no warnings match\n", 0)


@pytest.mark.trino
def test_trino_answers_the_new_warnings_and_their_history(spark, trino):
    evaluate(spark, distress(), distress(BOLT, severity="high"))
    acknowledge(spark, f"{DISTRESS}:{ACME}", "李强", "核实")
    rows = client.run_query(trino, "SELECT * FROM lake.app.warning WHERE status = 'new'")
    assert len(rows) == 1
    [(warning_id, drop_pct, severity)] = client.run_query(
        trino, "SELECT warning_id, evidence['drop_pct'], severity FROM lake.app.warning WHERE status = 'new'")
    assert (warning_id, drop_pct, severity) == (f"{DISTRESS}:{BOLT}", "45.0", "high")
    changes = client.run_query(trino, "SELECT to_status, changed_by FROM lake.app.warning_history "
                                      "ORDER BY changed_at, warning_id")
    assert changes == [("new", RUN_BY), ("new", RUN_BY), ("acknowledged", "李强")]
