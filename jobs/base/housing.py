"""Housing units and buildings with their residents: who is registered at each unit (by the
register's domicile address) and who actually lives there (by grid collection)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# The city's standard address of a unit (标准地址): the building's address, then the room number.
ROOM_SUFFIX = "室"


def alive() -> Column:
    return F.col("status") == "alive"


def unit_address(building_address: Column, room_no: Column) -> Column:
    return F.concat(building_address, room_no, F.lit(ROOM_SUFFIX))


def housing_units(units: DataFrame, buildings: DataFrame, population: DataFrame) -> DataFrame:
    """`base.housing_unit`: each unit with its building's division and street, owner, and the
    living persons registered at it (`registered_residents`) and living in it (`actual_residents`)."""
    placed = units.join(buildings.select("building_code", "division_code", "street_code",
                                         F.col("address").alias("_building_address")), "building_code", "left")
    placed = placed.withColumn("address", unit_address(F.col("_building_address"), F.col("room_no"))).drop(
        "_building_address")
    registered = (population.where(alive() & (F.col("residence_type") == "户籍"))
                  .groupBy(F.col("domicile_address").alias("address")).agg(F.count(F.lit(1)).alias("registered_residents")))
    actual = (population.where(alive()).groupBy(F.col("residence_unit_code").alias("unit_code"))
              .agg(F.count(F.lit(1)).alias("actual_residents")))
    return (placed.join(registered, "address", "left").join(actual, "unit_code", "left")
            .fillna(0, ["registered_residents", "actual_residents"])
            .select(*units.columns[:-2], "address", "division_code", "street_code", "registered_residents",
                    "actual_residents", *units.columns[-2:]))


def buildings_with_residents(buildings: DataFrame, units: DataFrame) -> DataFrame:
    """`base.building`: each building with its unit count and residents."""
    totals = units.groupBy("building_code").agg(
        F.count(F.lit(1)).alias("unit_count"), F.sum("registered_residents").alias("registered_residents"),
        F.sum("actual_residents").alias("actual_residents"))
    return (buildings.join(totals, "building_code", "left")
            .fillna(0, ["unit_count", "registered_residents", "actual_residents"])
            .select(*buildings.columns[:-2], "unit_count", "registered_residents", "actual_residents",
                    *buildings.columns[-2:]))
