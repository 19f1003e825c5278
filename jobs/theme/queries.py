"""Running a declared query (a theme table, a warning rule) over the lake tables it names."""

from __future__ import annotations

import re
from datetime import date, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.themes import Classify, SqlStep, view_name


def missing_sources(spark: SparkSession, step: SqlStep) -> list[str]:
    """The lake tables a query reads that the lake does not have yet."""
    return [source for source in step.sources if not lake.table_exists(spark, source)]


class UnknownParameter(ValueError):
    """A query names a parameter that is neither declared nor `:as_of`."""


# `:name` outside a quoted string, not part of `::` casts
_PARAMETER = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([a-z_][a-z0-9_]*)\b")


def sql_literal(value: object) -> str:
    """A parameter's value as a Spark SQL literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def bind(sql: str, params: dict[str, object]) -> str:
    """The query with every `:name` replaced by its value as a literal."""
    def literal(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in params:
            raise UnknownParameter(f":{name} is no parameter (declared: {', '.join(sorted(params))})")
        return sql_literal(params[name])

    return _PARAMETER.sub(literal, sql)


def run_query(spark: SparkSession, step: SqlStep, params: dict[str, object], as_of: datetime) -> DataFrame:
    """The query's result, its sources readable as `<layer>_<table>` views and the reference
    views registered (`jobs.theme.references.register_references`). Parameters are bound as
    literals here: Spark 4.2's `args=` left every named parameter unbound in this setup."""
    for source in step.sources:
        lake.read_table(spark, source).createOrReplaceTempView(view_name(source))
    return spark.sql(bind(step.sql, {**params, "as_of": as_of}))


def classified(frame: DataFrame, classify: Classify | None, flags: dict[str, str]) -> DataFrame:
    """The frame with its class column (the first rule that holds, else the default), the reasons
    (every rule that holds, in order) and its flags."""
    if classify is not None:
        cls: Column = F.lit(classify.default)
        for rule in reversed(classify.rules):
            cls = F.when(F.expr(rule.when), F.lit(rule.value)).otherwise(cls)
        reasons = F.filter(F.array(*[F.when(F.expr(rule.when), F.lit(rule.reason)) for rule in classify.rules]),
                           lambda reason: reason.isNotNull())
        frame = frame.withColumn(classify.column, cls).withColumn(classify.reasons, reasons)
    for name, expression in flags.items():
        frame = frame.withColumn(name, F.coalesce(F.expr(expression), F.lit(False)))
    return frame
