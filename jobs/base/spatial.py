"""The spatial base: streets and districts with their names, codes, areas, centroids and what
lies in them."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake.catalog import Divisions


def streets(streets: DataFrame, population: DataFrame, buildings: DataFrame) -> DataFrame:
    """`base.street`: each street with its district's name, buildings and living residents."""
    residents = (population.where(F.col("status") == "alive").groupBy(F.col("residence_street_code").alias("street_code"))
                 .agg(F.count(F.lit(1)).alias("residents")))
    built = buildings.groupBy("street_code").agg(F.count(F.lit(1)).alias("buildings"))
    return (streets.join(residents, "street_code", "left").join(built, "street_code", "left")
            .fillna(0, ["residents", "buildings"])
            .select(*streets.columns[:-2], "buildings", "residents", *streets.columns[-2:]))


def districts(spark: SparkSession, divisions: Divisions, streets: DataFrame, entities: DataFrame) -> DataFrame:
    """`base.district`: each district of the city's code table (GB/T 2260) with its name, area
    and centroid, and the streets, living residents and active enterprises the lake has in it."""
    table = spark.createDataFrame(
        [(d.code, d.name, d.name_en, float(d.area_km2), float(d.lng), float(d.lat)) for d in divisions.districts],
        "division_code string, district_name string, district_name_en string, area_km2 double, lng double, lat double")
    street_counts = streets.groupBy(F.col("district_code").alias("division_code")).agg(
        F.count(F.lit(1)).alias("streets"), F.sum("residents").alias("residents"))
    active = (entities.where(F.col("active")).groupBy("division_code")
              .agg(F.count(F.lit(1)).alias("active_enterprises")))
    return (table.join(street_counts, "division_code", "left").join(active, "division_code", "left")
            .fillna(0, ["streets", "residents", "active_enterprises"]))
