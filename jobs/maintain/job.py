"""`citylake maintain`: every lake table's deletion vectors purged, small files compacted and
Z-ordered on its lookup columns, files no recent version refers to vacuumed — through Delta's
public commands (REORG, OPTIMIZE, VACUUM), so it works on any storage Spark reaches. Nothing here
changes a row: time travel within the retention and every business history are kept."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.catalog import Catalog, load_catalog
from citylake.libraries import load_libraries
from citylake.maintenance import Maintenance, load_maintenance
from citylake.ops_tables import JOB_RUN
from citylake.settings import Profile, profile as active_profile
from citylake.themes import load_themes
from jobs.maintain.plan import TablePlan, TableState, plan_table, retention_hours, zorder_columns

log = logging.getLogger(__name__)
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@dataclass(frozen=True)
class TableDone:
    """What maintenance did to one table: its plan, files before and after, files vacuumed."""

    plan: TablePlan
    files_before: int
    files_after: int
    vacuumed_files: int
    seconds: float


@dataclass
class Maintained:
    tables: list[TableDone] = field(default_factory=list)
    retention_hours: float = 0.0

    @property
    def changed(self) -> list[TableDone]:
        return [done for done in self.tables if done.plan.anything]


def maintain(spark: SparkSession, only: list[str] | None = None, *, dry_run: bool = False,
             rules: Maintenance | None = None, profile: Profile | None = None,
             now: datetime | None = None) -> Maintained:
    """Maintain every lake table (or those named in `only`); with `dry_run`, only say what it would do."""
    profile = profile or active_profile()
    rules = rules or load_maintenance()
    now = now or datetime.now(timezone.utc)
    tables = lake.list_tables(spark, profile)
    unknown = sorted(set(only or []) - set(tables))
    if unknown:
        raise ValueError(f"not a table of the lake: {', '.join(unknown)}")
    keys = lookup_keys(load_catalog(), rules)
    result = Maintained(retention_hours=retention_hours(rules.vacuum.retain_hours, longest_step_seconds(spark, profile)))
    for name in only or tables:
        state = table_state(spark, name, keys, rules, profile)
        plan = plan_table(state, rules, now, timedelta(hours=result.retention_hours))
        if dry_run or not plan.anything:
            result.tables.append(TableDone(plan, state.files, state.files, 0, 0.0))
            continue
        result.tables.append(carry_out(spark, plan, state, result.retention_hours, profile))
    return result


def lookup_keys(catalog: Catalog, rules: Maintenance) -> dict[str, list[str]]:
    """Each table's lookup columns by its layer's rule (see conf/maintenance.yml), the declared
    exceptions last; a table missing here is compacted without Z-ordering."""
    from jobs.integrate.standardize import key_targets

    keys: dict[str, list[str]] = {}
    for resource in catalog.resources:
        keys[f"raw.{resource.table_name}"] = ["_batch_id"]
        keys[f"integrated.{resource.table_name}"] = keys[f"integrated.{resource.table_name}_history"] = \
            key_targets(resource)
    for library in load_libraries(catalog).libraries.values():
        keys[f"base.{library.name}"] = keys[f"base.{library.name}_history"] = [library.key]
    for name, table in load_themes().tables.items():
        keys[f"theme.{name}"] = list(table.keys)
    return keys | rules.zorder.tables


def table_state(spark: SparkSession, name: str, keys: dict[str, list[str]], rules: Maintenance,
                profile: Profile) -> TableState:
    """The table's files, size, operations since creation (newest first) and last vacuum."""
    table = lake.delta_table(spark, name, profile)
    detail = table.detail().select("numFiles", "sizeInBytes").first()
    history = table.history().select("operation", "timestamp").orderBy(F.col("version").desc()).collect()
    vacuums = [row["timestamp"] for row in history if row["operation"] == "VACUUM END"]
    columns = lake.read_table(spark, name, profile).columns
    return TableState(name, int(detail["numFiles"]), int(detail["sizeInBytes"]),
                      tuple(row["operation"] for row in history), _utc(history[-1]["timestamp"]),
                      _utc(vacuums[0]) if vacuums else None,
                      zorder_columns(keys.get(name, []), columns, rules.zorder.max_columns))


def carry_out(spark: SparkSession, plan: TablePlan, state: TableState, retention: float,
              profile: Profile) -> TableDone:
    started = time.monotonic()
    uri = lake.table_uri(plan.name, profile)
    table = lake.delta_table(spark, plan.name, profile)
    if plan.purge:
        spark.sql(f"REORG TABLE delta.`{uri}` APPLY (PURGE)").collect()
    if plan.compact:
        optimize = table.optimize()
        (optimize.executeZOrderBy(*plan.zorder) if plan.zorder else optimize.executeCompaction()).collect()
    vacuumed = vacuum(spark, plan.name, retention, profile) if plan.vacuum else 0
    files_after = int(table.detail().select("numFiles").first()[0])
    log.info("maintained %s: %s", plan.name, "; ".join(plan.reasons))
    return TableDone(plan, state.files, files_after, vacuumed, time.monotonic() - started)


def vacuum(spark: SparkSession, name: str, retention: float, profile: Profile) -> int:
    """Delete the table's files no version of the last `retention` hours refers to; how many."""
    table = lake.delta_table(spark, name, profile)
    # Delta refuses a retention under its own default unless told; the job has checked it against
    # the longest running step already (retention_hours)
    previous = spark.conf.get(RETENTION_CHECK, "true")
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        table.vacuum(retention)
    finally:
        spark.conf.set(RETENTION_CHECK, previous)
    ended = table.history(1).select("operation", "operationMetrics").first()
    if ended["operation"] != "VACUUM END":
        return 0
    return int((ended["operationMetrics"] or {}).get("numDeletedFiles", 0))


def longest_step_seconds(spark: SparkSession, profile: Profile) -> float:
    """The longest attempt of any daily-run step the run ledger has seen (0 with no ledger yet)."""
    if not lake.table_exists(spark, JOB_RUN.name, profile):
        return 0.0
    row = (lake.read_table(spark, JOB_RUN.name, profile).where(F.col("step") != "(run)")
           .select(F.max(F.unix_timestamp("ended_at") - F.unix_timestamp("started_at"))).first())
    return float(row[0] or 0)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
