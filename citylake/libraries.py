"""The base libraries' declarations (`conf/base.yml`), checked against the catalog on load.

Each library names its key, the views it reads (one resource's facts about its entities), the
views whose entities it holds, each attribute's sources in priority order ("one number, one
source"), and columns derived after fusion. A typo fails on load, naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path

from typing import Literal

from pydantic import Field, model_validator

from citylake.catalog import Catalog, CatalogError, _parse, _read_yaml, _Strict, load_catalog
from citylake.settings import conf_dir as active_conf_dir

NAME = r"^[a-z][a-z0-9_]*$"


class View(_Strict):
    """One resource's facts about a library's entities: one row per entity key, either the
    entity's latest row (`columns`) or an aggregate of its rows (`aggregates`)."""

    resource: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    key: str
    where: str | None = None
    # A record's last version still tells what it said after the record ended (a deleted permit
    # still says who its holder was): with keep_ended, the view reads it too.
    keep_ended: bool = False
    columns: dict[str, str] = Field(default_factory=dict)
    aggregates: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _columns_or_aggregates(self) -> View:
        if bool(self.columns) == bool(self.aggregates):
            raise ValueError("a view has either columns (from the latest row) or aggregates (over all rows)")
        if self.keep_ended and self.aggregates:
            raise ValueError("keep_ended takes a record's last version: only for a view with columns")
        return self

    @property
    def expressions(self) -> dict[str, str]:
        return self.columns or self.aggregates

    @property
    def aggregated(self) -> bool:
        return bool(self.aggregates)


class Against(_Strict):
    """The department records a check compares with a library."""

    resource: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    match: str
    entity: str | None = None
    where: str | None = None
    value: str
    record: str
    latest: str | None = None

    @property
    def entity_column(self) -> str:
        return self.entity or self.match


class Check(_Strict):
    """A cross-check (关联比对): what counts as a disagreement between records and a library."""

    kind: str = Field(pattern=NAME)
    attribute: str
    library: str | None = None
    compare: Literal["differs", "exists", "missing"] = "differs"
    when: str | None = None
    against: Against

    @model_validator(mode="after")
    def _when_fits_compare(self) -> Check:
        if self.compare == "exists" and self.when is None:
            raise ValueError("compare: exists needs `when` (which library rows a record contradicts)")
        if self.compare == "missing" and self.when is not None:
            raise ValueError("compare: missing takes no `when`: a value is missing from the whole library")
        return self


class Library(_Strict):
    """A base library: `base.<name>` (current state) and `base.<name>_history`."""

    name: str = Field(pattern=NAME)
    label: str = ""  # the library's Chinese name, for the data dictionary
    description: str
    key: str = Field(pattern=NAME)
    members: list[str] = Field(min_length=1)
    views: dict[str, View]
    attributes: dict[str, list[str]]
    derived: dict[str, str] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Library:
        problems = [f"members: unknown view {name!r}" for name in self.members if name not in self.views]
        for attribute, candidates in self.attributes.items():
            if not candidates:
                problems.append(f"attributes.{attribute}: names no source")
            for candidate in candidates:
                view, _, column = candidate.partition(".")
                if view not in self.views:
                    problems.append(f"attributes.{attribute}: {candidate!r} names unknown view {view!r}")
                elif column not in self.views[view].expressions:
                    problems.append(f"attributes.{attribute}: view {view!r} has no column {column!r}")
        if self.key in self.attributes:
            problems.append(f"attributes.{self.key}: the key is not an attribute")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def candidates(self, attribute: str) -> list[tuple[str, str]]:
        """(view, column) of each source of an attribute, first priority first."""
        return [tuple(candidate.split(".", 1)) for candidate in self.attributes[attribute]]  # type: ignore[misc]

    @property
    def columns(self) -> list[str]:
        """The library's columns after its key: the attributes, then derived columns not
        already attributes."""
        return [*self.attributes, *[name for name in self.derived if name not in self.attributes]]

    @property
    def table(self) -> str:
        return f"base.{self.name}"

    @property
    def conflict_table(self) -> str:
        return f"base.{self.name}_conflict"

    @property
    def history_table(self) -> str:
        return f"base.{self.name}_history"


class Libraries(_Strict):
    libraries: dict[str, Library]

    @model_validator(mode="after")
    def _checks_name_known_columns(self) -> Libraries:
        problems = []
        for library in self.libraries.values():
            for number, check in enumerate(library.checks):
                other = self.libraries.get(check.library or library.name)
                where = f"{library.name}.checks[{number}]({check.kind})"
                if other is None:
                    problems.append(f"{where}.library: unknown library {check.library!r}")
                elif check.attribute not in (other.key, *other.columns):
                    problems.append(f"{where}.attribute: {check.attribute!r} is not a column of {other.name}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def __iter__(self):  # type: ignore[override]
        return iter(self.libraries.values())

    def __getitem__(self, name: str) -> Library:
        return self.libraries[name]


def load_libraries(catalog: Catalog | None = None, conf_dir: Path | None = None) -> Libraries:
    """Read `conf/base.yml`; every view's resource and key column must exist in the catalog."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    catalog = catalog or load_catalog(conf_dir)
    path = conf_dir / "base.yml"
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping of library name to definition")
    named = {name: {"name": name, **body} if isinstance(body, dict) else body for name, body in raw.items()}
    libraries = _parse(path, Libraries, {"libraries": named})
    problems = _unknown_resources(libraries, catalog)
    if problems:
        raise CatalogError(f"{path}: invalid Libraries:\n  " + "\n  ".join(problems))
    return libraries


def _unknown_resources(libraries: Libraries, catalog: Catalog) -> list[str]:
    known = {resource.qualified_code: resource for resource in catalog}
    problems = []
    for library in libraries:
        named = [(f"{library.name}.views.{name}", view.resource, [view.key]) for name, view in library.views.items()]
        named += [(f"{library.name}.checks[{n}]({check.kind}).against", check.against.resource,
                   [check.against.match, check.against.entity_column]) for n, check in enumerate(library.checks)]
        for where, code, columns in named:
            resource = known.get(code)
            if resource is None:
                problems.append(f"{where}.resource: unknown resource {code!r} (not in conf/catalog)")
                continue
            targets = {column.target for column in resource.columns}
            problems += [f"{where}: {column!r} is not a column of {code}" for column in columns if column not in targets]
    return problems
