"""`lake.ops.table_usage`: how each consumer department used each table, per day, made from
`lake.ops.query_audit` (a pure DataFrame transform)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake.ops_tables import TABLE_USAGE
from jobs.audit.events import FAILED, REFUSED, SUCCEEDED

SCHEMA = TABLE_USAGE.schema


def table_usage(audit: DataFrame, owners: DataFrame) -> DataFrame:
    """One row per day, consumer department and table read (`SCHEMA`), from query_audit rows;
    `owners`: (table_name, owner_department)."""
    per_table = (audit.where(F.col("event") == "completed")
                 .select("query_id", "user_name", "department", "outcome", "created_at", "columns_read",
                         F.explode("tables_read").alias("table_name")))
    columns = F.filter("columns_read", lambda column: column.startswith(F.concat(F.col("table_name"), F.lit("."))))
    counted = per_table.groupBy(F.to_date("created_at").alias("day"), "department", "table_name").agg(
        F.count("*").alias("queries"),
        F.count(F.when(F.col("outcome") == SUCCEEDED, 1)).alias("succeeded"),
        F.count(F.when(F.col("outcome") == REFUSED, 1)).alias("refused"),
        F.count(F.when(F.col("outcome") == FAILED, 1)).alias("failed"),
        F.countDistinct("user_name").alias("users"),
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(
            F.transform(columns, lambda column: F.substring_index(column, ".", -1)))))).alias("columns_read"),
        F.min("created_at").alias("first_query_at"),
        F.max("created_at").alias("last_query_at"),
    )
    return (counted.join(owners, "table_name", "left")
            .withColumn("layer", F.split("table_name", r"\.").getItem(1))
            .select(*SCHEMA.names))


def owners_frame(spark: SparkSession, owners: dict[str, str]) -> DataFrame:
    """(table_name, owner_department) of a name -> owner mapping."""
    return spark.createDataFrame(sorted(owners.items()), "table_name string, owner_department string")
