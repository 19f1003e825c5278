"""The daily run's declaration is checked on load: steps known, once each, after what they need;
a real cron expression and time zone."""

import pytest

from citylake.catalog import CatalogError
from citylake.schedule import load_daily_run


def test_the_shipped_schedule_loads_with_every_step_in_order():
    daily = load_daily_run()
    assert [step.name for step in daily.steps] == [
        "land", "integrate", "base", "theme", "warn", "catalog", "audit", "assess", "dashboards", "maintain"]
    assert daily.schedule.time_zone == "Asia/Shanghai" and daily.step("land").retries == 1


@pytest.mark.parametrize(("edit", "message"), [
    (lambda raw: raw["steps"].append({"name": "compact"}), "unknown step(s) compact; the steps are: land, integrate"),
    (lambda raw: raw["steps"].append({"name": "land"}), "step(s) listed twice: land"),
    (lambda raw: raw["steps"].insert(0, raw["steps"].pop(2)), "step base needs integrate to run before it"),
    (lambda raw: raw["schedule"].update(cron="30 2 * *"), "is not a cron expression of five fields"),
    (lambda raw: raw["schedule"].update(cron="61 2 * * *"), "'61 2 * * *'"),
    (lambda raw: raw["schedule"].update(time_zone="Mars/Olympus"), "'Mars/Olympus' is not a time zone name"),
    (lambda raw: raw["steps"][0].update(retires=2), "steps[0].retires: unknown key (misspelt?)"),
])
def test_a_wrong_schedule_is_named(edited_conf, edit, message):
    with pytest.raises(CatalogError, match="schedule.yml") as error:
        load_daily_run(edited_conf("schedule.yml", edit))
    assert message in str(error.value)
