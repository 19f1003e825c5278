"""Fusing a base library from its views, at a moment in business time.

A view is read from its resource's integrated history, so one piece of code gives a library's
current state (the versions still valid), its state at any past time (the versions valid then),
and its whole history (the state at every time any of its sources changed). The integrated
histories are in business time (`_valid_from` is the change time the department gave), so "as
of" here means what was true in the city on that day as the departments recorded it, not what
the lake had loaded by then (which is Delta's time travel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from citylake.libraries import Library, View
from citylake.settings import ConfigError, conf_dir
from jobs.base.inputs import read_integrated

AS_OF, VALID_FROM, VALID_TO, LINEAGE = "_as_of", "_valid_from", "_valid_to", "_lineage"
DERIVED = "derived"  # the lineage source of a value conf/base.yml derives
_USES_AS_OF = re.compile(r"\b_as_of\b")


@dataclass(frozen=True)
class Moment:
    """When a library is read: now (`at` and `points` None: the versions still valid), at one
    business time (`at`), or at each (key, `_as_of`) row of `points` (for the history)."""

    at: datetime | None = None
    points: DataFrame | None = None


NOW = Moment()


def fuse(spark: SparkSession, library: Library, moment: Moment = NOW, *, timeless: bool = False) -> DataFrame:
    """The library at a moment: one row per entity a member view knows (per point, for a
    `points` moment), each attribute from its first source with a value, `_lineage` saying
    which, the derived columns, and `_as_of`. `timeless` leaves out derived columns that
    depend on `_as_of`."""
    views = {name: view_frame(spark, library, name, view, moment) for name, view in library.views.items()}
    fused = _attributes(library, members(library, views), views)
    return _derived(library, fused, timeless=timeless)


def members(library: Library, views: dict[str, DataFrame]) -> DataFrame:
    """(key, `_as_of`) of every entity a member view knows at the moment."""
    keys = [views[name].select(library.key, AS_OF) for name in library.members]
    union = keys[0]
    for frame in keys[1:]:
        union = union.unionByName(frame)
    return union.distinct()


def view_frame(spark: SparkSession, library: Library, name: str, view: View, moment: Moment) -> DataFrame:
    """One row per (entity key, `_as_of`): the view's columns, prefixed `<view>__`, and
    `<view>___at`, the business time of the newest record it used."""
    versions = _valid_versions(_versions(spark, library, name, view), view, library.key, moment)
    group = [F.col(library.key), F.col(AS_OF)]
    at = f"{name}___at"
    try:
        if view.aggregated:
            aggregates = [F.expr(expression).alias(f"{name}__{column}") for column, expression in view.aggregates.items()]
            return versions.groupBy(*group).agg(*aggregates, F.max(VALID_FROM).alias(at))
        latest = F.max_by(F.struct(*[F.expr(expression).alias(column) for column, expression in view.columns.items()],
                                   F.col(VALID_FROM).alias("_at")), F.col(VALID_FROM)).alias("_latest")
        return versions.groupBy(*group).agg(latest).select(
            *group, *[F.col(f"_latest.{column}").alias(f"{name}__{column}") for column in view.columns],
            F.col("_latest._at").alias(at))
    except AnalysisException as error:
        raise _config_error(library, f"views.{name}", error) from None


def _versions(spark: SparkSession, library: Library, name: str, view: View) -> DataFrame:
    """Every version of the view's resource it is about, keyed by the library key."""
    versions = read_integrated(spark, view.resource, history=True)
    if view.where:
        try:
            versions = versions.where(F.expr(view.where))
        except AnalysisException as error:
            raise _config_error(library, f"views.{name}.where", error) from None
    if view.key != library.key:
        versions = versions.drop(library.key).withColumnRenamed(view.key, library.key)
    return versions.where(F.col(library.key).isNotNull())


def _valid_versions(versions: DataFrame, view: View, key: str, moment: Moment) -> DataFrame:
    """The versions valid at the moment (begun by then, for a view that keeps ended records),
    each with the moment's `_as_of`."""
    def valid(at: Column) -> Column:
        begun = F.col(VALID_FROM) <= at
        return begun if view.keep_ended else begun & (F.col(VALID_TO).isNull() | (F.col(VALID_TO) > at))

    if moment.points is not None:
        points = moment.points.select(F.col(key).alias("_point_key"), AS_OF)
        return versions.join(points, versions[key] == points["_point_key"]).where(valid(F.col(AS_OF))).drop("_point_key")
    if moment.at is None:
        current = versions if view.keep_ended else versions.where(F.col(VALID_TO).isNull())
        return current.withColumn(AS_OF, F.current_timestamp())
    at = city_timestamp(moment.at)
    return versions.where(valid(at)).withColumn(AS_OF, at)


def city_timestamp(at: datetime) -> Column:
    """A datetime as a Spark timestamp; a naive one is the city's time (the session's zone), not
    the Python process's."""
    if at.tzinfo is not None:
        return F.lit(at).cast("timestamp")
    return F.to_timestamp(F.lit(at.isoformat(sep=" ")))


def _attributes(library: Library, keys: DataFrame, views: dict[str, DataFrame]) -> DataFrame:
    """Each attribute from its first source with a value, and `_lineage`: attribute -> (source, at)."""
    joined = keys
    for frame in views.values():
        joined = joined.join(frame, [library.key, AS_OF], "left")
    values, lineage = [], []
    for attribute in library.attributes:
        candidates = library.candidates(attribute)
        values.append(F.coalesce(*[F.col(f"{view}__{column}") for view, column in candidates]).alias(attribute))
        source = F.coalesce(*[F.when(F.col(f"{view}__{column}").isNotNull(),
                                     F.struct(F.lit(library.views[view].resource).alias("source"),
                                              F.col(f"{view}___at").alias("at")))
                              for view, column in candidates])
        lineage.extend([F.lit(attribute), source])
    return joined.select(library.key, *values, F.create_map(*lineage).alias(LINEAGE), AS_OF)


def _derived(library: Library, fused: DataFrame, *, timeless: bool) -> DataFrame:
    for name, expression in library.derived.items():
        if timeless and _USES_AS_OF.search(expression):
            continue
        try:
            fused = fused.withColumn(name, F.expr(expression))
        except AnalysisException as error:
            raise _config_error(library, f"derived.{name}", error) from None
        if name in library.attributes:
            fused = fused.withColumn(LINEAGE, _derived_lineage(name))
    columns = [c for c in library.columns if c in fused.columns]
    return fused.select(library.key, *columns, LINEAGE, AS_OF)


def _derived_lineage(attribute: str) -> Column:
    """The lineage of an attribute a derived column filled where no source had it: `derived`."""
    derived = F.struct(F.lit(DERIVED).alias("source"), F.lit(None).cast("timestamp").alias("at"))
    return F.transform_values(LINEAGE, lambda name, source: F.when(
        (name == attribute) & source.isNull() & F.col(attribute).isNotNull(), derived).otherwise(source))


def _config_error(library: Library, where: str, error: AnalysisException) -> ConfigError:
    message = str(error).splitlines()[0]
    return ConfigError(f"{conf_dir() / 'base.yml'}: {library.name}.{where}: {message}")


# --------------------------------------------------------------------------- history


def history(spark: SparkSession, library: Library) -> DataFrame:
    """Every state the library's entities have been in: one row per entity and span of business
    time (`_valid_from`, `_valid_to`; NULL while current) in which no source of it changed.
    Spans in which no member view knew the entity are absent."""
    points = change_points(spark, library)
    states = fuse(spark, library, Moment(points=points), timeless=True)
    spans = points.withColumn(VALID_TO, F.lead(AS_OF).over(Window.partitionBy(library.key).orderBy(AS_OF)))
    spanned = states.join(spans, [library.key, AS_OF]).withColumnRenamed(AS_OF, VALID_FROM)
    return _merge_unchanged(spanned, library, [c for c in states.columns if c not in (library.key, LINEAGE, AS_OF)])


def change_points(spark: SparkSession, library: Library) -> DataFrame:
    """(key, `_as_of`): every business time at which a version of one of the library's views
    begins or ends for the entity."""
    frames = []
    for name, view in library.views.items():
        versions = _versions(spark, library, name, view)
        frames.append(versions.select(library.key, F.col(VALID_FROM).alias(AS_OF)))
        frames.append(versions.where(F.col(VALID_TO).isNotNull()).select(library.key, F.col(VALID_TO).alias(AS_OF)))
    points = frames[0]
    for frame in frames[1:]:
        points = points.unionByName(frame)
    return points.where(F.col(AS_OF).isNotNull()).distinct()


def _merge_unchanged(spans: DataFrame, library: Library, columns: list[str]) -> DataFrame:
    """Consecutive spans of an entity with the same values become one (the lineage of the first)."""
    by_key = Window.partitionBy(library.key).orderBy(VALID_FROM)
    state = F.xxhash64(*[F.col(c) for c in columns]) if columns else F.lit(0)
    starts = (F.lag("_state").over(by_key).isNull() | (F.lag("_state").over(by_key) != F.col("_state"))
              | (F.lag(VALID_TO).over(by_key) != F.col(VALID_FROM)))
    marked = (spans.withColumn("_state", state).withColumn("_starts", starts.cast("int"))
              .withColumn("_span", F.sum("_starts").over(by_key.rowsBetween(Window.unboundedPreceding, 0))))
    last_end = F.max_by(F.col(VALID_TO), F.col(VALID_FROM))
    merged = marked.groupBy(library.key, "_span").agg(
        F.min_by(F.struct(*[F.col(c) for c in [*columns, LINEAGE, VALID_FROM]]), F.col(VALID_FROM)).alias("_first"),
        last_end.alias(VALID_TO))
    return merged.select(library.key, *[F.col(f"_first.{c}").alias(c) for c in [*columns, LINEAGE, VALID_FROM]],
                         VALID_TO)


def as_of_condition(at: Column) -> Column:
    """The rows of a `_history` table valid at `at`."""
    return (F.col(VALID_FROM) <= at) & (F.col(VALID_TO).isNull() | (F.col(VALID_TO) > at))
