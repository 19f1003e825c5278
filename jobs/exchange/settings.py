"""`conf/exchange.yml`, validated: the province reported to, files' size, open data's licence."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citylake.settings import ConfigError, conf_dir as active_conf_dir, profile, read_yaml, validation_message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Strict):
    name: str
    name_en: str


class Province(Party):
    code: str = Field(pattern=r"^[0-9]{6}$")


class Licence(_Strict):
    name: str
    url: str


class OpenData(_Strict):
    publisher: Party
    licence: Licence


class ExchangeSettings(_Strict):
    province: Province
    rows_per_file: int = Field(gt=0)
    open_data: OpenData


def load_exchange(conf_dir: Path | None = None) -> ExchangeSettings:
    path = (Path(conf_dir) if conf_dir is not None else active_conf_dir()) / "exchange.yml"
    try:
        return ExchangeSettings.model_validate(read_yaml(path))
    except ValidationError as error:
        raise ConfigError(validation_message(path, error)) from None


def exchange_dir() -> Path:
    """Where packages to other levels go and their receipts come back: `<var>/exchange`."""
    return profile().path("var") / "exchange"


def open_dir() -> Path:
    """Where open-data packages are published: `<var>/open`."""
    return profile().path("var") / "open"


def time_zone() -> str:
    """The zone Spark writes timestamps as text in (the profile's session time zone)."""
    return profile().spark.conf.get("spark.sql.session.timeZone", "UTC")
