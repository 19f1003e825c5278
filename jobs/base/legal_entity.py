"""Legal entities linked to the other base libraries: the legal representative to the population,
the registered address to its building (and so its street)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# An office address is the building's address followed by the room (e.g. 1203室).
ROOM = r"[0-9]+室$"


def legal_entities(entities: DataFrame, population: DataFrame, buildings: DataFrame) -> DataFrame:
    """`base.legal_entity`: with `legal_rep_in_population` (the representative's ID number is a
    person of the population) and the building and street of the registered address."""
    reps = population.select(F.col("id_number").alias("legal_rep_id_number"), F.lit(True).alias("legal_rep_in_population"))
    places = buildings.select(F.col("address").alias("_building_address"), "building_code", "street_code")
    building_address = F.regexp_replace(F.col("address"), ROOM, "")
    linked = (entities.join(reps, "legal_rep_id_number", "left")
              .withColumn("_building_address", building_address)
              .join(places, "_building_address", "left").drop("_building_address")
              .fillna(False, ["legal_rep_in_population"]))
    return linked.select(*entities.columns[:-2], "legal_rep_in_population", "building_code", "street_code",
                         *entities.columns[-2:])
