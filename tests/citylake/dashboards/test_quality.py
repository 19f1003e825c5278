"""The data-quality dashboard's frame shaping on tiny frames: names people read in place of codes,
percentages, age buckets, the summary; its declared tables."""

from datetime import date

import pandas as pd
import pytest

from citylake.dashboards import quality
from citylake.dashboards.scope import Scope
from citylake.notebooks import NOTEBOOKS, required_tables

HRSS = "人力资源和社会保障局 Human Resources and Social Security Bureau"


@pytest.fixture(scope="module")
def names(catalog):
    from citylake.dashboards.names import department_names

    names = department_names(catalog)
    assert names["hrss"] == HRSS
    return names


def test_department_scores_carry_the_department_names(catalog, names):
    rows = pd.DataFrame({"department": ["psb", "hrss", "hrss"], "day": [date(2026, 3, 2), date(2026, 3, 2),
                                                                         date(2026, 3, 1)],
                         "score": [99.5, 97.123, 98.0], "batches": [1, 2, 1], "rows": [10, 20, 5]})
    shaped = quality.shape_department_scores(rows, catalog)
    assert shaped["department_name"].tolist() == [names["hrss"], names["hrss"], names["psb"]]
    assert shaped["day"].dt.day.tolist() == [1, 2, 2] and shaped["score"].tolist() == [98.0, 97.12, 99.5]


def test_kind_rates_are_percentages_per_resource_in_the_kinds_order(catalog):
    rows = pd.DataFrame({"department": ["hrss"] * 4, "resource": ["social_insurance"] * 4,
                         "kind": ["validity", "completeness", "timeliness", "uniqueness"],
                         "checked": [3000, 1000, 2, 0], "failed": [13, 0, 1, 0]})
    rates = quality.shape_kind_rates(rows, catalog)
    assert rates.index.tolist() == ["参保 Social insurance enrolment · 人力资源和社会保障局"]
    assert rates.columns.tolist() == list(quality.KINDS.values())
    # a kind with no rows checked, and one the resource is not measured on, have no rate
    assert rates.iloc[0].fillna(-1).tolist() == [100.0, 99.6, -1, -1, 50.0]


def test_quarantine_rules_are_named_and_the_largest_come_first(catalog, names):
    rows = pd.DataFrame({"department": ["psb", "hrss", "hrss", "psb"],
                         "rule": ["invalid_check_digit", "missing_required", "employer_registered", "some_new_rule"],
                         "rows": [2, 5, 3, 1]})
    shaped = quality.shape_quarantine(rows, catalog)
    assert shaped["rule_name"].tolist() == ["必填项为空 missing required value",
                                            "参保单位须在企业登记中存在 employer_registered",
                                            "校验位错误 invalid check digit", "some_new_rule"]
    assert shaped["department_name"].tolist() == [names["hrss"], names["hrss"], names["psb"], names["psb"]]


def test_open_corrections_are_counted_by_age_bucket(catalog, names):
    assert [quality.age_bucket(days) for days in (0, 1, 2, 7, 8, 30, 31, 90, 91)] == [
        "≤1 天 days", "≤1 天 days", "2–7 天 days", "2–7 天 days", "8–30 天 days", "8–30 天 days",
        "31–90 天 days", "31–90 天 days", ">90 天 days"]
    rows = pd.DataFrame({"department": ["hrss", "hrss", "psb", "hrss"], "resource": ["social_insurance"] * 2
                         + ["household_registration", "social_insurance"], "age_days": [0, 1, 3, 100]})
    shaped = quality.shape_open_corrections(rows, catalog)
    assert [(row.age, row.department_name, row.corrections, row.oldest_days) for row in shaped.itertuples()] == [
        ("≤1 天 days", names["hrss"], 2, 1), ("2–7 天 days", names["psb"], 1, 3), (">90 天 days", names["hrss"], 1, 100)]


def test_without_a_landed_batch_no_correction_is_open(catalog):
    def no_query(*args, **kwargs):
        raise AssertionError("nothing to ask Trino")

    assert quality.open_corrections(Scope(), None, catalog, query=no_query).empty


def test_the_summary_puts_the_lowest_latest_score_first(catalog, names):
    scores = quality.shape_department_scores(pd.DataFrame({
        "department": ["psb", "hrss", "hrss"], "day": [date(2026, 3, 2), date(2026, 3, 1), date(2026, 3, 2)],
        "score": [99.0, 90.0, 95.0], "batches": [1, 1, 1], "rows": [1, 1, 1]}), catalog)
    quarantined = quality.shape_quarantine(pd.DataFrame({"department": ["hrss"], "rule": ["duplicate_key"],
                                                         "rows": [4]}), catalog)
    corrections = quality.shape_open_corrections(pd.DataFrame({"department": ["hrss", "hrss"], "resource": [
        "social_insurance"] * 2, "age_days": [2, 40]}), catalog)
    summary = quality.department_summary(scores, quarantined, corrections)
    assert summary.index.tolist() == [names["hrss"], names["psb"]]
    assert summary.loc[names["hrss"]].tolist() == [95.0, date(2026, 3, 2), 4, 2, 40]
    assert summary.loc[names["psb"], "待纠错 open corrections"] == 0


def test_the_notebook_declares_the_tables_the_module_reads():
    assert required_tables(NOTEBOOKS / "data_quality.ipynb") == quality.required_tables()


def test_figures_without_rows_are_empty_frames_not_errors(catalog):
    """A scope with no batch yet (an early as-of day, a district with nothing set aside): each
    figure is empty, which the notebook says in words instead of drawing an empty chart."""
    scores = quality.shape_department_scores(pd.DataFrame(columns=["department", "day", "score", "batches", "rows"]),
                                             catalog)
    rates = quality.shape_kind_rates(pd.DataFrame(columns=["department", "resource", "kind", "checked", "failed"]),
                                     catalog)
    quarantined = quality.shape_quarantine(pd.DataFrame(columns=["department", "rule", "rows"]), catalog)
    corrections = quality.shape_open_corrections(pd.DataFrame(columns=["department", "resource", "age_days"]), catalog)
    assert scores.empty and rates.empty and quarantined.empty and corrections.empty
    assert quality.department_summary(scores, quarantined, corrections).empty
