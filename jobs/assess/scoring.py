"""The assessment's transforms, free of I/O: each indicator's raw value per month and department
from the lake's ops tables, then the 0-100 scores, the weighted total, the rank among the
departments that month and the change against the month before (`scored`).

Times are the lake's business times, naive, in the city's time zone (the Spark session's): a
month runs from its first midnight to the next month's, and is assessed to its end, or to the
lake's as-of time (the latest landed extract) while it is still running.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake.catalog import Catalog
from jobs.assess.settings import Assessment
from jobs.run.freshness import ON_TIME, freshness

SUCCEEDED = "succeeded"  # jobs.audit.events' outcome of a query that ran to its end
UNMAPPED = "unmapped"    # jobs.audit.departments': a user the audit could not map to a consumer
TEXT = "yyyy-MM-dd HH:mm:ss"


# --------------------------------------------------------------------------- months


@dataclass(frozen=True)
class Month:
    """One assessed month: its first day, its first moment and the next month's, and the moment
    it is assessed to (its end, or the lake's as-of time within it)."""

    month: date
    starts_at: datetime
    ends_at: datetime
    assessed_to: datetime


def months_between(first: datetime, as_of: datetime) -> list[Month]:
    """Every calendar month from the first landed extract's to the as-of time's."""
    months, start = [], date(first.year, first.month, 1)
    while start <= as_of.date():
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        ends_at = datetime.combine(following, time())
        months.append(Month(start, datetime.combine(start, time()), ends_at, min(ends_at, as_of)))
        start = following
    return months


def months_frame(spark: SparkSession, months: Iterable[Month]) -> DataFrame:
    """(month, starts_at, ends_at, assessed_to): the times given as text and read by Spark in the
    session's time zone, so that they compare with the lake's timestamps as the city's times."""
    rows = [(m.month.isoformat(), m.starts_at.strftime("%Y-%m-%d %H:%M:%S"), m.ends_at.strftime("%Y-%m-%d %H:%M:%S"),
             m.assessed_to.strftime("%Y-%m-%d %H:%M:%S")) for m in months]
    frame = spark.createDataFrame(rows, "month string, starts_at string, ends_at string, assessed_to string")
    return frame.select(F.to_date("month").alias("month"),
                        *[F.to_timestamp(name, TEXT).alias(name) for name in ("starts_at", "ends_at", "assessed_to")])


def in_month(moment: Column) -> Column:
    """A condition joining a business time to the month (`m`) it falls in."""
    return (moment >= F.col("m.starts_at")) & (moment < F.col("m.ends_at"))


# --------------------------------------------------------------------------- delivery


def delivery(resources: DataFrame, landed: DataFrame, months: DataFrame) -> DataFrame:
    """(month, department, resources_catalogued, resources_delivered, delivery_value): of the
    department's catalogued resources (`resources`: department, resource), the share with a batch
    landed in the month (`landed`: department, resource, extracted_at)."""
    catalogued = resources.groupBy("department").agg(F.count("*").alias("resources_catalogued"))
    delivered = (landed.join(resources, ["department", "resource"], "left_semi").alias("l")
                 .join(months.alias("m"), in_month(F.col("l.extracted_at")))
                 .groupBy("m.month", "l.department").agg(F.countDistinct("l.resource").alias("resources_delivered")))
    return (months.select("month").crossJoin(catalogued)
            .join(delivered, ["month", "department"], "left")
            .withColumn("resources_delivered", F.coalesce("resources_delivered", F.lit(0)).cast("int"))
            .withColumn("resources_catalogued", F.col("resources_catalogued").cast("int"))
            .withColumn("delivery_value", F.col("resources_delivered") / F.col("resources_catalogued")))


# --------------------------------------------------------------------------- timeliness


def checkpoints(months: Iterable[Month], first: datetime) -> list[tuple[date, datetime]]:
    """(month, moment) of each daily check: every day's end after the first landed extract, up to
    each month's assessed-to time, which is the last check of a month still running."""
    moments = []
    for month in months:
        day = max(month.starts_at, datetime.combine(first.date(), time()))
        while day < month.assessed_to:
            moments.append((month.month, min(day + timedelta(days=1), month.assessed_to)))
            day += timedelta(days=1)
    return moments


def timeliness_checks(catalog: Catalog, extracts: Mapping[str, list[datetime]],
                      moments: Iterable[tuple[date, datetime]], grace: timedelta) -> list[tuple[date, str, int, int]]:
    """(month, department, checks, on_time): at each check, every catalogued resource's freshness
    as the daily run judges it (jobs.run.freshness: due one update cycle after its latest landed
    extract, late past the grace; never delivered is not on time); `extracts`:
    department.resource -> its landed extraction times, sorted."""
    counted: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for month, at in moments:
        latest = {}
        for resource, times in extracts.items():
            before = bisect_right(times, at)
            if before:
                latest[resource] = times[before - 1]
        for state in freshness(catalog, latest, at, grace):
            tally = counted[(month, state.resource.partition(".")[0])]
            tally[0] += 1
            tally[1] += state.state == ON_TIME
    return [(month, department, checks, on_time) for (month, department), (checks, on_time) in sorted(counted.items())]


def timeliness(spark: SparkSession, checks: list[tuple[date, str, int, int]]) -> DataFrame:
    """(month, department, timeliness_checks, timeliness_on_time, timeliness_value)."""
    frame = spark.createDataFrame(checks, "month date, department string, timeliness_checks long, "
                                          "timeliness_on_time long")
    return frame.withColumn("timeliness_value", F.col("timeliness_on_time") / F.col("timeliness_checks"))


# --------------------------------------------------------------------------- quality


def quality(scores: DataFrame, months: DataFrame) -> DataFrame:
    """(month, department, quality_value, batches_measured): the mean of the department's daily
    quality scores (`lake.ops.quality_score`, department level) in the month, weighed by rows as
    the score itself weighs its resources."""
    weight = F.coalesce(F.col("q.rows"), F.lit(0)) + 1
    return (scores.where(F.col("level") == "department").alias("q")
            .join(months.alias("m"), in_month(F.col("q.day").cast("timestamp")))
            .groupBy("m.month", "q.department")
            .agg((F.sum(F.col("q.score") * weight) / F.sum(F.when(F.col("q.score").isNotNull(), weight)))
                 .alias("quality_value"),
                 F.sum("q.batches").cast("long").alias("batches_measured")))


# --------------------------------------------------------------------------- corrections


def corrections(rows: DataFrame, months: DataFrame) -> DataFrame:
    """(month, department, corrections_in_play, corrections_open, corrections_value): the
    corrections (`lake.ops.corrections`) open at some time in the month, those still open when it
    is assessed, and their mean days from opening to correction, an open one counted to the
    assessed-to time (it is still running)."""
    stopped = F.least(F.coalesce(F.col("c.closed_at"), F.col("m.assessed_to")), F.col("m.assessed_to"))
    days = (F.unix_timestamp(stopped) - F.unix_timestamp(F.col("c.opened_at"))) / 86400
    still_open = F.col("c.closed_at").isNull() | (F.col("c.closed_at") > F.col("m.assessed_to"))
    in_play = (F.col("c.opened_at") <= F.col("m.assessed_to")) & (
        F.col("c.closed_at").isNull() | (F.col("c.closed_at") >= F.col("m.starts_at")))
    return (rows.alias("c").join(months.alias("m"), in_play)
            .groupBy("m.month", "c.department")
            .agg(F.count("*").alias("corrections_in_play"),
                 F.count(F.when(still_open, 1)).alias("corrections_open"),
                 F.avg(days).alias("corrections_value")))


# --------------------------------------------------------------------------- use


def source_departments(edges: Iterable[tuple[str, str, str]], kinds: Iterable[str]) -> dict[str, set[str]]:
    """Lake table -> the departments whose deliveries reach it along edges (table, source, kind)
    of the given kinds, e.g. `base.population` -> {psb, grid, health, ...}."""
    kinds = set(kinds)
    sources: dict[str, set[str]] = defaultdict(set)
    for table, source, kind in edges:
        if kind in kinds:
            sources[table].add(source)
    reached: dict[str, set[str]] = {}
    for table in sources:
        departments, seen, queue = set(), {table}, deque([table])
        while queue:
            for source in sources.get(queue.popleft(), ()):
                if source.startswith("delivery:"):
                    departments.add(source.removeprefix("delivery:").partition(".")[0])
                elif source not in seen:
                    seen.add(source)
                    queue.append(source)
        if departments:
            reached[table] = departments
    return reached


def sources_frame(spark: SparkSession, reached: Mapping[str, set[str]]) -> DataFrame:
    """(table_name, source_department) of `source_departments`."""
    rows = sorted((table, department) for table, departments in reached.items() for department in departments)
    return spark.createDataFrame(rows, "table_name string, source_department string")


def use(audit: DataFrame, sources: DataFrame, months: DataFrame, not_counted: list[str],
        lake_catalog: str = "lake") -> DataFrame:
    """(month, department, use_value, use_consumers): the month's successful queries (`lake.ops.
    query_audit`) by consumers other than the department, the uncounted ones and the unmapped,
    that read a table made from its data, and how many such consumers there were."""
    prefix = f"{lake_catalog}."
    reads = (audit.where((F.col("event") == "completed") & (F.col("outcome") == SUCCEEDED))
             .select("query_id", F.col("department").alias("consumer"), "created_at",
                     F.explode("tables_read").alias("read"))
             .where(F.col("read").startswith(prefix))
             .withColumn("table_name", F.expr(f"substring(read, {len(prefix) + 1})")))
    counted = ~F.col("consumer").isin(*not_counted, UNMAPPED) & F.col("consumer").isNotNull()
    others = (reads.join(sources, "table_name")
              .where(counted & (F.col("consumer") != F.col("source_department"))).alias("r"))
    return (others.join(months.alias("m"), in_month(F.col("r.created_at")))
            .groupBy("m.month", F.col("r.source_department").alias("department"))
            .agg(F.countDistinct("r.query_id").alias("use_value"),
                 F.countDistinct("r.consumer").alias("use_consumers")))


# --------------------------------------------------------------------------- scores


SCHEMA = T.StructType([
    T.StructField("month", T.DateType(), False),
    T.StructField("department", T.StringType(), False),
    T.StructField("department_name", T.StringType()),
    T.StructField("department_name_en", T.StringType()),
    T.StructField("resources_catalogued", T.IntegerType()),
    T.StructField("resources_delivered", T.IntegerType()),
    T.StructField("delivery_value", T.DoubleType()),
    T.StructField("delivery_score", T.DoubleType()),
    T.StructField("timeliness_checks", T.LongType()),
    T.StructField("timeliness_on_time", T.LongType()),
    T.StructField("timeliness_value", T.DoubleType()),
    T.StructField("timeliness_score", T.DoubleType()),
    T.StructField("batches_measured", T.LongType()),
    T.StructField("quality_value", T.DoubleType()),
    T.StructField("quality_score", T.DoubleType()),
    T.StructField("corrections_in_play", T.LongType()),
    T.StructField("corrections_open", T.LongType()),
    T.StructField("corrections_value", T.DoubleType()),
    T.StructField("corrections_score", T.DoubleType()),
    T.StructField("use_value", T.LongType()),
    T.StructField("use_consumers", T.LongType()),
    T.StructField("use_score", T.DoubleType()),
    T.StructField("total_score", T.DoubleType()),
    T.StructField("rank", T.IntegerType()),
    T.StructField("departments", T.IntegerType()),
    T.StructField("total_change", T.DoubleType()),
    T.StructField("rank_change", T.IntegerType()),
    T.StructField("assessed_to", T.TimestampType()),
    T.StructField("notes", T.ArrayType(T.StringType())),
])


def indicator_values(departments: DataFrame, months: DataFrame, *values: DataFrame) -> DataFrame:
    """Every department in every month with its indicators' raw values (absent ones null, counts
    0); `departments`: department, department_name, department_name_en."""
    frame = months.select("month", "assessed_to").crossJoin(departments)
    for value in values:
        frame = frame.join(value, ["month", "department"], "left")
    counts = ("resources_delivered", "timeliness_checks", "timeliness_on_time", "batches_measured",
              "corrections_in_play", "corrections_open", "use_value", "use_consumers")
    return frame.fillna(0, subset=[column for column in counts if column in frame.columns])


def _score(value: Column) -> Column:
    return F.round(F.greatest(F.lit(0.0), F.least(F.lit(100.0), value)), 2)


def scored(values: DataFrame, assessment: Assessment, notes: list[str] = ()) -> DataFrame:
    """One row per month and department (`SCHEMA`): each indicator's 0-100 score, the weighted
    total, the rank among the departments that month (ties share a rank, the next one skipped),
    and the total's and rank's change against the department's previous month (null in its first)."""
    band = assessment.indicators.corrections
    weights = assessment.indicators.weights
    frame = (values
             .withColumn("delivery_score", _score(100 * F.col("delivery_value")))
             .withColumn("timeliness_score", _score(F.coalesce(100 * F.col("timeliness_value"), F.lit(0.0))))
             .withColumn("quality_score", _score(F.coalesce(F.col("quality_value"), F.lit(0.0))))
             # no correction in play: full marks for a department that delivered, none for one that did not
             .withColumn("corrections_score", _score(F.coalesce(
                 100 * (band.zero_days - F.col("corrections_value")) / (band.zero_days - band.full_marks_days),
                 F.when(F.col("delivery_value") > 0, F.lit(100.0)).otherwise(F.lit(0.0)))))
             .withColumn("use_score", _score(100 * F.col("use_value") / assessment.indicators.use.full_marks_queries)))
    total = sum(F.col(f"{name}_score") * weight for name, weight in weights.items())
    month, history = Window.partitionBy("month"), Window.partitionBy("department").orderBy("month")
    frame = (frame.withColumn("total_score", F.round(total, 2))
             .withColumn("rank", F.rank().over(month.orderBy(F.desc("total_score"))).cast("int"))
             .withColumn("departments", F.count("*").over(month).cast("int"))
             .withColumn("total_change", F.round(F.col("total_score") - F.lag("total_score").over(history), 2))
             .withColumn("rank_change", (F.lag("rank").over(history) - F.col("rank")).cast("int"))
             .withColumn("notes", F.array(*[F.lit(note) for note in notes]).cast("array<string>")))
    return frame.select(*[F.col(column.name).cast(column.dataType) for column in SCHEMA.fields])
