"""`conf/audit.yml`, validated: where the receiver listens, how Trino's event listener retries,
and the stop-gap user/group -> department map."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citylake.settings import ConfigError, Profile, conf_dir, read_yaml, validation_message

# airlift Duration, as Trino's properties take it: a number and a unit.
DURATION = re.compile(r"^\d+(\.\d+)?(ns|us|ms|s|m|h|d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReceiverSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, lt=65536)
    max_event_bytes: int = Field(default=16 * 1024 * 1024, gt=0)


class ListenerSettings(_Strict):
    log_created: bool = True
    log_completed: bool = True
    retry_count: int = Field(default=12, ge=0)
    retry_delay: str = "1s"
    backoff_base: float = Field(default=2, ge=1)
    max_delay: str = "1m"

    @field_validator("retry_delay", "max_delay")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        if not DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration like 500ms, 1s or 1m")
        return value


class DepartmentMap(_Strict):
    users: dict[str, str] = {}
    groups: dict[str, str] = {}


class AuditSettings(_Strict):
    receiver: ReceiverSettings = ReceiverSettings()
    listener: ListenerSettings = ListenerSettings()
    departments: DepartmentMap = DepartmentMap()


def load_audit_settings(path: Path | None = None) -> AuditSettings:
    """The audit settings of `conf/audit.yml` (or `path`), or a ConfigError naming the field."""
    path = path or conf_dir() / "audit.yml"
    try:
        return AuditSettings.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from None


@cache
def audit_settings() -> AuditSettings:
    """The audit settings, read once per process."""
    return load_audit_settings()


def audit_dir(profile: Profile) -> Path:
    """The audit's folder under the profile's var: the receiver's state and log, and the spool."""
    return profile.path("var") / "audit"


def spool_dir(profile: Profile) -> Path:
    return audit_dir(profile) / "spool"
