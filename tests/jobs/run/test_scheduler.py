"""The scheduler holds one daily-run job on the declared cron in the declared time zone, started as
its own `citylake run` process whose failure is logged, not raised."""

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from citylake.schedule import load_daily_run
from jobs.run.scheduler import daily_trigger, run_command, scheduler_for, start_run

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_daily_run_fires_at_half_past_two_in_the_citys_time():
    daily = load_daily_run()
    trigger = daily_trigger(daily)
    after = datetime(2026, 3, 5, 2, 31, tzinfo=SHANGHAI)
    assert trigger.get_next_fire_time(None, after) == datetime(2026, 3, 6, 2, 30, tzinfo=SHANGHAI)
    # 02:30 in Shanghai is 18:30 UTC of the day before
    assert trigger.get_next_fire_time(None, after).astimezone(ZoneInfo("UTC")).hour == 18


def test_the_scheduler_holds_one_run_at_a_time_that_starts_citylake_run():
    scheduler = scheduler_for(load_daily_run())
    (job,) = scheduler.get_jobs()
    assert job.func is start_run and job.args == (run_command(),)
    assert run_command() == [sys.executable, "-m", "citylake.cli", "run"]
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 3600)


def test_a_run_that_fails_is_reported_by_its_exit_status(tmp_path, caplog):
    marker = tmp_path / "ran"
    assert start_run([sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]) == 0 and marker.exists()
    assert start_run([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert "daily run ended with exit status 3" in caplog.text
