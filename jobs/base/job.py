"""The base libraries job (`citylake base`): the city's population, legal entities, buildings,
housing units, streets and districts, fused from the integrated layer, cross-checked, with history.

Writes, each as one Delta commit replacing the table's previous build:
- `base.<library>`: the current state, one row per entity (grain and key in `conf/base.yml`),
  each attribute from the source that owns it and `_lineage` naming that source and its time;
- `base.<library>_history`: every state in business time (`_valid_from`, `_valid_to`);
- `base.<library>_conflict`: the disagreements its cross-checks find;
- `base.district`: the city's districts with what the lake has in them.
`as_of` gives any library as it was at a past business time, from the integrated histories.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, load_catalog, load_divisions
from citylake.libraries import Libraries, load_libraries
from jobs.base import housing, legal_entity, spatial
from jobs.base.conflicts import checkable, conflicts
from jobs.base.fusion import AS_OF, NOW, Moment, city_timestamp, fuse, history
from jobs.base.inputs import NothingToBuild, availability, integrated_table, resources_read

log = logging.getLogger(__name__)
DISTRICT = "base.district"


@dataclass(frozen=True)
class Built:
    """What one build wrote: rows per table, and how long it took (seconds); on a lake that lacks
    resources, the libraries `left_out` (-> the resources they need) and those `built_without`
    some of what they read."""

    rows: dict[str, int]
    seconds: float
    left_out: dict[str, list[str]] = field(default_factory=dict)
    built_without: dict[str, list[str]] = field(default_factory=dict)
    up_to_date: bool = False  # nothing written: the last build was made from the same inputs
    unchecked: dict[str, list[str]] = field(default_factory=dict)  # conflict table -> checks against a left-out library


Progress = Callable[[str], None]


def snapshot(spark: SparkSession, libraries: Libraries, moment: Moment = NOW, catalog: Catalog | None = None
             ) -> dict[str, DataFrame]:
    """Every base library at a moment (now, or a past business time), linked to one another:
    library name -> rows, and `district`."""
    fused = {library.name: fuse(spark, library, moment).localCheckpoint() for library in libraries}
    population = fused["population"]
    units = housing.housing_units(fused["housing_unit"], fused["building"], population).localCheckpoint()
    buildings = housing.buildings_with_residents(fused["building"], units)
    entities = legal_entity.legal_entities(fused["legal_entity"], population, fused["building"]).localCheckpoint()
    streets = spatial.streets(fused["street"], population, fused["building"]).localCheckpoint()
    divisions = load_divisions((catalog or load_catalog()).conf_dir)
    as_of = city_timestamp(moment.at) if moment.at else F.current_timestamp()
    districts = spatial.districts(spark, divisions, streets, entities).withColumn(AS_OF, as_of)
    return {**fused, "housing_unit": units, "building": buildings, "legal_entity": entities, "street": streets,
            "district": districts}


def as_of(spark: SparkSession, library: str, at: datetime, libraries: Libraries | None = None) -> DataFrame:
    """A base library as it was at business time `at` (a naive datetime is the city's time)."""
    libraries = libraries or load_libraries()
    return snapshot(spark, libraries, Moment(at=at))[library]


def build(spark: SparkSession, catalog: Catalog | None = None, libraries: Libraries | None = None,
          progress: Progress | None = None, force: bool = False) -> Built:
    """Build every base library its inputs allow, its history and its conflicts, from the
    integrated layer; nothing when the last build was made from the same inputs, unless `force`."""
    started = time.monotonic()
    catalog = catalog or load_catalog()
    libraries = libraries or load_libraries(catalog)
    say = progress or (lambda step: log.info("%s", step))
    written: dict[str, int] = {}

    available = availability(spark, libraries)
    buildable = available.built()
    if not buildable:
        raise NothingToBuild("no base library can be built yet: none of the resources they are built from is "
                             "integrated (run citylake land and citylake integrate first)")
    fingerprint = build_inputs(spark, libraries, catalog)
    # the histories are written last: the last one made from these inputs means the whole build was
    if not force and lake.recorded_fingerprint(spark, buildable[-1].history_table) == fingerprint:
        return Built({}, time.monotonic() - started, available.left_out(), available.built_without(), up_to_date=True)

    def write(frame: DataFrame, name: str) -> None:
        say(f"writing {name}")
        lake.write_table(frame, name, "overwrite", made_from=fingerprint)
        written[name] = lake.rows_written(spark, name)

    built = snapshot(spark, libraries, NOW, catalog)
    for library in buildable:
        write(built[library.name], library.table)
    write(built["district"], DISTRICT)
    left_out = frozenset(available.left_out())
    for library in buildable:
        if checkable(library, left_out):
            write(conflicts(spark, libraries, library, built, left_out), library.conflict_table)
    for library in buildable:
        write(history(spark, library), library.history_table)
    unchecked = {library.conflict_table: [check.kind for check in library.checks if check not in checkable(library, left_out)]
                 for library in buildable}
    return Built(written, time.monotonic() - started, available.left_out(), available.built_without(),
                 unchecked={table: kinds for table, kinds in unchecked.items() if kinds})


def build_inputs(spark: SparkSession, libraries: Libraries, catalog: Catalog) -> str:
    """The fingerprint of what a build reads: the integrated tables' versions, the libraries'
    and divisions' configuration, and the city's day (ages are counted to it)."""
    tables = [integrated_table(resource, history=history) for library in libraries
              for resource in resources_read(library) for history in (False, True)]
    today = datetime.now(ZoneInfo(spark.conf.get("spark.sql.session.timeZone"))).date().isoformat()
    return lake.inputs_fingerprint(spark, sorted(set(tables)), libraries.model_dump_json(),
                                   load_divisions(catalog.conf_dir).model_dump_json(), today)
