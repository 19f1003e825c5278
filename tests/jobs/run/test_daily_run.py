"""The daily run on the golden theme city's lake: twice (the second finds nothing new and changes
no table but the run ledger and the query audit), a failure injected at one step and `--resume` finishing the run, a
flaky step retried, the run refused while another holds the lake; the ledger in Trino."""

from __future__ import annotations

from datetime import date

import pytest

from citylake import lake
from citylake.schedule import load_daily_run
from citylake.trino.client import run_query, sync_catalog
from jobs.run import ledger
from jobs.run.job import NothingToResume, run_day
from jobs.run.lock import LakeBusy, holding_the_lake
from jobs.run.status import run_summaries
from jobs.run.steps import STEPS, Step, StepFailed

pytestmark = [pytest.mark.spark, pytest.mark.trino]
DAY = date(2026, 3, 6)
# the dashboards have tests of their own on this city; the run's other steps all run here
STEPS_HERE = ["land", "integrate", "base", "theme", "warn", "catalog", "audit", "assess", "maintain"]


@pytest.fixture(scope="module")
def inboxes(theme_city):
    city = theme_city[0]
    return [city / "inbox", city / "late_inbox", city / "inbox"]


# The query audit is the record of every Trino query, the runs' own catalog refreshes included: the
# second run's audit step rightly takes in the queries made since the first run's, and the sharing
# assessment counts them as use.
CHANGING_BY_DESIGN = {ledger.JOB_RUN, "ops.query_audit", "ops.table_usage", "ops.share_assessment"}


def table_versions(spark, settings) -> dict[str, int]:
    """Every lake table's latest version but the run ledger's and the query audit's."""
    warehouse = settings.path("warehouse")
    names = [f"{log.parent.parent.name}.{log.parent.name}" for log in warehouse.glob("*/*/_delta_log")]
    return {name: lake.table_version(spark, name) for name in sorted(names) if name not in CHANGING_BY_DESIGN}


def test_a_second_run_finds_nothing_new_and_changes_nothing(spark, settings, trino, inboxes):
    first = run_day(spark, DAY, only=STEPS_HERE, inboxes=inboxes)
    assert first.succeeded and [a.step for a in first.attempts] == STEPS_HERE
    assert all(a.outcome == "succeeded" and a.attempt == 1 for a in first.attempts)
    before = table_versions(spark, settings)

    second = run_day(spark, DAY, only=STEPS_HERE, inboxes=inboxes)
    day, number = first.run_id.rsplit(".", 1)
    assert second.succeeded and day == DAY.isoformat() and second.run_id == f"{day}.{int(number) + 1}"
    steps = {a.step: a for a in second.attempts}
    # a package still held (a gap nobody filled) is looked at again each run: read, never landed
    assert (steps["land"].rows_out, steps["integrate"].rows_in, steps["integrate"].rows_out) == (0, 0, 0)
    assert "landed" not in steps["land"].detail, steps["land"].detail
    assert steps["base"].detail.startswith("up to date") and steps["theme"].rows_out == 0
    assert steps["warn"].detail.startswith("up to date") and steps["catalog"].rows_out == 0
    # maintenance may compact the run ledger and purge the audit's merges (tables that change by
    # design); the versions below show it touched no other table
    assert table_versions(spark, settings) == before

    sync_catalog(trino)
    rows = run_query(trino, "SELECT step, outcome FROM lake.ops.job_run WHERE run_id = ? AND outcome <> 'running'",
                     [second.run_id])
    assert sorted(rows) == sorted([(step, "succeeded") for step in STEPS_HERE] + [("(run)", "succeeded")])


def test_a_failed_step_stops_the_run_and_resume_finishes_it(spark, inboxes):
    def broken(context):
        raise StepFailed("injected: the theme database was unreachable")

    failing = {**STEPS, "theme": Step(broken, needs=("base",))}
    stopped = run_day(spark, DAY, only=STEPS_HERE, inboxes=inboxes, steps=failing)
    assert not stopped.succeeded and stopped.failed_step == "theme"
    assert [a.step for a in stopped.attempts] == ["land", "integrate", "base", "theme"]
    assert stopped.attempts[-1].error == "injected: the theme database was unreachable"

    resumed = run_day(spark, resume=True, only=STEPS_HERE, inboxes=inboxes)
    assert resumed.run_id == stopped.run_id and resumed.succeeded
    assert resumed.resumed_past == ["land", "integrate", "base"]
    assert [a.step for a in resumed.attempts] == STEPS_HERE[STEPS_HERE.index("theme"):]
    summary = run_summaries(ledger.latest_states(spark, stopped.run_id), None, 1)[0]
    assert summary.outcome == "succeeded" and [s.step for s in summary.steps] == STEPS_HERE
    with pytest.raises(NothingToResume, match=f"the latest run, {stopped.run_id}, finished"):
        run_day(spark, resume=True)


def test_a_step_declared_retryable_is_tried_again(spark, inboxes):
    calls = []

    def flaky(context):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("receiver restarting")
        return STEPS["audit"].do(context)

    daily = load_daily_run()
    daily = daily.model_copy(update={"steps": [step.model_copy(update={"retry_delay_s": 0}) for step in daily.steps]})
    report = run_day(spark, DAY, only=["audit"], inboxes=inboxes, daily=daily,
                     steps={**STEPS, "audit": Step(flaky)})
    assert report.succeeded and len(calls) == 2
    states = [a for a in ledger.latest_states(spark, report.run_id) if a.step == "audit"]
    assert [(a.attempt, a.outcome) for a in states] == [(1, "failed"), (2, "succeeded")]
    assert states[0].error == "ConnectionError: receiver restarting"


def test_a_run_is_refused_while_another_holds_the_lake(spark, settings, inboxes):
    with holding_the_lake(settings.path("var") / "run", "2026-03-06.99"):
        with pytest.raises(LakeBusy, match="another run holds the lake: run 2026-03-06.99"):
            run_day(spark, DAY, only=["land"], inboxes=inboxes)
