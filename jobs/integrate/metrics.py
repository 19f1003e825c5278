"""`lake.ops.quality_metrics`: per batch and rule, how many rows were checked and how many failed;
`lake.ops.quality_score`: from those, a 0-100 quality score per resource and per department by
day (the day a batch was extracted), for sharing-performance assessment (共享绩效考核).

A score is the mean, over the rule kinds a resource is measured on, of the kind's pass rate
(rows passing / rows checked, over all its checks); a department's score weighs its resources'
scores by their rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.ops_tables import QUALITY_METRICS as METRICS_TABLE, QUALITY_SCORE as SCORE_TABLE
from jobs.integrate.quality import RuleCheck

QUALITY_METRICS, METRICS_SCHEMA, QUALITY_SCORE = METRICS_TABLE.name, METRICS_TABLE.schema, SCORE_TABLE.name
KINDS = ("completeness", "validity", "uniqueness", "referential", "timeliness")


@dataclass(frozen=True)
class BatchMeasure:
    """What one batch was measured on: its rows, and the rows failing each check (by check id)."""

    batch_id: str
    sequence: int
    extracted_at: datetime
    rows: int
    failed: dict[str, int]


def metric_rows(department: str, resource: str, checks: Sequence[RuleCheck], measures: Sequence[BatchMeasure],
                at: datetime) -> list[tuple]:
    """One row per batch and check, failures or not, so a clean batch shows as clean."""
    rows = []
    for measure in measures:
        for check in checks:
            checked = 1 if check.kind == "timeliness" else measure.rows
            failed = measure.failed.get(check.check, 0)
            rate = 1.0 - failed / checked if checked else 1.0
            rows.append((department, resource, measure.batch_id, measure.sequence, measure.extracted_at, check.check,
                         check.kind, check.column, check.action, checked, failed, rate, at))
    return rows


def record(spark: SparkSession, department: str, resource: str, rows: list[tuple]) -> None:
    """Write the batches' metrics, replacing what an interrupted run wrote for the same batches."""
    if not rows:
        return
    frame = METRICS_TABLE.frame(spark, rows)
    if lake.table_exists(spark, QUALITY_METRICS):
        METRICS_TABLE.delete_batches(spark, department, resource, sorted({row[2] for row in rows}))
    METRICS_TABLE.write(spark, frame)


def scores(metrics: DataFrame) -> DataFrame:
    """Quality score per resource and per department by extraction day, with each kind's pass rate."""
    day = F.to_date("extracted_at").alias("day")
    by_kind = (metrics.groupBy("department", "resource", day, "kind")
               .agg(F.sum("rows_checked").alias("checked"), F.sum("rows_failed").alias("failed")))
    rates = by_kind.withColumn("rate", F.when(F.col("checked") > 0, 1 - F.col("failed") / F.col("checked")))
    rows = (metrics.where(F.col("kind") == "timeliness").groupBy("department", "resource", day)
            .agg(F.countDistinct("batch_id").alias("batches")))
    volumes = (metrics.where(F.col("check") == "uniqueness").groupBy("department", "resource", day)
               .agg(F.sum("rows_checked").alias("rows")))
    resource_scores = (rates.groupBy("department", "resource", "day")
                       .pivot("kind", list(KINDS)).agg(F.first("rate"))
                       .join(rows, ["department", "resource", "day"], "left")
                       .join(volumes, ["department", "resource", "day"], "left")
                       .withColumn("score", 100 * _mean_of_present([F.col(kind) for kind in KINDS])))
    department_scores = (resource_scores.groupBy("department", "day")
                         .agg(F.sum("batches").alias("batches"), F.sum("rows").alias("rows"),
                              *[_weighted(kind).alias(kind) for kind in (*KINDS, "score")]))
    return (resource_scores.withColumn("level", F.lit("resource"))
            .unionByName(department_scores.withColumn("level", F.lit("department"))
                         .withColumn("resource", F.lit(None).cast("string")))
            .select("level", "department", "resource", "day", "batches", "rows", *KINDS, "score"))


def _mean_of_present(columns: list) -> F.Column:
    present = sum(F.when(column.isNotNull(), 1).otherwise(0) for column in columns)
    total = sum(F.coalesce(column, F.lit(0.0)) for column in columns)
    return total / present


def _weighted(column: str) -> F.Column:
    weight = F.coalesce(F.col("rows"), F.lit(0)) + 1
    return F.sum(F.col(column) * weight) / F.sum(F.when(F.col(column).isNotNull(), weight))


def refresh_scores(spark: SparkSession) -> None:
    """Rebuild `ops.quality_score` from all metrics (small: one row per batch and rule), unless it
    was built from the metrics as they are: each build's commit records the metrics version it
    read, so a run that measured nothing new commits nothing, and one that died before this step
    is caught up by the next."""
    if not lake.table_exists(spark, QUALITY_METRICS):
        return
    fingerprint = lake.inputs_fingerprint(spark, [QUALITY_METRICS])
    if lake.recorded_fingerprint(spark, QUALITY_SCORE) == fingerprint:
        return
    SCORE_TABLE.write(spark, scores(lake.read_table(spark, QUALITY_METRICS)), made_from=fingerprint)
