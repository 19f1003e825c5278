"""The early-warning rules' declarations (`conf/warnings.yml`), validated on load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from citylake.catalog import _parse, _read_yaml, _Strict
from citylake.settings import conf_dir as active_conf_dir
from citylake.themes import NAME, SqlStep, Text

SUBJECT_COLUMNS = ("subject", "subject_name", "district_code", "district_name", "severity")
SubjectType = Literal["enterprise", "street", "housing_unit", "resource", "person", "district"]


class WarningRule(SqlStep):
    """One rule: its query returns a row per subject whose condition holds, with the subject
    columns and the evidence columns it names."""

    name: Text
    subject: SubjectType
    description: Text
    params: dict[str, float | int | str] = Field(default_factory=dict)
    evidence: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _evidence_named(self) -> WarningRule:
        clashes = [column for column in self.evidence if column in SUBJECT_COLUMNS]
        if clashes:
            raise ValueError(f"evidence {clashes} are subject columns, not evidence")
        return self

    @property
    def display_name(self) -> str:
        return f"{self.name.zh} {self.name.en}"


class WarningRules(_Strict):
    rules: dict[str, WarningRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _rule_names(self) -> WarningRules:
        wrong = [name for name in self.rules if not re.fullmatch(NAME, name)]
        if wrong:
            raise ValueError(f"rule names must be snake_case: {', '.join(wrong)}")
        return self


def load_warning_rules(conf_dir: Path | None = None) -> WarningRules:
    """Read and validate `conf/warnings.yml`."""
    folder = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = folder / "warnings.yml"
    return _parse(path, WarningRules, _read_yaml(path))
