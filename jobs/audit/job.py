"""`citylake audit load`: the spooled query events into `lake.ops.query_audit` (one row per query)
and `lake.ops.table_usage` (per day, consumer department and table).

Loading is idempotent: a query's row is inserted once and replaced only when its completed event
arrives after its created one, so events loaded before (a segment kept by a crash between the lake
commit and its retirement, an event Trino posted twice) change nothing. Segments are retired only
after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import SparkSession

from citylake import lake, ops_tables
from citylake.audit.settings import spool_dir
from citylake.audit.spool import Spool
from citylake.settings import Profile, profile as active_profile
from jobs.audit import events, usage
from jobs.audit.departments import department_resolver, sharing_policy, table_owners

log = logging.getLogger(__name__)

QUERY_AUDIT, TABLE_USAGE = ops_tables.QUERY_AUDIT.name, ops_tables.TABLE_USAGE.name


@dataclass(frozen=True)
class LoadResult:
    """What one load did."""

    segments: int         # spool segments read (and retired)
    events: int           # events in them
    broken_lines: int     # lines that were not whole events (cut by a crash; their events were re-sent)
    queries: int          # distinct queries among the events
    inserted: int         # new rows in query_audit
    completed: int        # rows of running queries whose completed event arrived
    usage_rows: int | None  # rows of table_usage when it was rebuilt, else None


def load(spark: SparkSession, profile: Profile | None = None,
         department_of: Callable[[str, list[str]], str] | None = None) -> LoadResult:
    """Move every spooled event into the lake, then retire the spool segments it read."""
    profile = profile or active_profile()
    spool = Spool(spool_dir(profile))
    segments = [Spool.read(path) for path in spool.seal()]
    policy = sharing_policy()
    resolve = department_of or department_resolver(policy)
    rows = events.latest_per_query(events.audit_row(record, resolve)
                                   for segment in segments for record in segment.records)
    ops_tables.QUERY_AUDIT.create_if_missing(spark, profile)
    inserted, completed = merge_queries(spark, rows, profile) if rows else (0, 0)
    usage_rows = None
    if inserted or completed or not lake.table_exists(spark, TABLE_USAGE, profile):
        usage_rows = write_usage(spark, profile, table_owners(policy, lake_catalog=profile.trino.catalog))
    lake.publish(QUERY_AUDIT, profile)
    spool.retire([segment.path for segment in segments])
    result = LoadResult(len(segments), sum(len(s.records) for s in segments),
                        sum(s.broken_lines for s in segments), len(rows), inserted, completed, usage_rows)
    log.info("audit load: %s", result)
    return result


def merge_queries(spark: SparkSession, rows: list[dict], profile: Profile) -> tuple[int, int]:
    """Insert queries not in query_audit, complete those recorded as running; (inserted, completed)."""
    frame = ops_tables.QUERY_AUDIT.frame(spark, rows)
    # The source is rows in memory, deterministic: Delta need not copy it first (one job less).
    with session_conf(spark, "spark.databricks.delta.merge.materializeSource", "none"):
        metrics = (lake.delta_table(spark, QUERY_AUDIT, profile).alias("a")
                   .merge(frame.alias("n"), "a.query_id = n.query_id")
                   .whenMatchedUpdateAll(f"a.event = '{events.CREATED}' AND n.event = '{events.COMPLETED}'")
                   .whenNotMatchedInsertAll()
                   .execute().first())
    return metrics.num_inserted_rows, metrics.num_updated_rows


@contextmanager
def session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """A Spark setting for the duration of one step, the session's own restored after."""
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def write_usage(spark: SparkSession, profile: Profile, owners: dict[str, str]) -> int:
    """Rebuild table_usage from query_audit, with each table's owner department; its rows."""
    owners = usage.owners_frame(spark, owners)
    ops_tables.TABLE_USAGE.write(spark, usage.table_usage(lake.read_table(spark, QUERY_AUDIT, profile), owners),
                                 profile)
    return lake.rows_written(spark, TABLE_USAGE, profile)
