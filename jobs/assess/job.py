"""The assessment job (`citylake assess`): read the ledger, quality scores, corrections and query
audit, score every catalog department per month (jobs.assess.scoring) and write
`lake.ops.share_assessment` through the lake's one writer.

Every month from the first landed extract's to the lake's as-of time is assessed and the table
replaced in one commit, unless it was made from the same inputs (their versions, the
configuration). `month` assesses one month and replaces only its rows (the months before it are
computed too, for the change against the previous month).

Nothing landed yet is a refusal: there is no month to assess. An indicator's table missing is
not: a city's assessment office wants the month's assessment made from what the lake has, with
the gap stated, so that indicator counts nothing (no quality score: 0; no corrections table:
none in play; no query audit: no use) and the rows' `notes` and the job's summary say which table was
missing.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, load_catalog
from citylake.ops_tables import SHARE_ASSESSMENT
from citylake.schedule import load_daily_run
from citylake.settings import Profile, profile as active_profile
from jobs.assess import scoring
from jobs.assess.settings import Assessment, load_assessment

ASSESSMENT = SHARE_ASSESSMENT.name
LEDGER = "ops.batch_ledger"
QUALITY_SCORE = "ops.quality_score"
CORRECTIONS = "ops.corrections"
QUERY_AUDIT = "ops.query_audit"
INPUTS = (LEDGER, QUALITY_SCORE, CORRECTIONS, QUERY_AUDIT)

# what each indicator's table looks like when the lake does not have it yet (the columns read)
EMPTY = {
    QUALITY_SCORE: "level string, department string, day date, batches long, rows long, score double",
    CORRECTIONS: "department string, opened_at timestamp, closed_at timestamp",
    QUERY_AUDIT: "query_id string, event string, outcome string, department string, created_at timestamp, "
                 "tables_read array<string>",
}
MISSING_NOTES = {
    QUALITY_SCORE: "尚无质量评分 no quality score yet (lake.ops.quality_score): quality scored 0",
    CORRECTIONS: "尚无纠错记录 no corrections table yet (lake.ops.corrections): no correction counted",
    QUERY_AUDIT: "尚无查询审计 no query audit yet (lake.ops.query_audit): use counted 0",
}


class NothingToAssess(RuntimeError):
    """No delivery has landed: the lake has no month to assess."""


class MonthNotAssessable(ValueError):
    """The month asked for is outside the months the lake has deliveries for."""


@dataclass(frozen=True)
class Assessed:
    """What one run did: the rows written (0 when up to date), the months assessed, the
    notes on missing inputs, the latest month's ranking (rank, department name, total, change),
    and the seconds it took."""

    rows: int
    months: list[str]
    up_to_date: bool = False
    notes: list[str] = field(default_factory=list)
    ranking: list[tuple[int, str, float, float | None]] = field(default_factory=list)
    seconds: float = 0.0


def assess(spark: SparkSession, month: date | None = None, assessment: Assessment | None = None,
           catalog: Catalog | None = None, profile: Profile | None = None, force: bool = False) -> Assessed:
    """Score every catalog department for every month (or for `month` only) into
    lake.ops.share_assessment."""
    started = time.monotonic()
    profile = profile or active_profile()
    catalog = catalog or load_catalog()
    assessment = assessment or load_assessment(catalog.conf_dir)
    first, as_of = landed_span(spark, profile)
    months = scoring.months_between(first, as_of)
    if month is not None:
        month = month.replace(day=1)
        if month not in [m.month for m in months]:
            raise MonthNotAssessable(f"{month:%Y-%m} is not a month the lake has deliveries for "
                                     f"({months[0].month:%Y-%m} to {months[-1].month:%Y-%m})")
        months = [m for m in months if m.month <= month]
    notes = [MISSING_NOTES[name] for name in INPUTS
             if name in MISSING_NOTES and not lake.table_exists(spark, name, profile)]
    labels = [f"{m.month:%Y-%m}" for m in months if month is None or m.month == month]
    grace = timedelta(hours=load_daily_run(catalog.conf_dir).freshness.grace_hours)
    reached = scoring.source_departments(lineage_edges(catalog), assessment.use.lineage_kinds)
    fingerprint = lake.inputs_fingerprint(
        spark, list(INPUTS), assessment.model_dump_json(), catalog.model_dump_json(), str(grace),
        json.dumps({table: sorted(departments) for table, departments in sorted(reached.items())}), str(month),
        profile=profile)
    if not force and lake.recorded_fingerprint(spark, ASSESSMENT, profile) == fingerprint:
        return Assessed(0, labels, True, notes, ranking(spark, profile), time.monotonic() - started)

    frame = assessment_frame(spark, catalog, assessment, profile, months, first, grace, reached, notes)
    if month is None:
        SHARE_ASSESSMENT.write(spark, frame, profile, made_from=fingerprint)
    else:
        only = f"month = DATE '{month.isoformat()}'"
        SHARE_ASSESSMENT.write(spark, frame.where(only), profile, made_from=fingerprint, replacing=only)
    # one row per department and month by construction (the commit's own count would include the
    # other months' rows a replaceWhere rewrites beside the month's)
    rows = len(catalog.departments) * len(labels)
    return Assessed(rows, labels, False, notes, ranking(spark, profile, month), time.monotonic() - started)


def assessment_frame(spark: SparkSession, catalog: Catalog, assessment: Assessment, profile: Profile,
                     months: list[scoring.Month], first: datetime, grace: timedelta, reached: dict[str, set[str]],
                     notes: list[str]) -> DataFrame:
    """The assessment's rows for these months, from the lake's tables as they are now; `grace`:
    before a delivery is late; `reached`: table -> the departments whose data it carries."""
    spans = scoring.months_frame(spark, months)
    resources = spark.createDataFrame([(r.department, r.code) for r in catalog], "department string, resource string")
    landed = landed_batches(spark, profile)
    checks = scoring.timeliness_checks(catalog, landed_extracts(landed), scoring.checkpoints(months, first), grace)
    values = scoring.indicator_values(
        departments(spark, catalog), spans,
        scoring.delivery(resources, landed, spans),
        scoring.timeliness(spark, checks),
        scoring.quality(read_or_empty(spark, QUALITY_SCORE, profile), spans),
        scoring.corrections(read_or_empty(spark, CORRECTIONS, profile), spans),
        scoring.use(read_or_empty(spark, QUERY_AUDIT, profile), scoring.sources_frame(spark, reached), spans,
                    assessment.use.not_counted, profile.trino.catalog))
    return scoring.scored(values, assessment, notes)


def landed_span(spark: SparkSession, profile: Profile) -> tuple[datetime, datetime]:
    """(first, latest) extraction time of the landed batches, in the city's time."""
    if not lake.table_exists(spark, LEDGER, profile):
        raise NothingToAssess("nothing has been landed yet (lake.ops.batch_ledger is missing): no month to assess")
    row = (landed_batches(spark, profile)
           .agg(F.date_format(F.min("extracted_at"), scoring.TEXT).alias("first"),
                F.date_format(F.max("extracted_at"), scoring.TEXT).alias("latest")).first())
    if row is None or row["latest"] is None:
        raise NothingToAssess("no batch has been landed yet: no month to assess")
    return datetime.fromisoformat(row["first"]), datetime.fromisoformat(row["latest"])


def landed_batches(spark: SparkSession, profile: Profile) -> DataFrame:
    """(department, resource, extracted_at) of every landed batch."""
    return (lake.read_table(spark, LEDGER, profile).where(F.col("status") == "landed")
            .select("department", "resource", "extracted_at"))


def landed_extracts(landed: DataFrame) -> dict[str, list[datetime]]:
    """department.resource -> its landed extraction times, sorted, in the city's time (formatted
    by Spark in the session's time zone: collected timestamps would be in the process's zone)."""
    extracts: dict[str, list[datetime]] = defaultdict(list)
    rows = landed.select("department", "resource",
                         F.date_format("extracted_at", scoring.TEXT).alias("at")).distinct().collect()
    for row in rows:
        extracts[f"{row.department}.{row.resource}"].append(datetime.fromisoformat(row.at))
    return {resource: sorted(times) for resource, times in extracts.items()}


def lineage_edges(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(table, source, kind) of every edge the jobs declare (jobs/catalog/registry.py)."""
    from jobs.catalog.registry import declarations, lineage_edges as declared_edges

    return [(edge.table, edge.source, edge.kind) for _, edge in declared_edges(declarations(catalog))]


def departments(spark: SparkSession, catalog: Catalog) -> DataFrame:
    """(department, department_name, department_name_en) of every catalog department."""
    return spark.createDataFrame([(code, entry.department.name, entry.department.name_en)
                                  for code, entry in catalog.departments.items()],
                                 "department string, department_name string, department_name_en string")


def read_or_empty(spark: SparkSession, name: str, profile: Profile) -> DataFrame:
    """The table, or no rows in its shape while the lake does not have it."""
    if lake.table_exists(spark, name, profile):
        return lake.read_table(spark, name, profile)
    return spark.createDataFrame([], EMPTY[name])


def ranking(spark: SparkSession, profile: Profile,
            month: date | None = None) -> list[tuple[int, str, float, float | None]]:
    """(rank, department name, total, change) of the latest assessed month (or `month`), best first."""
    if not lake.table_exists(spark, ASSESSMENT, profile):
        return []
    rows = (lake.read_table(spark, ASSESSMENT, profile)
            .select("month", "rank", "department", "department_name", "department_name_en", "total_score",
                    "total_change").collect())  # a row per department and month: small
    if not rows:
        return []
    wanted = month or max(row.month for row in rows)
    return [(row.rank, f"{row.department_name} {row.department_name_en}", row.total_score, row.total_change)
            for row in sorted(rows, key=lambda row: (row.rank, row.department)) if row.month == wanted]
