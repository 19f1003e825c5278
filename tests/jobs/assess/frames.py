"""Frames whose timestamps are the city's times, as the lake's are, and a lake of a test's own with a
few hand-written rows of the ops tables the assessment reads."""

import socket
from datetime import date, datetime

from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from jobs.assess.job import CORRECTIONS, LEDGER, QUALITY_SCORE, QUERY_AUDIT
from jobs.audit.events import SCHEMA as AUDIT_SCHEMA
from jobs.corrections.job import SCHEMA as CORRECTIONS_SCHEMA
from jobs.landing.ledger import LEDGER_SCHEMA


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def own_lake_profile(settings, root):
    """The test profile pointed at a warehouse under `root`, and at a port no Trino listens on."""
    paths = settings.paths.model_copy(update={"var": str(root / "var"), "warehouse": str(root / "warehouse")})
    trino = settings.trino.model_copy(update={"port": free_port()})
    return settings.model_copy(update={"paths": paths, "trino": trino})


def landed(department, resource, day, hour=1, status="landed"):
    at = datetime(2026, *day, hour)
    return {"department": department, "resource": resource, "batch_id": f"{resource}-{day}", "sequence": 1,
            "mode": "incremental", "extracted_at": at, "status": status, "rows_read": 1, "rows_landed": 1,
            "rows_quarantined": 0, "drift_columns": [], "package_path": "p", "started_at": at, "finished_at": at,
            "duration_s": 0.0}


def query(query_id, department, day, tables, outcome="succeeded"):
    at = datetime(2026, *day, 10)
    return {"query_id": query_id, "event": "completed", "outcome": outcome, "department": department,
            "created_at": at, "tables_read": [f"lake.{table}" for table in tables]}


def write_ops_rows(spark, own_lake):
    """Write the ops tables the assessment reads into the profile's lake; the frames by table.
    March 30th to April 1st: psb delivers household registrations daily, amr registers once,
    tax's one batch is rejected; hrss reads the population library, psb its own resource."""
    ledger = [landed("psb", "household_registration", (3, 30)), landed("psb", "household_registration", (3, 31)),
              landed("psb", "household_registration", (4, 1)), landed("amr", "enterprise_registration", (3, 30)),
              landed("tax", "tax_payment", (3, 31), status="rejected")]
    quality = [("department", "psb", None, date(2026, 3, 30), 1, 9, 90.0),
               ("department", "psb", None, date(2026, 3, 31), 1, 29, 70.0),
               ("department", "amr", None, date(2026, 3, 30), 1, 4, 80.0)]
    corrections = [{"correction_id": "psb/1", "department": "psb", "resource": "household_registration",
                    "opened_at": datetime(2026, 3, 30, 1), "status": "closed", "closed_at": datetime(2026, 3, 31, 1)}]
    audit = [query("q1", "hrss", (3, 31), ["base.population"]),
             query("q2", "psb", (3, 31), ["integrated.psb_household_registration"]),
             query("q3", "hrss", (4, 1), ["raw.psb_household_registration"], outcome="refused")]
    tables = {LEDGER: city_frame(spark, ledger, LEDGER_SCHEMA),
              QUALITY_SCORE: city_frame(spark, quality, "level string, department string, resource string, "
                                                         "day date, batches long, rows long, score double"),
              CORRECTIONS: city_frame(spark, corrections, CORRECTIONS_SCHEMA),
              QUERY_AUDIT: city_frame(spark, audit, AUDIT_SCHEMA)}
    for name, frame in tables.items():
        lake.write_table(frame, name, "overwrite", own_lake)
    return tables
