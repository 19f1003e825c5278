"""The daily run's declaration (`conf/schedule.yml`): its cron schedule and time zone, the steps
in order with their retries, and the grace before a delivery counts as late; validated on load."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from citylake.catalog import _parse, _read_yaml, _Strict
from citylake.settings import conf_dir as active_conf_dir


class Schedule(_Strict):
    cron: str
    time_zone: str

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron expression of five fields (minute hour day month weekday)")
        try:
            CronTrigger.from_crontab(value)
        except ValueError as error:
            raise ValueError(f"{value!r}: {error}") from None
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name like Asia/Shanghai") from None
        return value


class StepDeclaration(_Strict):
    name: str
    retries: int = Field(default=0, ge=0, le=10)
    retry_delay_s: float = Field(default=0, ge=0)


class Freshness(_Strict):
    grace_hours: float = Field(default=6, ge=0)


class DailyRun(_Strict):
    schedule: Schedule
    steps: list[StepDeclaration] = Field(min_length=1)
    freshness: Freshness = Freshness()

    @field_validator("steps")
    @classmethod
    def _steps_known_once_and_in_order(cls, steps: list[StepDeclaration]) -> list[StepDeclaration]:
        from jobs.run.steps import STEPS

        names = [step.name for step in steps]
        unknown = [name for name in names if name not in STEPS]
        if unknown:
            raise ValueError(f"unknown step(s) {', '.join(unknown)}; the steps are: {', '.join(STEPS)}")
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"step(s) listed twice: {', '.join(doubled)}")
        for position, name in enumerate(names):
            late = [need for need in STEPS[name].needs if need in names[position:]]
            if late:
                raise ValueError(f"step {name} needs {', '.join(late)} to run before it")
        return steps

    def step(self, name: str) -> StepDeclaration:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r} in the daily run; its steps: {', '.join(s.name for s in self.steps)}")


def load_daily_run(conf_dir: Path | None = None) -> DailyRun:
    """Read and validate `conf/schedule.yml`."""
    folder = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = folder / "schedule.yml"
    return _parse(path, DailyRun, _read_yaml(path))
