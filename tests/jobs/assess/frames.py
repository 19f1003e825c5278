"""Frames whose timestamps are the city's times, as the lake's are."""

from datetime import datetime

from pyspark.sql import functions as F
from pyspark.sql import types as T


def city_frame(spark, rows, schema):
    """A frame of these rows (tuples, or dicts by column) in `schema` (a DDL string or StructType),
    each timestamp read as the city's time: a naive Python datetime would be read in the test
    process's zone."""
    schema = schema if isinstance(schema, T.StructType) else T._parse_datatype_string(schema)
    texts = T.StructType([T.StructField(field.name, T.StringType() if field.dataType == T.TimestampType()
                                        else field.dataType) for field in schema.fields])
    tuples = [tuple(row.get(name) for name in schema.names) if isinstance(row, dict) else row for row in rows]
    as_text = [tuple(value.isoformat(sep=" ") if isinstance(value, datetime) else value for value in row)
               for row in tuples]
    frame = spark.createDataFrame(as_text, texts)
    return frame.select(*[F.to_timestamp(field.name).alias(field.name) if field.dataType == T.TimestampType()
                          else F.col(field.name) for field in schema.fields])
