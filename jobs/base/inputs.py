"""The integrated tables the base libraries are built from, on a lake that may not have every
resource yet: a resource no department has delivered reads as an empty table of its schema, and
`Availability` says which libraries can be built and what each one is built without."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from citylake import lake
from citylake.catalog import Catalog, load_catalog
from citylake.libraries import Libraries, Library
from citylake.settings import conf_dir
from jobs.integrate.changes import table_schema
from jobs.integrate.standardize import data_columns


class NothingToBuild(RuntimeError):
    """None of the base libraries' sources is in the integrated layer yet."""


def integrated_table(resource: str, *, history: bool) -> str:
    """The integrated table of a resource given as `department.resource`."""
    return f"integrated.{resource.replace('.', '_')}" + ("_history" if history else "")


def read_integrated(spark: SparkSession, resource: str, *, history: bool) -> DataFrame:
    """A resource's integrated current table or history; empty, with the catalog's columns, while
    the resource has not been integrated."""
    name = integrated_table(resource, history=history)
    if lake.table_exists(spark, name):
        return lake.read_table(spark, name)
    department, code = resource.split(".")
    columns = [(column.target, column.type) for column in data_columns(_catalog(conf_dir()).resource(department, code))]
    return spark.createDataFrame([], table_schema(columns, history=history))


@cache
def _catalog(folder: Path) -> Catalog:
    return load_catalog(folder)


def resources_read(library: Library) -> list[str]:
    """Every resource a library reads: its views' and its checks' records."""
    named = [view.resource for view in library.views.values()] + [check.against.resource for check in library.checks]
    return list(dict.fromkeys(named))


@dataclass(frozen=True)
class Availability:
    """Which resources the libraries read are integrated, and what that allows."""

    missing: frozenset[str]
    libraries: Libraries

    def buildable(self, library: Library) -> bool:
        """A library is built once any resource its entities come from (a member view) is there."""
        return any(library.views[name].resource not in self.missing for name in library.members)

    def built(self) -> list[Library]:
        return [library for library in self.libraries if self.buildable(library)]

    def left_out(self) -> dict[str, list[str]]:
        """Library -> the resources its entities come from, none of them integrated yet."""
        return {library.name: [library.views[name].resource for name in library.members]
                for library in self.libraries if not self.buildable(library)}

    def built_without(self) -> dict[str, list[str]]:
        """Built library -> the resources it reads that are not integrated yet."""
        found = {library.name: [r for r in resources_read(library) if r in self.missing] for library in self.built()}
        return {name: resources for name, resources in found.items() if resources}


def availability(spark: SparkSession, libraries: Libraries) -> Availability:
    """What the integrated layer holds of the resources the libraries read."""
    wanted = {resource for library in libraries for resource in resources_read(library)}
    missing = frozenset(r for r in wanted if not lake.table_exists(spark, integrated_table(r, history=True)))
    return Availability(missing, libraries)
