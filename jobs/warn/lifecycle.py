"""The early warnings' lifecycle (预警处置): `lake.app.warning` holds one row per warning (a rule
and its subject, `warning_id` = `<rule>:<subject>`), `lake.app.warning_history` every change of
a warning's state, with who and why.

The first evaluation that finds a rule's condition on a subject opens a warning (`new`); a person
acknowledges it (`acknowledged`: someone is on it) and closes it (`closed`). Each later
evaluation of the rule
- finds it again: the warning keeps its status and takes the newest evidence, severity, names
  and `last_seen` (a change of severity is a history row of its own);
- does not find it: an open warning is closed by `citylake warn` ("condition cleared");
- finds a warning again that was closed after its condition cleared: it reopens as `new`
  ("condition recurred", `reopen_count` + 1). A warning a person closed while its condition held
  stays closed as long as the condition lasts; once a run has found the condition cleared
  (`condition_active` false), its return reopens the warning.
A rule that was not evaluated (its inputs missing) leaves its warnings as they are. An
evaluation that changes nothing commits nothing to either table.

`first_seen` and `last_seen` are business time: the lake's as-of that the rule looked at.
`opened_at`, `acknowledged_at`, `closed_at` and the history's `changed_at` are wall-clock time.
"""

from __future__ import annotations

import difflib
from functools import reduce
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from citylake.delta_files import NotArrowReadable, read_arrow

WARNINGS = "app.warning"
HISTORY = "app.warning_history"
RUN_BY = "citylake warn"
NEW, ACKNOWLEDGED, CLOSED = "new", "acknowledged", "closed"
OPEN = (NEW, ACKNOWLEDGED)
STATUSES = (NEW, ACKNOWLEDGED, CLOSED)
SEVERITIES = ("low", "medium", "high")
SUBJECT_TYPES = ("enterprise", "street", "housing_unit", "resource", "person")
CONDITION_MET, CONDITION_CLEARED, CONDITION_RECURRED = "condition met", "condition cleared", "condition recurred"

# What one evaluation did to a warning (the `change` of `lifecycle_changes`).
OPENED, REOPENED, SEVERITY_CHANGED, UPDATED = "opened", "reopened", "severity_changed", "updated"
AUTO_CLOSED, CLEARED, UNCHANGED = "auto_closed", "cleared", "unchanged"
CHANGES = (OPENED, REOPENED, SEVERITY_CHANGED, UPDATED, AUTO_CLOSED, CLEARED, UNCHANGED)
# changes that are a new revision of the warning's state, each a history row
REVISIONS = (OPENED, REOPENED, SEVERITY_CHANGED, AUTO_CLOSED, CLEARED)

EVIDENCE = T.MapType(T.StringType(), T.StringType())

# The findings an evaluation hands over: one row per (rule, subject) whose condition holds.
FINDING = T.StructType([
    T.StructField("rule", T.StringType()),
    T.StructField("rule_name", T.StringType()),
    T.StructField("subject_type", T.StringType()),
    T.StructField("subject", T.StringType()),
    T.StructField("subject_name", T.StringType()),
    T.StructField("district_code", T.StringType()),
    T.StructField("district_name", T.StringType()),
    T.StructField("severity", T.StringType()),
    T.StructField("evidence", EVIDENCE),
    T.StructField("observed_at", T.TimestampType()),
])

# A warning's latest change of state: the history row its revision is, kept in the warning row
# so that the history can always be completed from the warning table (see `record_history`).
LAST_CHANGE = T.StructType([
    T.StructField("from_status", T.StringType()),
    T.StructField("changed_at", T.TimestampType()),
    T.StructField("changed_by", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("observed_at", T.TimestampType()),
])

SCHEMA = T.StructType([
    T.StructField("warning_id", T.StringType()),
    *[column for column in FINDING if column.name != "observed_at"],
    T.StructField("status", T.StringType()),
    T.StructField("condition_active", T.BooleanType()),  # whether the latest evaluation found it
    T.StructField("first_seen", T.TimestampType()),
    T.StructField("last_seen", T.TimestampType()),
    T.StructField("opened_at", T.TimestampType()),        # opened, or reopened
    T.StructField("acknowledged_by", T.StringType()),
    T.StructField("acknowledged_at", T.TimestampType()),
    T.StructField("ack_reason", T.StringType()),
    T.StructField("closed_by", T.StringType()),
    T.StructField("closed_at", T.TimestampType()),
    T.StructField("close_reason", T.StringType()),
    T.StructField("reopen_count", T.IntegerType()),
    T.StructField("revision", T.IntegerType()),           # changes of state so far: 1 when opened
    T.StructField("last_change", LAST_CHANGE),
])

# A changed warning row as a write takes it: with the revision it was computed from (none for a
# new warning), so that a warning someone else changed meanwhile is not overwritten.
CHANGED = T.StructType([*SCHEMA, T.StructField("base_revision", T.IntegerType())])

HISTORY_SCHEMA = T.StructType([
    T.StructField("warning_id", T.StringType()),
    T.StructField("revision", T.IntegerType()),
    T.StructField("rule", T.StringType()),
    T.StructField("subject", T.StringType()),
    T.StructField("district_code", T.StringType()),
    T.StructField("from_status", T.StringType()),
    T.StructField("to_status", T.StringType()),
    T.StructField("changed_at", T.TimestampType()),
    T.StructField("changed_by", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("severity", T.StringType()),
    T.StructField("evidence", EVIDENCE),
    T.StructField("observed_at", T.TimestampType()),
])


class WarningError(ValueError):
    """A lifecycle request that cannot be carried out, with a message for the person asking."""


class NoWarnings(WarningError):
    """The warning table does not exist yet."""

    def __init__(self) -> None:
        super().__init__("no warnings yet: run citylake warn")


@dataclass(frozen=True)
class LifecycleChanges:
    """What one evaluation did: warnings per kind of change, and the ids of those it changed."""

    opened: int = 0
    reopened: int = 0
    severity_changed: int = 0
    updated: int = 0        # found again with newer evidence, last_seen or names
    auto_closed: int = 0
    cleared: int = 0        # closed by a person while it held; now found cleared (so it can reopen)
    unchanged: int = 0
    ids: dict[str, list[str]] = field(default_factory=dict)  # change -> warning ids (not for unchanged)

    @property
    def changed(self) -> int:
        return self.opened + self.reopened + self.severity_changed + self.updated + self.auto_closed + self.cleared


# --------------------------------------------------------------------------- evaluations


def apply_findings(spark: SparkSession, findings: DataFrame, evaluated_rules: Iterable[str], *,
                   run_by: str = RUN_BY, as_of: datetime | None = None) -> LifecycleChanges:
    """Merge one evaluation's findings (`FINDING` columns, one row per rule and subject) into
    `app.warning`, recording every change of state in `app.warning_history`; the warnings of rules
    not in `evaluated_rules` stay as they are. `as_of`: the business time of the evaluation, for
    the history of warnings it closes (default: the latest `observed_at` of the findings)."""
    evaluated = sorted(set(evaluated_rules))
    checked, latest = checked_findings(findings, evaluated)
    ensure_tables(spark)
    record_history(spark)  # the history row of a revision an interrupted run committed without it
    classified = lifecycle_changes(lake.read_table(spark, WARNINGS), checked, evaluated, at=_now(), by=run_by,
                                   as_of=as_of or latest).localCheckpoint()
    changes = summary(classified)
    if changes.changed:
        change = F.col("change")
        revised = changes.changed - changes.updated
        write_changes(spark, classified.where(change != UNCHANGED).drop("change"), changes.changed,
                      classified.where(change.isin(*REVISIONS)).drop("change") if revised else None)
    return changes


def checked_findings(findings: DataFrame, evaluated_rules: list[str]) -> tuple[DataFrame, datetime | None]:
    """The findings with the contract's columns and types, and their latest `observed_at`; a
    WarningError names what breaks the contract."""
    missing = [column.name for column in FINDING if column.name not in findings.columns]
    if missing:
        raise WarningError(f"the findings lack the columns {', '.join(missing)}")
    if not isinstance(findings.schema["evidence"].dataType, T.MapType):
        raise WarningError(f"the findings' evidence is {findings.schema['evidence'].dataType.simpleString()}, "
                           f"not a map<string,string> of the numbers that triggered them")
    typed = findings.select([F.col(column.name).cast(column.dataType).alias(column.name) for column in FINDING])
    required = ("rule", "subject", "subject_type", "severity", "observed_at")
    stats = typed.agg(
        F.count("*").alias("rows"),
        F.count_distinct("rule", "subject").alias("warnings"),
        F.count_if(_any(F.col(c).isNull() for c in required)).alias("incomplete"),
        F.collect_set("rule").alias("rules"),
        F.collect_set(F.when(~F.col("severity").isin(*SEVERITIES), F.col("severity"))).alias("severities"),
        F.collect_set(F.when(~F.col("subject_type").isin(*SUBJECT_TYPES), F.col("subject_type"))).alias("types"),
        F.max("observed_at").alias("latest"),
    ).first()
    problems = []
    if stats.incomplete:
        problems.append(f"{stats.incomplete} without {', '.join(required[:-1])} or {required[-1]}")
    if unevaluated := sorted(set(stats.rules) - set(evaluated_rules)):
        problems.append(f"findings of rules not listed as evaluated: {', '.join(unevaluated)}")
    if stats.severities:
        problems.append(f"severities {', '.join(sorted(stats.severities))} (not one of {', '.join(SEVERITIES)})")
    if stats.types:
        problems.append(f"subject types {', '.join(sorted(stats.types))} (not one of {', '.join(SUBJECT_TYPES)})")
    if stats.rows - stats.incomplete > stats.warnings:
        repeated = (typed.groupBy("rule", "subject").count().where("count > 1").limit(3)
                    .select(F.concat_ws(":", "rule", "subject")).collect())
        problems.append(f"more than one finding for {', '.join(row[0] for row in repeated)}")
    if problems:
        raise WarningError("bad findings: " + "; ".join(problems))
    return typed, stats.latest


def lifecycle_changes(warnings: DataFrame, findings: DataFrame, evaluated_rules: Iterable[str], *,
                      at: datetime, by: str, as_of: datetime | None) -> DataFrame:
    """Every warning of the evaluated rules and every finding, as the warning row this evaluation
    makes of it (`CHANGED`), with its `change` (one of `CHANGES`); `at`: the wall-clock time of
    the evaluation, `by`: who runs it, `as_of`: its business time."""
    w = warnings.where(F.col("rule").isin(*evaluated_rules)).select(F.struct(*warnings.columns).alias("w"))
    f = findings.select(F.struct(F.concat_ws(":", "rule", "subject").alias("warning_id"), *findings.columns).alias("f"))
    joined = w.join(f, F.col("w.warning_id") == F.col("f.warning_id"), "full_outer")
    known, found = F.col("w").isNotNull(), F.col("f").isNotNull()
    status, active = F.col("w.status"), F.col("w.condition_active")
    # maps cannot be compared in Spark: their entries, sorted, can
    news_differ = _any([~F.col("w.last_seen").eqNullSafe(F.col("f.observed_at")),
                        ~F.array_sort(F.map_entries("w.evidence")).eqNullSafe(
                            F.array_sort(F.map_entries("f.evidence"))),
                        *[~F.col(f"w.{c}").eqNullSafe(F.col(f"f.{c}")) for c in
                          ("rule_name", "subject_type", "subject_name", "district_code", "district_name", "severity")]])
    change = (F.when(~known, OPENED)
              .when(found & (status == CLOSED) & ~active, REOPENED)
              .when(found & status.isin(*OPEN) & ~F.col("w.severity").eqNullSafe(F.col("f.severity")),
                    SEVERITY_CHANGED)
              .when(found & news_differ, UPDATED)
              .when(~found & status.isin(*OPEN), AUTO_CLOSED)
              .when(~found & (status == CLOSED) & active, CLEARED)
              .otherwise(UNCHANGED))
    return joined.withColumn("change", change).select(
        *[_next_value(column.name, at, by, as_of).cast(column.dataType).alias(column.name) for column in SCHEMA],
        F.col("w.revision").alias("base_revision"), "change")


def _any(conditions: Iterable[Column]) -> Column:
    return reduce(Column.__or__, conditions)


def _next_value(name: str, at: datetime, by: str, as_of: datetime | None) -> Column:
    """A warning column's value after the evaluation, from the warning (`w`), the finding (`f`)
    and the `change`."""
    change, found = F.col("change"), F.col("f").isNotNull()
    was = F.col(f"w.{name}")
    none = F.lit(None)
    now = F.lit(at).cast("timestamp")
    if name == "warning_id":
        return F.coalesce(F.col("f.warning_id"), was)
    if name in FINDING.names:
        return F.when(found, F.col(f"f.{name}")).otherwise(was)
    if name == "status":
        return F.when(change.isin(OPENED, REOPENED), NEW).when(change == AUTO_CLOSED, CLOSED).otherwise(was)
    if name == "condition_active":
        return found
    if name == "first_seen":
        return F.coalesce(was, F.col("f.observed_at"))
    if name == "last_seen":
        return F.when(found, F.col("f.observed_at")).otherwise(was)
    if name == "opened_at":
        return F.when(change.isin(OPENED, REOPENED), now).otherwise(was)
    if name in ("acknowledged_by", "acknowledged_at", "ack_reason"):
        return F.when(change == REOPENED, none).otherwise(was)
    if name in ("closed_by", "closed_at", "close_reason"):
        closing = {"closed_by": F.lit(by), "closed_at": now, "close_reason": F.lit(CONDITION_CLEARED)}[name]
        return F.when(change == AUTO_CLOSED, closing).when(change == REOPENED, none).otherwise(was)
    if name == "reopen_count":
        return F.when(change == OPENED, 0).when(change == REOPENED, was + 1).otherwise(was)
    if name == "revision":
        return F.when(change == OPENED, 1).when(change.isin(*REVISIONS), was + 1).otherwise(was)
    if name == "last_change":
        reason = (F.when(change == OPENED, CONDITION_MET).when(change == REOPENED, CONDITION_RECURRED)
                  .when(change == SEVERITY_CHANGED,
                        F.concat(F.lit("severity "), F.col("w.severity"), F.lit(" -> "), F.col("f.severity")))
                  .otherwise(CONDITION_CLEARED))
        observed = F.coalesce(F.col("f.observed_at"), F.lit(as_of).cast("timestamp"))
        return F.when(change.isin(*REVISIONS), F.struct(
            F.col("w.status").alias("from_status"), now.alias("changed_at"), F.lit(by).alias("changed_by"),
            reason.alias("reason"), observed.alias("observed_at"))).otherwise(was)
    raise ValueError(f"no rule for the warning column {name}")


def summary(classified: DataFrame) -> LifecycleChanges:
    """Counts per change, and the ids of the warnings changed, of `lifecycle_changes`' rows."""
    rows = classified.groupBy("change").agg(
        F.count("*").alias("warnings"),
        F.sort_array(F.collect_list(F.when(F.col("change") != UNCHANGED, F.col("warning_id")))).alias("ids"),
    ).collect()
    return LifecycleChanges(**{row.change: row.warnings for row in rows},
                            ids={row.change: list(row.ids) for row in rows if row.change != UNCHANGED})


# --------------------------------------------------------------------------- writing
#
# Two tables cannot change in one Delta commit. The warning table is the truth and each row
# carries its latest change of state (`revision`, `last_change`); a history row is that change
# copied out, keyed by (warning_id, revision). So a write commits the warnings first and their
# history rows second. A process that dies between the two commits leaves a revision without its
# history row; every write (an evaluation, ack, close) first copies what is missing
# (`record_history`), before it changes any warning, so no revision is overwritten before the
# history holds it, and the copy is the row the interrupted run would have written (same time,
# same who and why). Writing the history first would instead leave rows of changes that never
# happened when the warning's commit is the one lost.


def ensure_tables(spark: SparkSession) -> None:
    # The warning table is small and its MERGEs rewrite its files rather than mark rows deleted
    # with deletion vectors, so that Arrow can read it on its own (`history_complete`).
    lake.create_table_if_missing(spark, WARNINGS, SCHEMA, {"delta.enableDeletionVectors": "false"})
    lake.create_table_if_missing(spark, HISTORY, HISTORY_SCHEMA)
    for name in (WARNINGS, HISTORY):
        lake.publish(name)


def write_changes(spark: SparkSession, changed: DataFrame, expected: int, revisions: DataFrame | None) -> None:
    """Commit `expected` changed warning rows (`CHANGED`), new or replacing the revision of the
    warning they were computed from, then the history rows of those among them (`revisions`)
    whose state changed; a WarningError when some warning changed meanwhile."""
    # Only the revision a change was computed from is replaced: a person closing a warning while
    # an evaluation runs is not overwritten by it (Delta's conflict check covers the rest: two
    # writers inserting the same new warning, or committing at the same moment).
    metrics = (lake.delta_table(spark, WARNINGS).alias("w")
               .merge(changed.alias("c"), "w.warning_id = c.warning_id")
               .whenMatchedUpdate("w.revision = c.base_revision", {name: f"c.{name}" for name in SCHEMA.names})
               .whenNotMatchedInsert("c.base_revision IS NULL", {name: f"c.{name}" for name in SCHEMA.names})
               .execute().first())
    lake.publish(WARNINGS)
    if metrics.num_updated_rows + metrics.num_inserted_rows < expected:
        record_history(spark)  # of the changes that were made
        raise WarningError(f"{expected - metrics.num_updated_rows - metrics.num_inserted_rows} of {expected} "
                           f"warnings changed while this ran (acknowledged or closed meanwhile?): run it again")
    if revisions is not None:
        append_history(history_rows(revisions))


def append_history(rows: DataFrame) -> None:
    lake.write_table(rows, HISTORY)


def history_rows(warnings: DataFrame) -> DataFrame:
    """The history row (`HISTORY_SCHEMA`) of each warning's latest revision."""
    return warnings.where(F.col("revision") > 0).select(
        "warning_id", "revision", "rule", "subject", "district_code", F.col("last_change.from_status"),
        F.col("status").alias("to_status"), F.col("last_change.changed_at"), F.col("last_change.changed_by"),
        F.col("last_change.reason"), "severity", "evidence", F.col("last_change.observed_at"))


def record_history(spark: SparkSession) -> int:
    """Copy into the history every warning revision it lacks (left by a write interrupted between
    its two commits); how many rows that was."""
    if history_complete(spark):
        return 0
    recorded = lake.read_table(spark, HISTORY).select("warning_id", "revision")
    missing = history_rows(lake.read_table(spark, WARNINGS)).join(recorded, ["warning_id", "revision"], "left_anti")
    if missing.isEmpty():
        return 0
    count = missing.count()
    # insert-only on the key: a copy made at the same time by another process cannot add a row twice
    (lake.delta_table(spark, HISTORY).alias("h")
     .merge(missing.alias("m"), "h.warning_id = m.warning_id AND h.revision = m.revision")
     .whenNotMatchedInsertAll().execute())
    lake.publish(HISTORY)
    return count


def history_complete(spark: SparkSession) -> bool:
    """Whether the history holds every warning's latest revision, read by Arrow from the tables'
    files (no Spark job: this is asked before every write); False where Arrow cannot tell."""
    try:
        warnings, recorded = (read_arrow(spark, lake.table_uri(name), ["warning_id", "revision"])
                              for name in (WARNINGS, HISTORY))
    except NotArrowReadable:
        return False
    revised = warnings.filter(pc.greater(warnings["revision"], 0))
    return revised.join(recorded, ["warning_id", "revision"], join_type="left anti").num_rows == 0


# --------------------------------------------------------------------------- people's actions


def acknowledge(spark: SparkSession, warning_id: str, by: str, reason: str) -> dict:
    """Mark a new warning acknowledged by a person, with why; the warning row after it (a dict)."""
    return _transition(spark, warning_id, by, reason, ACKNOWLEDGED)


def close(spark: SparkSession, warning_id: str, by: str, reason: str) -> dict:
    """Close an open (new or acknowledged) warning by a person, with why; the warning row after it."""
    return _transition(spark, warning_id, by, reason, CLOSED)


def _transition(spark: SparkSession, warning_id: str, by: str, reason: str, to: str) -> dict:
    verb = "acknowledge" if to == ACKNOWLEDGED else "close"
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by:
        raise WarningError(f"say who you are to {verb} a warning (--by NAME)")
    if not reason:
        raise WarningError(f"say why you {verb} {warning_id} (--reason TEXT)")
    current = find_warning(spark, warning_id)
    if current["status"] == CLOSED:
        raise WarningError(f"{warning_id} is closed already (by {current['closed_by']} at "
                           f"{current['closed_at']:%Y-%m-%d %H:%M}: {current['close_reason']})")
    if current["status"] == to:
        raise WarningError(f"{warning_id} is acknowledged already (by {current['acknowledged_by']} at "
                           f"{current['acknowledged_at']:%Y-%m-%d %H:%M}: {current['ack_reason']}); "
                           f"close it when it is dealt with")
    at = _now()
    row = {**current, "status": to, "revision": current["revision"] + 1,
           "last_change": {"from_status": current["status"], "changed_at": at, "changed_by": by, "reason": reason,
                           "observed_at": current["last_seen"]}}
    if to == ACKNOWLEDGED:
        row.update(acknowledged_by=by, acknowledged_at=at, ack_reason=reason)
    else:
        row.update(closed_by=by, closed_at=at, close_reason=reason)
    record_history(spark)
    changed = spark.createDataFrame([{**row, "base_revision": current["revision"]}], CHANGED)
    write_changes(spark, changed, 1, changed)
    return row


def find_warning(spark: SparkSession, warning_id: str) -> dict:
    """The warning row with this id (a dict); a WarningError suggesting ids when there is none."""
    if not lake.table_exists(spark, WARNINGS):
        raise NoWarnings()
    warnings = lake.read_table(spark, WARNINGS)
    rows = warnings.where(F.col("warning_id") == warning_id).collect()
    if rows:
        return _in_city_time(rows[0].asDict(recursive=True), spark.conf.get("spark.sql.session.timeZone"))
    ids = [row.warning_id for row in warnings.select("warning_id").collect()]
    suggestions = (sorted(i for i in ids if i.startswith(warning_id) or warning_id in i)
                   or difflib.get_close_matches(warning_id, ids, n=3, cutoff=0.6)) if warning_id else []
    hint = (f"; did you mean {', '.join(suggestions[:5])}{' …' if len(suggestions) > 5 else ''}?" if suggestions
            else "; citylake warnings list shows them")
    raise WarningError(f"no warning {warning_id!r}{hint}")


# --------------------------------------------------------------------------- reading


def list_warnings(spark: SparkSession, status: str | None = None, rule: str | None = None,
                  district: str | None = None) -> pd.DataFrame:
    """The warnings, one row per warning: open ones first, then by severity (high first) and last
    seen; `status` one of `STATUSES` or 'open' (new or acknowledged), `district` a code or part of
    a district's name."""
    if not lake.table_exists(spark, WARNINGS):
        raise NoWarnings()
    rows = lake.read_table(spark, WARNINGS)
    if status == "open":
        rows = rows.where(F.col("status").isin(*OPEN))
    elif status:
        if status not in STATUSES:
            raise WarningError(f"status {status!r} is not one of {', '.join(STATUSES)} or open")
        rows = rows.where(F.col("status") == status)
    if rule:
        rows = rows.where(F.col("rule") == rule)
    if district:
        rows = rows.where((F.col("district_code") == district)
                          | F.lower("district_name").contains(district.strip().lower()))
    return rows.orderBy(F.array_position(F.array(*map(F.lit, STATUSES)), F.col("status")),
                        F.array_position(F.array(*map(F.lit, reversed(SEVERITIES))), F.col("severity")),
                        F.col("last_seen").desc(), "warning_id").toPandas()


def _in_city_time(value, zone: str):
    """Collected values with timestamps in the session's (the city's) time zone: PySpark gives
    them naive, in the Python process's local time."""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone))
    if isinstance(value, dict):
        return {key: _in_city_time(item, zone) for key, item in value.items()}
    return value


def _now() -> datetime:
    return datetime.now().astimezone()
