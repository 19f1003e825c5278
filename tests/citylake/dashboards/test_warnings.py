"""The early-warning dashboard's SQL scope and frame shaping on tiny frames: names and labels, the
evidence as readable pairs, a person's name masked, counts in the rules' order, the daily trend."""

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from citylake.dashboards import warnings
from citylake.dashboards.scope import resolve_scope
from citylake.notebooks import NOTEBOOKS, describe
from citylake.warning_rules import load_warning_rules

SEEN = datetime(2026, 3, 5, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def rules():
    return load_warning_rules()


def warning_rows(*rows: dict) -> pd.DataFrame:
    base = {"rule_name": None, "district_code": None, "district_name": None, "status": "new", "first_seen": SEEN,
            "last_seen": SEEN}
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame["warning_id"] = frame["rule"] + ":" + frame["subject"]
    return frame


ROWS = (
    {"rule": "insured_after_death", "rule_name": "死亡后仍参保缴费 Insured after death (benefit risk)",
     "subject_type": "person", "subject": "350503199001011234", "subject_name": "张三丰", "district_code": "350503",
     "district_name": "丰泽区", "severity": "high", "status": "acknowledged",
     "evidence": {"insurance_records": "350503199001011234|110,350503199001011234|210", "death_date": "2025-12-01"}},
    {"rule": "delivery_stopped", "rule_name": "部门停止报送 Department stopped delivering", "subject_type": "resource",
     "subject": "psb.residence_permit", "subject_name": "公安局 居住证", "severity": "high",
     "evidence": {"cycle": "daily", "days_since": "6.5", "tolerance_days": "3", "last_extracted_at": "2026-02-27"}},
    {"rule": "enterprise_distress", "rule_name": "企业经营困难 Enterprise in distress", "subject_type": "enterprise",
     "subject": "91350502MA0000001X", "subject_name": "泉州某某有限公司", "district_code": "350502",
     "district_name": "鲤城区", "severity": "medium",
     "evidence": {"drop_pct": "40.0", "headcount_now": "6", "headcount_peak": "10", "some_new_figure": "1"}},
    {"rule": "enterprise_distress", "rule_name": "企业经营困难 Enterprise in distress", "subject_type": "enterprise",
     "subject": "91350502MA0000002X", "subject_name": "泉州另一有限公司", "district_code": "350502",
     "district_name": "鲤城区", "severity": "high", "evidence": {"drop_pct": "60.0"}},
)


def test_the_current_warnings_come_from_the_warning_table_those_of_a_day_from_the_history():
    sql, params = warnings.open_warnings_sql(resolve_scope("鲤城区"))
    assert "FROM lake.app.warning WHERE status <> 'closed' AND district_code = ?" in sql and params == ["350502"]
    sql, params = warnings.open_warnings_sql(resolve_scope(None, "2026-03-01"))
    assert "FROM lake.app.warning_history h WHERE observed_at < ?" in sql
    assert params == [resolve_scope(None, "2026-03-01").until]
    sql, params = warnings.trend_sql(resolve_scope("350502", "2026-03-01"))
    assert "WHERE observed_at < ? AND district_code = ?" in sql and params[1] == "350502"


def test_open_warnings_read_as_names_with_their_evidence(rules):
    shaped = warnings.shape_open_warnings(warning_rows(*ROWS), rules)
    # rules in the order of conf/warnings.yml, the most severe first within a rule
    assert shaped["rule"].tolist() == ["enterprise_distress", "enterprise_distress", "delivery_stopped",
                                       "insured_after_death"]
    assert shaped["subject_label"].tolist() == ["泉州另一有限公司", "泉州某某有限公司", "公安局 居住证", "张**"]
    assert shaped["district_label"].tolist() == ["鲤城区 Licheng", "鲤城区 Licheng", "全市 city-wide", "丰泽区 Fengze"]
    assert shaped["severity_label"].tolist() == ["高 high", "中 medium", "高 high", "高 high"]
    assert shaped["status_label"].tolist()[-1] == "已确认 acknowledged"
    # a person's warning id holds their ID number: not shown
    assert shaped["warning_id"].tolist()[-1] == "—" and "350503199001011234" not in shaped.to_string()
    # the rule's declared evidence in its order, each by its label; an undeclared key last, as named
    assert shaped["evidence_text"][1] == ("此前峰值参保人数 peak insured headcount 10\n当前参保人数 insured headcount now 6\n"
                                          "降幅（%） drop (%) 40.0\nsome_new_figure 1")
    assert shaped["evidence_text"][3] == ("死亡日期 date of death 2025-12-01\n"
                                          "参保记录 insurance records 3505**********1234|110,3505**********1234|210")
    assert str(shaped["last_seen"][0].tz) == "Asia/Shanghai" and shaped["last_seen"][0].hour == 18


def test_every_declared_evidence_has_a_label(rules):
    declared = {key for rule in rules.rules.values() for key in rule.evidence}
    assert declared - set(warnings.EVIDENCE) == set()


def test_counts_by_rule_severity_and_district(rules):
    shaped = warnings.shape_open_warnings(warning_rows(*ROWS), rules)
    assert warnings.by_rule(shaped).values.tolist() == [
        ["企业经营困难 Enterprise in distress", "高 high", 1], ["企业经营困难 Enterprise in distress", "中 medium", 1],
        ["部门停止报送 Department stopped delivering", "高 high", 1],
        ["死亡后仍参保缴费 Insured after death (benefit risk)", "高 high", 1]]
    assert sorted(warnings.by_severity(shaped).values.tolist()) == [
        ["中 medium", "新 new", 1], ["高 high", "已确认 acknowledged", 1], ["高 high", "新 new", 2]]
    # the district with the most first; a department's warnings (city-wide) last
    assert warnings.by_district(shaped)[["district_label", "warnings"]].values.tolist() == [
        ["鲤城区 Licheng", 1], ["鲤城区 Licheng", 1], ["丰泽区 Fengze", 1], ["全市 city-wide", 1]]
    assert warnings.severity_order(shaped["severity_label"]) == ["高 high", "中 medium"]


def test_the_drill_down_has_a_table_per_rule_and_names_the_quiet_rules(rules):
    shaped = warnings.shape_open_warnings(warning_rows(*ROWS), rules)
    sections = list(warnings.drill_down(shaped, rules))
    assert [section.title for section in sections] == [
        "企业经营困难 Enterprise in distress (2)", "部门停止报送 Department stopped delivering (1)",
        "死亡后仍参保缴费 Insured after death (benefit risk) (1)"]
    assert sections[0].description.endswith("· 对象 subject: 企业 enterprise")
    assert list(sections[0].table.columns) == list(warnings.DRILL_DOWN.values())
    assert sections[0].table["首次发现 first seen"].tolist() == ["2026-03-05 18:00"] * 2
    html = warnings.styled(sections[0].table).to_html()
    assert "white-space: pre-line" in html and "此前峰值参保人数 peak insured headcount 10" in html
    quiet = warnings.rules_without_warnings(shaped, rules)
    assert "街道老龄化 Ageing street" in quiet and "企业经营困难 Enterprise in distress" not in quiet


def test_the_trend_counts_open_warnings_at_each_days_end():
    rows = pd.DataFrame({"day": [date(2026, 3, 5), date(2026, 3, 4), date(2026, 3, 6)], "opened": [3, 5, 0],
                         "acknowledged": [1, 0, 0], "closed": [2, 0, 0]})
    trend = warnings.shape_trend(rows)
    assert trend["day"].dt.day.tolist() == [4, 5] and trend["open"].tolist() == [5, 6]
    changes = warnings.trend_changes(trend)
    # a change that did not happen is no bar
    assert changes[["change", "warnings"]].values.tolist() == [
        ["新开（含重开） opened or reopened", 5], ["新开（含重开） opened or reopened", 3], ["确认 acknowledged", 1],
        ["关闭 closed", 2]]


def test_the_notebook_declares_the_tables_it_reads_and_the_parameters():
    info = describe(NOTEBOOKS / "early_warning.ipynb")
    assert info.title == "预警 Early warning" and info.parameters == {"district", "as_of"}
    assert info.requires == warnings.required_tables()


def test_every_chart_is_drawn_from_its_counts(rules):
    shaped = warnings.shape_open_warnings(warning_rows(*ROWS), rules)
    by_rule = warnings.rule_figure(warnings.by_rule(shaped))
    assert [trace.name for trace in by_rule.data] == ["高 high", "中 medium"]
    # the rules as declared, the first on top (a horizontal axis counts from the bottom)
    assert list(by_rule.layout.yaxis.categoryarray)[::-1] == [
        "企业经营困难 Enterprise in distress", "部门停止报送 Department stopped delivering",
        "死亡后仍参保缴费 Insured after death (benefit risk)"]
    by_severity = warnings.severity_figure(warnings.by_severity(shaped))
    assert [trace.name for trace in by_severity.data] == ["新 new", "已确认 acknowledged"]
    by_district = warnings.district_figure(warnings.by_district(shaped))
    assert list(by_district.layout.xaxis.categoryarray) == ["鲤城区 Licheng", "丰泽区 Fengze", "全市 city-wide"]
    trend = warnings.trend_figure(warnings.shape_trend(pd.DataFrame({
        "day": [date(2026, 3, 4), date(2026, 3, 5)], "opened": [5, 3], "acknowledged": [0, 1], "closed": [0, 2]})))
    assert [trace.name for trace in trend.data] == [*warnings.CHANGES.values(), warnings.OPEN_AT_END]
    assert list(trend.data[-1].y) == [5, 6]


def test_a_scope_without_warnings_gives_empty_figures_not_errors(rules):
    none = warnings.shape_open_warnings(pd.DataFrame.from_records([], columns=list(warnings.WARNING_COLUMNS)), rules)
    assert none.empty and all(counts.empty for counts in (warnings.by_rule(none), warnings.by_severity(none),
                                                          warnings.by_district(none)))
    assert list(warnings.drill_down(none, rules)) == []
    assert len(warnings.rules_without_warnings(none, rules)) == len(rules.rules)
    trend = warnings.shape_trend(pd.DataFrame.from_records([], columns=["day", *warnings.CHANGES]))
    assert trend.empty and warnings.trend_changes(trend).empty
