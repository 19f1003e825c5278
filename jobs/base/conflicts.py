"""Cross-checking (关联比对): where departments disagree about an entity of a base library.

Each check of `conf/base.yml` compares one department's current records with a library's fused
attribute (whose source the library's lineage names), and yields one row per record in
disagreement, with both values and both sources. The rows carry the entity's division and street
codes, so that a district sees the conflicts of its own territory.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from citylake.libraries import Check, Libraries, Library
from jobs.base.fusion import LINEAGE
from jobs.base.inputs import read_integrated

CONFLICT_COLUMNS = ["kind", "attribute", "source_a", "value_a", "source_b", "value_b", "record", "recorded_at"]


def conflicts(spark: SparkSession, libraries: Libraries, library: Library, built: dict[str, DataFrame],
              left_out: frozenset[str] = frozenset()) -> DataFrame:
    """`base.<library>_conflict`: every disagreement its checks find, keyed by the library key.
    A check against a library `left_out` of the build is not made: against no entities at all,
    every record would look like a disagreement."""
    frames = [check_conflicts(spark, libraries, library, check, built) for check in checkable(library, left_out)]
    found = frames[0]
    for frame in frames[1:]:
        found = found.unionByName(frame)
    places = built[library.name].select(library.key, *[c for c in ("division_code", "street_code")
                                                       if c in built[library.name].columns])
    return found.join(places, library.key, "left").select(library.key, *CONFLICT_COLUMNS, *places.columns[1:])


def checkable(library: Library, left_out: frozenset[str]) -> list[Check]:
    """The library's checks whose other side was built."""
    return [check for check in library.checks if (check.library or library.name) not in left_out]


def check_conflicts(spark: SparkSession, libraries: Libraries, library: Library, check: Check,
                    built: dict[str, DataFrame]) -> DataFrame:
    """The records one check finds in disagreement, as conflict rows keyed by `library.key`."""
    against = check.against
    other = built[check.library or library.name]
    other_key = other.columns[0]
    records = read_integrated(spark, against.resource, history=False)
    if against.where:
        records = records.where(F.expr(against.where))
    records = records.select(F.col(against.match).alias("_match"), F.col(against.entity_column).alias(library.key),
                             F.expr(against.value).cast("string").alias("value_b"),
                             F.expr(against.record).cast("string").alias("record"),
                             F.col("_changed_at").alias("recorded_at"),
                             *([F.expr(against.latest).alias("_latest")] if against.latest else []))
    records = records.where(F.col("_match").isNotNull() & F.col(library.key).isNotNull())
    if against.latest:
        newest = Window.partitionBy(library.key).orderBy(F.col("_latest").desc())
        records = records.withColumn("_n", F.row_number().over(newest)).where(F.col("_n") == 1).drop("_n", "_latest")
    side_a = _side_a(other, other_key, check)
    if check.compare == "missing":
        found = records.join(side_a.select("_match"), "_match", "left_anti").select(
            "*", F.lit(None).cast("string").alias("value_a"), F.lit(_owner(libraries[check.library or library.name])).alias("source_a"))
    else:
        found = records.join(side_a, "_match")
        if check.compare == "differs":
            found = found.where(F.col("value_a").isNotNull() & F.col("value_b").isNotNull()
                                & (F.col("value_a") != F.col("value_b")))
    return found.select(library.key, F.lit(check.kind).alias("kind"), F.lit(check.attribute).alias("attribute"),
                        "source_a", "value_a", F.lit(against.resource).alias("source_b"), "value_b", "record",
                        "recorded_at")


def _side_a(other: DataFrame, other_key: str, check: Check) -> DataFrame:
    """The library rows a check compares with: their key, the attribute and its source."""
    rows = other.where(F.expr(check.when)) if check.when else other
    source = (F.col(LINEAGE)[check.attribute]["source"] if check.attribute != other_key
              else F.lit(None).cast("string"))
    return rows.select(F.col(other_key).alias("_match"), F.col(check.attribute).cast("string").alias("value_a"),
                       source.alias("source_a"))


def _owner(library: Library) -> str:
    """The resource a `missing` value is missing from: the one the library's entities come from."""
    return library.views[library.members[0]].resource
