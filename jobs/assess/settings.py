"""`conf/assessment.yml`, validated: each indicator's weight (adding up to 1) and scoring band, and
what counts as use of a department's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citylake.catalog import load_catalog, load_divisions
from citylake.settings import ConfigError, conf_dir as active_conf_dir, read_yaml, validation_message

INDICATORS = ("delivery", "timeliness", "quality", "corrections", "use")
# how far the weights' sum may be from 1 (decimal weights such as 0.1 + 0.2 are not exact in binary)
WEIGHT_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    weight: float = Field(ge=0, le=1)


class Corrections(Indicator):
    full_marks_days: float = Field(ge=0)
    zero_days: float = Field(gt=0)

    @model_validator(mode="after")
    def _band(self) -> Corrections:
        if self.zero_days <= self.full_marks_days:
            raise ValueError(f"zero_days ({self.zero_days}) must be more than full_marks_days ({self.full_marks_days})")
        return self


class Use(Indicator):
    full_marks_queries: int = Field(gt=0)


class Indicators(_Strict):
    delivery: Indicator
    timeliness: Indicator
    quality: Indicator
    corrections: Corrections
    use: Use

    @model_validator(mode="before")
    @classmethod
    def _known_and_complete(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [name for name in data if name not in INDICATORS]
            missing = [name for name in INDICATORS if name not in data]
            if unknown:
                raise ValueError(f"unknown indicator(s) {', '.join(map(str, unknown))}; "
                                 f"the indicators are {', '.join(INDICATORS)}")
            if missing:
                raise ValueError(f"indicator(s) {', '.join(missing)} not declared (give weight 0 to leave one out)")
        return data

    @model_validator(mode="after")
    def _weights_add_up_to_one(self) -> Indicators:
        total = sum(self.weights.values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            listed = " + ".join(f"{name} {weight:g}" for name, weight in self.weights.items())
            raise ValueError(f"the weights add up to {total:g}, not 1 ({listed})")
        return self

    @property
    def weights(self) -> dict[str, float]:
        return {name: getattr(self, name).weight for name in INDICATORS}


class UseRules(_Strict):
    lineage_kinds: list[str] = Field(min_length=1)
    not_counted: list[str] = []

    @model_validator(mode="after")
    def _known_kinds(self) -> UseRules:
        from jobs.catalog.model import KINDS

        unknown = [kind for kind in self.lineage_kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown lineage kind(s) {', '.join(unknown)}; the kinds are {', '.join(KINDS)}")
        return self


class Assessment(_Strict):
    indicators: Indicators
    use: UseRules


def load_assessment(conf_dir: Path | None = None) -> Assessment:
    """Read and validate `conf/assessment.yml`; the consumers it leaves out must be departments of
    the catalog, the platform (conf/sharing.yml) or districts (conf/divisions.yml)."""
    folder = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = folder / "assessment.yml"
    try:
        assessment = Assessment.model_validate(read_yaml(path))
    except ValidationError as error:
        raise ConfigError(validation_message(path, error)) from None
    consumers = known_consumers(folder)
    unknown = [code for code in assessment.use.not_counted if code not in consumers]
    if unknown:
        raise ConfigError(f"{path}: use.not_counted: unknown consumer(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(consumers))})")
    return assessment


def known_consumers(conf_dir: Path) -> set[str]:
    """Department codes of the catalog, the platform's code and the districts' division codes."""
    consumers = set(load_catalog(conf_dir).departments)
    consumers |= {district.code for district in load_divisions(conf_dir).districts}
    sharing = conf_dir / "sharing.yml"
    if sharing.exists():
        consumers.add(str(read_yaml(sharing).get("platform", {}).get("code")))
    return consumers
