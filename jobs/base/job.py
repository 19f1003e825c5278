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
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, load_catalog, load_divisions
from citylake.libraries import Libraries, load_libraries
from jobs.base import housing, legal_entity, spatial
from jobs.base.conflicts import conflicts
from jobs.base.fusion import AS_OF, NOW, Moment, city_timestamp, fuse, history

log = logging.getLogger(__name__)
DISTRICT = "base.district"


@dataclass(frozen=True)
class Built:
    """What one build wrote: rows per table, and how long it took (seconds)."""

    rows: dict[str, int]
    seconds: float


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
          progress: Progress | None = None) -> Built:
    """Build every base library, its history and its conflicts from the integrated layer."""
    started = time.monotonic()
    catalog = catalog or load_catalog()
    libraries = libraries or load_libraries(catalog)
    say = progress or (lambda step: log.info("%s", step))
    written: dict[str, int] = {}

    def write(frame: DataFrame, name: str) -> None:
        say(f"writing {name}")
        lake.write_table(frame, name, "overwrite")
        written[name] = lake.rows_written(spark, name)

    built = snapshot(spark, libraries, NOW, catalog)
    for library in libraries:
        write(built[library.name], library.table)
    write(built["district"], DISTRICT)
    for library in libraries:
        if library.checks:
            write(conflicts(spark, libraries, library, built), library.conflict_table)
    for library in libraries:
        write(history(spark, library), library.history_table)
    return Built(written, time.monotonic() - started)
