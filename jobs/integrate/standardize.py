"""A raw batch as typed, standardized records: each catalog column under its target name, typed
as the catalog says, with the standard's verdict on every delivered value.

The output keeps the raw origin columns and adds, per catalog column (the operation column
included, so that an unknown operation is caught like any invalid value), `_std.<target>`: the
standard's `struct<value, error, repaired>`; the quality rules read the errors from there.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake.catalog import Column as CatalogColumn
from citylake.catalog import Divisions, Resource
from jobs.integrate.standards import standardize

STANDARDIZED = "_std"


def data_columns(resource: Resource) -> list[CatalogColumn]:
    """The catalog columns that become integrated columns: all but the operation column, which
    becomes the change's `_op`."""
    return [column for column in resource.columns if column.source != resource.operation_column]


def key_targets(resource: Resource) -> list[str]:
    return [resource.column(source).target for source in resource.key]


def change_time_target(resource: Resource) -> str | None:
    return resource.column(resource.change_time_column).target if resource.change_time_column else None


def delivered_text(raw: DataFrame, source: str) -> Column:
    """The delivered value of a column; a column never delivered (an optional one) is NULL."""
    return F.col(f"`{source}`") if source in raw.columns else F.lit(None).cast("string")


def standardized(raw: DataFrame, resource: Resource, divisions: Divisions | None = None) -> DataFrame:
    """Raw rows with `_std`: per target, the standard's result for the delivered value."""
    results = [
        standardize(column.element, delivered_text(raw, column.source), divisions=divisions,
                    value_type=column.type).alias(column.target)
        for column in resource.columns
    ]
    return raw.withColumn(STANDARDIZED, F.struct(*results))


def typed_value(column: CatalogColumn) -> Column:
    """A column's standard value, typed as the catalog declares."""
    return F.col(f"{STANDARDIZED}.{column.target}.value").cast(column.type).alias(column.target)


def standard_error(column: CatalogColumn) -> Column:
    return F.col(f"{STANDARDIZED}.{column.target}.error")


def operation(resource: Resource) -> Column:
    """The row's standardized change operation I/U/D; NULL for a full extract's rows."""
    if resource.operation_column is None:
        return F.lit(None).cast("string")
    return F.col(f"{STANDARDIZED}.{resource.column(resource.operation_column).target}.value")
