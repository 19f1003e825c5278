"""Freshness: when each catalog resource's next delivery is due, from its latest landed extract
and its update cycle, and which are late (past due by more than the grace) at a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, Resource

LEDGER = "ops.batch_ledger"
CYCLE_LENGTH = {"daily": relativedelta(days=1), "weekly": relativedelta(weeks=1),
                "monthly": relativedelta(months=1), "yearly": relativedelta(years=1)}
SHORTEST_FIRST = list(CYCLE_LENGTH)
ON_TIME, LATE, NEVER = "on time", "late", "never delivered"


@dataclass(frozen=True)
class Freshness:
    resource: str           # department.resource
    name: str               # the resource's name people read
    cycle: str              # its most frequent update cycle
    last_extracted_at: datetime | None
    due_at: datetime | None
    state: str              # on time | late | never delivered


def routine_cycle(resource: Resource) -> str:
    """The most frequent cycle any of the resource's modes is delivered on."""
    return min(resource.cycle.values(), key=SHORTEST_FIRST.index)


def latest_extracts(spark: SparkSession) -> dict[str, datetime]:
    """department.resource -> its latest landed extraction time (the lake's time zone, naive)."""
    if not lake.table_exists(spark, LEDGER):
        return {}
    latest = (lake.read_table(spark, LEDGER).where(F.col("status") == "landed")
              .groupBy("department", "resource").agg(F.max("extracted_at").alias("last")).collect())
    return {f"{row.department}.{row.resource}": row.last for row in latest}


def freshness(catalog: Catalog, latest: dict[str, datetime], at: datetime, grace: timedelta) -> list[Freshness]:
    """Each catalog resource's freshness at `at` (naive, the lake's time zone)."""
    report = []
    for resource in catalog:
        cycle, last = routine_cycle(resource), latest.get(resource.qualified_code)
        due = last + CYCLE_LENGTH[cycle] if last else None
        state = NEVER if last is None else LATE if at > due + grace else ON_TIME
        report.append(Freshness(resource.qualified_code, resource.name, cycle, last, due, state))
    return report
