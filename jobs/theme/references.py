"""The reference views every thematic query and warning rule may read (`ref_month`,
`ref_district`, `ref_street`, `ref_industry`, `ref_resource`), and the lake's as-of time.

The as-of time is the latest extraction time of any landed delivery: the city's "now" as the
lake knows it. Months, ages and windows are counted to it, never to the wall clock, so a rebuild
of the same deliveries gives the same figures on any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Divisions, Industries, load_divisions, load_industries
from jobs.landing.ledger import LEDGER
from jobs.theme.queries import bind

# the days after which a resource's next delivery is due, by its update cycle
CYCLE_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "yearly": 366}


class NothingLanded(RuntimeError):
    """The lake has no landed delivery, so it has no as-of time to build anything to."""


def lake_as_of(spark: SparkSession) -> tuple[datetime, datetime]:
    """(first, latest) extraction time of the landed deliveries, in the city's time (naive)."""
    if not lake.table_exists(spark, LEDGER):
        raise NothingLanded("nothing has been landed yet (run citylake land first)")
    # formatted by Spark in the session's (the city's) time zone: collected timestamps would be
    # converted to the Python process's zone
    city_time = "yyyy-MM-dd HH:mm:ss"
    row = (lake.read_table(spark, LEDGER).where(F.col("status") == "landed")
           .agg(F.date_format(F.min("extracted_at"), city_time).alias("first"),
                F.date_format(F.max("extracted_at"), city_time).alias("latest")).first())
    if row is None or row["latest"] is None:
        raise NothingLanded("no delivery has been landed yet (run citylake land first)")
    return datetime.fromisoformat(row["first"]), datetime.fromisoformat(row["latest"])


def months(spark: SparkSession, first: datetime, as_of: datetime) -> DataFrame:
    """`ref_month`: every calendar month from the first delivery's to the as-of time's, with the
    time its figures describe (`at`: the month's last second, the as-of time for its own month)."""
    return spark.sql(bind(
        """SELECT month, date_format(month, 'yyyy-MM') AS month_label,
                  least(CAST(add_months(month, 1) AS TIMESTAMP) - INTERVAL 1 SECOND, :as_of) AS at
           FROM (SELECT explode(sequence(trunc(CAST(:first AS DATE), 'MM'), trunc(CAST(:as_of AS DATE), 'MM'),
                                         INTERVAL 1 MONTH)) AS month)""",
        {"first": first, "as_of": as_of}))


def districts(spark: SparkSession, divisions: Divisions) -> DataFrame:
    return spark.createDataFrame([(d.code, d.name, d.name_en) for d in divisions.districts],
                                 "district_code string, district_name string, district_name_en string")


def streets(spark: SparkSession, divisions: Divisions) -> DataFrame:
    return spark.createDataFrame(
        [(s.code, s.name, d.code, d.name, d.name_en) for d in divisions.districts for s in d.streets],
        "street_code string, street_name string, district_code string, district_name string, district_name_en string")


def industries(spark: SparkSession, sections: Industries) -> DataFrame:
    return spark.createDataFrame([(letter, s.name, s.name_en) for letter, s in sections.sections.items()],
                                 "industry_section string, industry_name string, industry_name_en string")


def resources(spark: SparkSession, catalog: Catalog) -> DataFrame:
    """One row per catalog resource with its shortest update cycle (the one deliveries keep to)."""
    rows = []
    for resource in catalog:
        department = catalog.department(resource.department)
        cycle = min(resource.cycle.values(), key=lambda name: CYCLE_DAYS[name])
        rows.append((resource.department, resource.code, department.name, resource.name, cycle, CYCLE_DAYS[cycle]))
    return spark.createDataFrame(rows, "department string, resource string, department_name string, "
                                       "resource_name string, cycle string, cycle_days int")


@dataclass(frozen=True)
class References:
    """The lake's time span and the configuration the reference views come from."""

    first: datetime
    as_of: datetime
    configuration: str  # what a build made from the views depends on, for its fingerprint


def register_references(spark: SparkSession, catalog: Catalog) -> References:
    """Make every reference view readable by name in this Spark session, to the lake's as-of time."""
    first, as_of = lake_as_of(spark)
    divisions, sections = load_divisions(catalog.conf_dir), load_industries(catalog.conf_dir)
    views = {"ref_month": months(spark, first, as_of), "ref_district": districts(spark, divisions),
             "ref_street": streets(spark, divisions), "ref_industry": industries(spark, sections),
             "ref_resource": resources(spark, catalog)}
    for name, frame in views.items():
        frame.createOrReplaceTempView(name)
    return References(first, as_of, divisions.model_dump_json() + sections.model_dump_json() + catalog.model_dump_json())
