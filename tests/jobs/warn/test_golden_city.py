"""Golden test: the early warnings of the clean golden city against its ground truth
(`truth/scenarios.parquet`: every subject a rule holds for in the truth, planted, injected or
natural, with its severity and numbers): recall and precision 100 %, the same evidence; then the
lifecycle on the real warnings: re-runs change nothing, ack, close, auto-close when a condition
clears, reopen when it recurs; and Trino answers for the new ones."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from citylake import lake
from citylake.warning_rules import load_warning_rules
from jobs.warn.job import warn
from jobs.warn.lifecycle import acknowledge, close

pytestmark = [pytest.mark.spark]
WARNING, HISTORY = "app.warning", "app.warning_history"


@pytest.fixture(scope="module")
def scenarios(theme_city):
    truth = pd.read_parquet(theme_city[0] / "truth" / "scenarios.parquet")
    return truth[truth.raised]


def warnings(spark) -> pd.DataFrame:
    return lake.read_table(spark, WARNING).toPandas()


def test_every_warning_in_the_truth_is_raised_and_none_else(spark, theme_city, scenarios):
    _, _, _, run = theme_city
    assert run.left_out == {} and set(run.evaluated) == set(load_warning_rules().rules)
    raised = warnings(spark)
    found = set(zip(raised.rule, raised.subject))
    expected = set(zip(scenarios.rule, scenarios.subject))
    assert found - expected == set(), "raised without a cause in the truth (precision)"
    assert expected - found == set(), "in the truth, not raised (recall)"
    assert set(scenarios.rule) == set(load_warning_rules().rules), "every rule has a scenario"
    assert (raised.status == "new").all() and run.changes.opened == len(expected)


def test_each_warning_carries_the_truths_severity_and_numbers(spark, scenarios):
    raised = warnings(spark).set_index(["rule", "subject"])
    for row in scenarios.itertuples():
        warning = raised.loc[(row.rule, row.subject)]
        assert warning.severity == row.severity, (row.rule, row.subject)
        evidence = dict(warning.evidence)
        for name, value in json.loads(row.numbers).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert float(evidence[name]) == pytest.approx(value, abs=0.051), (row.rule, row.subject, name)
            elif value is not None:  # a time as the truth writes it (ISO, with the city's offset) or a text
                assert evidence[name] == str(value).replace("T", " ").removesuffix("+08:00"), (row.rule, name)
        assert warning.subject_name, (row.rule, row.subject)
    located = raised.reset_index()
    placed = located[located.subject_type.isin(["enterprise", "street", "housing_unit"])]
    assert placed.district_name.notna().all(), "warnings about places say their district"


def test_a_rerun_changes_nothing(spark, theme_city):
    versions = (lake.table_version(spark, WARNING), lake.table_version(spark, HISTORY))
    skipped = warn(spark)
    assert skipped.up_to_date and skipped.evaluated == []  # nothing it reads has changed
    forced = warn(spark, force=True)
    assert not forced.up_to_date and len(forced.evaluated) == 8
    assert forced.changes.changed == 0 and forced.changes.unchanged > 0
    assert (lake.table_version(spark, WARNING), lake.table_version(spark, HISTORY)) == versions


def test_the_lifecycle_on_the_citys_warnings(spark, theme_city, edited_conf):
    """Ack and close by a person; a condition that clears (a stricter threshold) closes its
    warning; when it holds again (the threshold back) the warning reopens; all in the history."""
    raised = warnings(spark)
    units = sorted(raised[raised.rule == "overcrowded_unit"].warning_id)
    surge = raised[raised.rule == "event_surge"].warning_id.iloc[0]
    acknowledge(spark, units[0], "网格员 张三", "上门核查中 checking on site")
    close(spark, surge, "街道办 李四", "已处置 handled")

    stricter = edited_conf("warnings.yml", lambda r: r["rules"]["overcrowded_unit"].update(
        sql=r["rules"]["overcrowded_unit"]["sql"].replace("WHERE overcrowded", "WHERE overcrowded AND residents > 99")))
    cleared = warn(spark, rules=load_warning_rules(stricter))
    assert set(cleared.changes.ids.get("auto_closed", [])) == set(units)
    state = warnings(spark).set_index("warning_id")
    assert (state.loc[units, "status"] == "closed").all()
    assert state.loc[surge, "status"] == "closed"  # closed by a person: the surge still holds, stays closed

    recurred = warn(spark)
    assert set(recurred.changes.ids.get("reopened", [])) == set(units)
    state = warnings(spark).set_index("warning_id")
    assert (state.loc[units, "status"] == "new").all() and state.loc[surge, "status"] == "closed"

    history = lake.read_table(spark, HISTORY).toPandas()
    first = history[history.warning_id == units[0]].sort_values("changed_at")
    assert list(zip(first.from_status.fillna(""), first.to_status)) == [
        ("", "new"), ("new", "acknowledged"), ("acknowledged", "closed"), ("closed", "new")]
    assert first.changed_by.iloc[1] == "网格员 张三" and first.reason.iloc[1] == "上门核查中 checking on site"


@pytest.mark.trino
def test_trino_answers_for_the_new_warnings(spark, trino, theme_city):
    from citylake.trino.client import query_df

    new = query_df("SELECT warning_id, rule, severity, evidence FROM lake.app.warning WHERE status = 'new'")
    assert set(new.warning_id) == set(warnings(spark)[lambda w: w.status == "new"].warning_id)
    assert set(new.rule) >= {"enterprise_distress", "delivery_stopped", "insured_after_death"}
    history = query_df("SELECT count(*) AS n FROM lake.app.warning_history")
    assert history.n.iloc[0] >= len(new)
