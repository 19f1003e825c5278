"""The thematic libraries' declarations (`conf/themes.yml`), validated on load.

A theme table is one Spark SQL query over the lake tables it names as `sources` (each readable in
the query as a view `<layer>_<table>`, e.g. `base_population_history`) and the reference views
every query may use (`ref_month`, `ref_district`, `ref_street`, `ref_industry`, `ref_resource`),
with the declared `params` as named parameters (`:max_residents_per_unit`) beside `:as_of`.
`classify` turns declared rules into a class column with the reasons; every output column is
documented, in Chinese and English, where analysts read it (the data dictionary).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from citylake.catalog import _parse, _read_yaml, _Strict
from citylake.settings import conf_dir as active_conf_dir

NAME = r"^[a-z][a-z0-9_]*$"
LAKE_TABLE = r"^[a-z]+\.[a-z][a-z0-9_]*$"
# the views every query can read without declaring them: they come from conf/ and the ledger
REFERENCE_VIEWS = ("ref_month", "ref_district", "ref_street", "ref_industry", "ref_resource")
SOURCE_LAYERS = ("integrated", "base", "theme", "ops", "app")


class Text(_Strict):
    zh: str
    en: str


def view_name(table: str) -> str:
    """The view a query reads a lake table through: `base.population` -> `base_population`."""
    return table.replace(".", "_")


class SqlStep(_Strict):
    """A query over named lake tables: what a theme table or a warning rule computes."""

    sources: list[str] = Field(min_length=1)
    sql: str

    @model_validator(mode="after")
    def _sources_read(self) -> SqlStep:
        for source in self.sources:
            if not re.fullmatch(LAKE_TABLE, source) or source.split(".")[0] not in SOURCE_LAYERS:
                raise ValueError(f"source {source!r} is not <layer>.<table> of a layer in {', '.join(SOURCE_LAYERS)}")
            if not re.search(rf"\b{view_name(source)}\b", self.sql):
                raise ValueError(f"source {source} is declared but the sql never reads {view_name(source)}")
        return self

    def reads(self) -> list[str]:
        """The lake tables and reference views the query reads."""
        return [*self.sources, *[view for view in REFERENCE_VIEWS if re.search(rf"\b{view}\b", self.sql)]]


class ClassRule(_Strict):
    value: str
    when: str
    reason: str


class Classify(_Strict):
    """A class column from rules in order (the first whose `when` holds gives the class, else
    `default`), and a reasons column listing every rule that holds."""

    column: str = Field(pattern=NAME)
    reasons: str = Field(pattern=NAME)
    rules: list[ClassRule] = Field(min_length=1)
    default: str


class ThemeTable(SqlStep):
    library: str = Field(pattern=NAME)
    description: Text
    grain: str
    keys: list[str] = Field(min_length=1)
    classify: Classify | None = None
    # boolean columns over the query's (and the classification's) columns: the lists a theme keeps
    flags: dict[str, str] = Field(default_factory=dict)
    columns: dict[str, Text] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys_documented(self) -> ThemeTable:
        missing = [key for key in self.keys if key not in self.columns]
        if missing:
            raise ValueError(f"keys {', '.join(missing)} are not among the documented columns")
        return self


class Themes(_Strict):
    """Every thematic library (信用, 企业运行, 人口, 住房, 城市运行) and its tables."""

    libraries: dict[str, Text] = Field(min_length=1)
    params: dict[str, float | int | str] = Field(default_factory=dict)
    tables: dict[str, ThemeTable] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Themes:
        for name, table in self.tables.items():
            if not re.fullmatch(NAME, name):
                raise ValueError(f"table name {name!r} is not snake_case")
            if table.library not in self.libraries:
                raise ValueError(f"tables.{name}: library {table.library!r} is not one of {', '.join(self.libraries)}")
            for source in table.sources:
                if source.startswith("theme.") and source.removeprefix("theme.") not in self.tables:
                    raise ValueError(f"tables.{name}: source {source} is no theme table declared here")
        self.build_order()
        return self

    def build_order(self) -> list[str]:
        """Theme table names, each after the theme tables it reads."""
        ordered: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in ordered:
                return
            if name in path:
                cycle = (*path[path.index(name):], name)
                raise ValueError(f"theme tables read each other in a cycle: {' -> '.join(cycle)}")
            for source in self.tables[name].sources:
                if source.startswith("theme."):
                    visit(source.removeprefix("theme."), (*path, name))
            ordered.append(name)

        for name in self.tables:
            visit(name, ())
        return ordered

    def qualified(self, name: str) -> str:
        return f"theme.{name}"


def load_themes(conf_dir: Path | None = None) -> Themes:
    """Read and validate `conf/themes.yml`."""
    folder = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = folder / "themes.yml"
    raw: Any = _read_yaml(path)
    return _parse(path, Themes, raw)
