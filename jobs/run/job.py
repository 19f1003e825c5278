"""The daily run (`citylake run`): the steps of `conf/schedule.yml` in order, each attempt in the
ledger `lake.ops.job_run`, retries where declared, one run at a time on a lake, and a failed or
interrupted run resumed from the step it did not finish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession

from citylake.catalog import Catalog, load_catalog
from citylake.schedule import DailyRun, load_daily_run
from citylake.settings import Profile, profile as active_profile
from jobs.run import ledger
from jobs.run.freshness import LATE, Freshness, freshness, latest_extracts
from jobs.run.ledger import FAILED, RUN, SUCCEEDED, Attempt
from jobs.run.lock import holding_the_lake
from jobs.run.steps import STEPS, Step, StepContext, StepFailed, StepResult

log = logging.getLogger(__name__)


class NothingToResume(RuntimeError):
    """The latest run finished, or there is none."""


@dataclass
class RunReport:
    """What one run did: its id and day, each step's final attempt, the steps it skipped as done
    by the run it resumed, and the resources late at its end."""

    run_id: str
    run_date: date
    attempts: list[Attempt] = field(default_factory=list)
    resumed_past: list[str] = field(default_factory=list)
    late: list[Freshness] = field(default_factory=list)
    failed_step: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.failed_step is None


Progress = Callable[[str, Attempt], None]


def run_day(spark: SparkSession, run_date: date | None = None, *, resume: bool = False,
            only: list[str] | None = None, inboxes: list[Path] | None = None,
            daily: DailyRun | None = None, catalog: Catalog | None = None, profile: Profile | None = None,
            steps: dict[str, Step] | None = None, progress: Progress | None = None,
            run_id: str | None = None) -> RunReport:
    """Run the day's steps (all, or `only` these), or resume the latest unfinished run; one run
    at a time (LakeBusy otherwise). A step that fails after its retries stops the run."""
    profile, catalog = profile or active_profile(), catalog or load_catalog()
    daily, steps = daily or load_daily_run(catalog.conf_dir), steps or STEPS
    zone = ZoneInfo(daily.schedule.time_zone)
    done: list[str] = []
    if resume:
        run_id, run_date, done = unfinished_run(spark)
    run_date = run_date or datetime.now(zone).date()
    run_id = run_id or f"{run_date.isoformat()}.{ledger.runs_of_day(spark, run_date) + 1}"
    names = [step.name for step in daily.steps if (only is None or step.name in only) and step.name not in done]
    context = StepContext(spark, profile, tuple(inboxes or [profile.path("inbox")]))
    report = RunReport(run_id, run_date, resumed_past=done)
    with holding_the_lake(profile.path("var") / "run", run_id):
        started = datetime.now()
        for name in names:
            attempt = run_step(spark, run_id, run_date, name, steps[name], context, daily, progress)
            report.attempts.append(attempt)
            if attempt.outcome == FAILED:
                report.failed_step = name
                break
        at = scheduled_moment(run_date, daily, zone)
        report.late = [f for f in freshness(catalog, latest_extracts(spark), at,
                                            timedelta(hours=daily.freshness.grace_hours)) if f.state == LATE]
        ledger.record(spark, Attempt(
            run_id, run_date, RUN, 1, started, datetime.now(), outcome=FAILED if report.failed_step else SUCCEEDED,
            error=f"stopped at {report.failed_step}" if report.failed_step else None,
            detail=f"late: {', '.join(f.resource for f in report.late)}" if report.late else "no resource late"))
    return report


def run_step(spark: SparkSession, run_id: str, run_date: date, name: str, step: Step, context: StepContext,
             daily: DailyRun, progress: Progress | None) -> Attempt:
    """Attempt the step up to 1 + its retries times, each attempt in the ledger; the last attempt."""
    declared = daily.step(name)
    for number in range(1, declared.retries + 2):
        attempt = Attempt(run_id, run_date, name, number, datetime.now())
        ledger.record(spark, attempt)
        if progress:
            progress(name, attempt)
        attempt = finished(attempt, step, context)
        ledger.record(spark, attempt)
        if progress:
            progress(name, attempt)
        if attempt.outcome == SUCCEEDED:
            return attempt
        if number <= declared.retries:
            log.warning("step %s failed (%s); attempt %d of %d in %.0f s", name, attempt.error, number + 1,
                        declared.retries + 1, declared.retry_delay_s)
            time.sleep(declared.retry_delay_s)
    return attempt


def finished(attempt: Attempt, step: Step, context: StepContext) -> Attempt:
    """The attempt once its step has run: succeeded with its counts, or failed with the reason."""
    try:
        result: StepResult = step.do(context)
    except StepFailed as failed:
        return replace(attempt, ended_at=datetime.now(), outcome=FAILED, error=str(failed))
    except Exception as error:  # noqa: BLE001 - any failure of a job stops the run with its reason in the ledger
        log.exception("step %s failed", attempt.step)
        return replace(attempt, ended_at=datetime.now(), outcome=FAILED, error=f"{type(error).__name__}: {error}")
    return replace(attempt, ended_at=datetime.now(), outcome=SUCCEEDED, rows_in=result.rows_in,
                   rows_out=result.rows_out, detail=result.detail)


def unfinished_run(spark: SparkSession) -> tuple[str, date, list[str]]:
    """The latest run if it did not finish (failed, or died without its end row): its id, day and
    the steps it completed."""
    attempts = ledger.latest_states(spark)
    if not attempts:
        raise NothingToResume("the ledger has no run to resume")
    latest = max(attempts, key=lambda a: a.started_at).run_id
    own = [a for a in attempts if a.run_id == latest]
    if any(a.step == RUN and a.outcome == SUCCEEDED for a in own):
        raise NothingToResume(f"the latest run, {latest}, finished: nothing to resume")
    done = [a.step for a in own if a.step != RUN and a.outcome == SUCCEEDED]
    return latest, own[0].run_date, done


def scheduled_moment(run_date: date, daily: DailyRun, zone: ZoneInfo) -> datetime:
    """When the day's run is due (its day at the schedule's hour, or now if earlier), naive in
    the machine's local time, as Spark hands the ledger's times to Python."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(daily.schedule.cron, timezone=zone)
    first = trigger.get_next_fire_time(None, datetime.combine(run_date, datetime.min.time(), zone))
    moment = min(first, datetime.now(zone)) if first else datetime.now(zone)
    return moment.astimezone().replace(tzinfo=None)
