"""Quality rules (质量规则), read from `conf/rules.yml` and checked against the catalog on load.

Rule kinds: completeness (required columns have a value), validity (values follow their data
element's standard), uniqueness (a key once per batch), referential (a value exists as the key of
another resource), timeliness (a delivery within its cycle). Each has an action: `warn`,
`quarantine` or `reject`. `rules_for(resource)` gives one resource's effective rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from citylake.catalog import Catalog, CatalogError, Cycle, Resource, _parse, _read_yaml, _Strict, load_catalog
from citylake.settings import conf_dir as active_conf_dir

Action = Literal["warn", "quarantine", "reject"]
ACTIONS: tuple[str, ...] = ("warn", "quarantine", "reject")


class RowRule(_Strict):
    """A rule checked on each row; `columns` sets the action of single columns (by source name)."""

    action: Action
    columns: dict[str, Action] = Field(default_factory=dict)

    def action_for(self, column: str) -> Action:
        return self.columns.get(column, self.action)


class Timeliness(_Strict):
    action: Action
    grace_days: dict[Cycle, int] = Field(default_factory=dict)


class Referential(_Strict):
    """The column's standardized value must be a key of the referenced resource (at any time)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str | None = None
    column: str
    references: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    action: Action


class Defaults(_Strict):
    completeness: RowRule
    validity: RowRule
    uniqueness: RowRule
    timeliness: Timeliness


class ResourceRules(_Strict):
    """What one resource changes of the defaults, and its referential rules."""

    completeness: RowRule | None = None
    validity: RowRule | None = None
    uniqueness: RowRule | None = None
    timeliness: Timeliness | None = None
    referential: list[Referential] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ResourceRules:
        names = [rule.name for rule in self.referential]
        if len(names) != len(set(names)):
            raise ValueError(f"referential rule names must be unique, got {names}")
        return self


class Rules(_Strict):
    """The effective rules of one resource."""

    completeness: RowRule
    validity: RowRule
    uniqueness: RowRule
    timeliness: Timeliness
    referential: list[Referential]


class RulesFile(_Strict):
    defaults: Defaults
    resources: dict[str, ResourceRules] = Field(default_factory=dict)

    def rules_for(self, resource: Resource) -> Rules:
        own = self.resources.get(resource.qualified_code, ResourceRules())
        return Rules(
            completeness=own.completeness or self.defaults.completeness,
            validity=own.validity or self.defaults.validity,
            uniqueness=own.uniqueness or self.defaults.uniqueness,
            timeliness=own.timeliness or self.defaults.timeliness,
            referential=own.referential,
        )


def load_rules(catalog: Catalog | None = None, conf_dir: Path | None = None) -> RulesFile:
    """Read `conf/rules.yml` and check every resource, column and reference it names exists."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    catalog = catalog or load_catalog(conf_dir)
    path = conf_dir / "rules.yml"
    rules = _parse(path, RulesFile, _read_yaml(path))
    problems = _unknown_names(rules, catalog)
    if problems:
        raise CatalogError(f"{path}: invalid RulesFile:\n  " + "\n  ".join(problems))
    return rules


def _unknown_names(rules: RulesFile, catalog: Catalog) -> list[str]:
    known = {resource.qualified_code: resource for resource in catalog}
    problems = []
    for code, own in rules.resources.items():
        resource = known.get(code)
        if resource is None:
            problems.append(f"resources.{code}: unknown resource (not in conf/catalog)")
            continue
        for kind in ("completeness", "validity", "uniqueness"):
            rule = getattr(own, kind)
            for column in (rule.columns if rule else {}):
                if column not in resource.source_columns:
                    problems.append(f"resources.{code}.{kind}.columns.{column}: not a column of {code}")
        for rule in own.referential:
            where = f"resources.{code}.referential({rule.name})"
            if rule.column not in resource.source_columns:
                problems.append(f"{where}.column: {rule.column!r} is not a column of {code}")
            target = known.get(rule.references)
            if target is None:
                problems.append(f"{where}.references: unknown resource {rule.references!r}")
            elif len(target.key) != 1:
                problems.append(f"{where}.references: {rule.references} has a compound key; name a single-key resource")
    return problems
