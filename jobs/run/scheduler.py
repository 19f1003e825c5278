"""`citylake scheduler`: a long-running process that starts the daily run on the schedule of
`conf/schedule.yml` (APScheduler's cron trigger in the schedule's time zone). Each run is its own
`citylake run` process, so one run's memory never stays in the scheduler and a run that dies
leaves the scheduler, and the lake's lock, free."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from citylake.schedule import DailyRun

log = logging.getLogger(__name__)


def run_command() -> list[str]:
    """The command the scheduler starts for each run."""
    return [sys.executable, "-m", "citylake.cli", "run"]


def start_run(command: Sequence[str]) -> int:
    """One daily run as a child process; its exit status (logged, never raised: the next day's run
    still comes)."""
    log.info("daily run starting: %s", " ".join(command))
    status = subprocess.run(list(command), check=False).returncode
    (log.info if status == 0 else log.error)("daily run ended with exit status %d", status)
    return status


def daily_trigger(daily: DailyRun) -> CronTrigger:
    return CronTrigger.from_crontab(daily.schedule.cron, timezone=ZoneInfo(daily.schedule.time_zone))


def scheduler_for(daily: DailyRun, command: Sequence[str] | None = None) -> BlockingScheduler:
    """A scheduler holding the daily run: one at a time, a missed start (machine asleep) run once
    when it can within an hour, not once per missed day."""
    scheduler = BlockingScheduler(timezone=ZoneInfo(daily.schedule.time_zone))
    scheduler.add_job(start_run, daily_trigger(daily), args=[list(command or run_command())], id="daily-run",
                      name="citylake daily run", max_instances=1, coalesce=True, misfire_grace_time=3600)
    return scheduler
