"""Every `lake.ops` table, declared once: its name, its columns, how its writers write it and the
key a row is found by. Jobs write these tables through their declaration here; Trino, the
dashboards and the tests read the columns as they are, so a column changes here or nowhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import lake
from citylake.settings import Profile, lake_layout

# How a table is written: rows appended; a batch's rows replaced (deleted, then appended); rows
# merged by key; the whole table overwritten (it is made again from its inputs each time).
APPEND, REPLACE_BATCHES, MERGE, OVERWRITE = "append", "replace batches", "merge by key", "overwrite"

_TYPES = {"string": T.StringType(), "bigint": T.LongType(), "int": T.IntegerType(), "double": T.DoubleType(),
          "boolean": T.BooleanType(), "timestamp": T.TimestampType(), "date": T.DateType(),
          "array<string>": T.ArrayType(T.StringType()), "map<string,string>": T.MapType(T.StringType(), T.StringType())}


def columns(ddl: str) -> T.StructType:
    """A schema from `name type [not null], ...` (the few types the ops tables use; no Spark session
    needed, so a module can declare its table at import)."""
    fields = []
    for column in ddl.split(", "):
        name, kind, *rest = column.split()
        if rest not in ([], ["not", "null"]):
            raise ValueError(f"{column!r}: expected `name type` or `name type not null`")
        fields.append(T.StructField(name, _TYPES[kind], nullable=not rest))
    return T.StructType(fields)


@dataclass(frozen=True)
class OpsTable:
    """One `lake.ops` table: `schema` None where a transform makes its columns (the table is that
    transform's output); `arrow`: appended by Arrow where the warehouse is on the local disk."""

    name: str
    written: str
    schema: T.StructType | None = None
    keys: tuple[str, ...] = ()
    arrow: bool = False

    def frame(self, spark: SparkSession, rows: Sequence) -> DataFrame:
        """The rows (dicts or tuples in column order) as a DataFrame of the table's columns."""
        return spark.createDataFrame(list(rows), self.schema)

    def create_if_missing(self, spark: SparkSession, profile: Profile | None = None) -> None:
        """The table, empty, if it does not exist yet."""
        lake.create_table_if_missing(spark, self.name, self.schema, profile=profile)

    def write(self, spark: SparkSession, rows: Sequence | DataFrame, profile: Profile | None = None,
              made_from: str | None = None, replacing: str | None = None) -> None:
        """The rows (a DataFrame, or dicts or tuples) in one commit: the table overwritten with them
        if it is written whole, else appended (after `delete_batches` for a batch replaced).
        `replacing`: a table written whole has only the rows this SQL condition selects replaced."""
        if self.written == MERGE:
            raise ValueError(f"{self.name} is merged by {', '.join(self.keys)}, not appended or overwritten")
        if replacing is not None and self.written != OVERWRITE:
            raise ValueError(f"{self.name} is {self.written}, not written whole: no rows of it are replaced")
        if self.arrow and not isinstance(rows, DataFrame) and _append_by_arrow(spark, self, rows, profile):
            return
        frame = rows if isinstance(rows, DataFrame) else self.frame(spark, rows)
        lake.write_table(frame, self.name, "overwrite" if self.written == OVERWRITE else "append", profile,
                         made_from=made_from, options={"replaceWhere": replacing} if replacing else None)

    def delete_batches(self, spark: SparkSession, department: str, resource: str, batch_ids: Sequence[str],
                       only: Column | None = None) -> None:
        """Delete the rows of these batches of a resource (those of them `only` selects)."""
        same = ((F.col("department") == department) & (F.col("resource") == resource)
                & F.col("batch_id").isin(list(batch_ids)))
        lake.delta_table(spark, self.name).delete(same if only is None else same & only)


def _append_by_arrow(spark: SparkSession, table: OpsTable, rows: Sequence, profile: Profile | None) -> bool:
    """Append as one Delta commit of one Arrow-written file (a DataFrame write of a row would run
    Spark jobs for it); False where the warehouse is off the local disk (Arrow cannot write there)."""
    from citylake.delta_files import append_rows

    try:
        folder = lake.table_folder(table.name, profile)
    except ValueError:
        return False
    append_rows(spark, lake.table_uri(table.name, profile), folder, table.schema, list(rows),
                lake_layout().table_properties)
    lake.publish(table.name, profile)
    return True


def now() -> datetime:
    """The moment an ops row records, in local time with its zone."""
    return datetime.now().astimezone()


_BATCH = "department string, resource string, batch_id string, sequence bigint"  # a delivered batch

# landing: one row per package seen; status: landed | replay | rejected | held | released
BATCH_LEDGER = OpsTable("ops.batch_ledger", APPEND, arrow=True, schema=columns(
    f"{_BATCH}, mode string, extracted_at timestamp, status string, reason string, content_sha256 string, "
    "rows_read bigint, rows_landed bigint, rows_quarantined bigint, drift_columns array<string>, "
    "package_path string, started_at timestamp, finished_at timestamp, duration_s double"))

# rows set aside by landing (`row_text`: the row as delivered) and integration (`check`: the rule as
# measured, validity:GMSFHM, uniqueness...; `column_name` the department's column that broke it;
# `key` as delivered, parts joined by '|'; `row_values` by source name); `rule`: unparseable_row,
# missing_required, invalid_check_digit...; a rerun of a stage replaces what it wrote for a batch
QUARANTINE = OpsTable("ops.quarantine", REPLACE_BATCHES, keys=("department", "resource", "batch_id", "stage"),
                      schema=columns(
    f"{_BATCH}, file string, record bigint, rule string, reason string, row_text string, "
    "quarantined_at timestamp, stage string, check string, column_name string, delivered_value string, "
    "key string, row_values map<string,string>"))

# integration: one row per landed batch taken in; status: applied | rejected
INTEGRATION_LEDGER = OpsTable("ops.integration_ledger", APPEND, schema=columns(
    f"{_BATCH}, mode string, extracted_at timestamp, status string, reason string, run_id string, "
    "rows_in bigint, rows_quarantined bigint, rows_warned bigint, inserted bigint, updated bigint, "
    "deleted bigint, unchanged bigint, late bigint, started_at timestamp, finished_at timestamp, "
    "duration_s double"))

# integration: per batch and quality check, rows checked and failed; a rerun replaces its batches' rows
QUALITY_METRICS = OpsTable("ops.quality_metrics", REPLACE_BATCHES, keys=("department", "resource", "batch_id"),
                           schema=columns(
    f"{_BATCH}, extracted_at timestamp, check string, kind string, column_name string, action string, "
    "rows_checked bigint, rows_failed bigint, pass_rate double, measured_at timestamp"))

# integration: scores per resource and department by day, made from all quality metrics
QUALITY_SCORE = OpsTable("ops.quality_score", OVERWRITE)

# integration: one correction per quarantined row; `key_std` the standardized key where the delivered
# one is valid, `key_body` the delivered key without its check character; `opened_at`/`closed_at`
# when the quarantined/correcting batch was extracted; `age_days` days open, to `closed_at` or, while
# open, to `as_of` (when it was last rewritten)
CORRECTIONS = OpsTable("ops.corrections", MERGE, keys=("correction_id",), schema=columns(
    f"correction_id string, {_BATCH}, file string, record bigint, key string, key_std string, "
    "key_body string, rule string, reason string, row_values map<string,string>, row_text string, "
    "opened_at timestamp, status string, closed_at timestamp, closed_by_batch string, age_days int, "
    "as_of timestamp"))

# exchange: one row per package sent, its receipt filled in when the receiver answers
EXCHANGE_SEND = OpsTable("ops.exchange_send", APPEND, keys=("package_id",), schema=columns(
    "package_id string, kind string, target string, resource string, tables array<string>, rows bigint, "
    "files int, checksum string, path string, resend boolean, sent_at timestamp, status string, "
    "receipt string, receipt_at timestamp"))

# exchange: one row per receipt file read, recorded or refused with the reason
EXCHANGE_RECEIPT = OpsTable("ops.exchange_receipt", APPEND, keys=("sha256",), schema=columns(
    "receipt_file string, sha256 string, package_id string, outcome string, accepted boolean, rows bigint, "
    "message string, reason string, read_at timestamp"))

# the daily run: one row per step attempt as it starts and as it ends, one per run as it ends
JOB_RUN = OpsTable("ops.job_run", APPEND, schema=columns(
    "run_id string not null, run_date date not null, step string not null, attempt int not null, "
    "started_at timestamp not null, ended_at timestamp, rows_in bigint, rows_out bigint, "
    "outcome string not null, error string, detail string, host string not null, pid int not null, "
    "recorded_at timestamp not null"))

# the query audit: one row per query. event: the latest received (created | completed); outcome:
# succeeded | failed | refused | running; state: Trino's; department: the consumer department of user
# and groups; source: the client's name; tables_read catalog.schema.table, columns_read with the
# column; masked_columns read through a column mask, filtered_tables through a row filter;
# received_at: when the receiver spooled the event
QUERY_AUDIT = OpsTable("ops.query_audit", MERGE, keys=("query_id",), schema=columns(
    "query_id string not null, event string not null, outcome string not null, state string, "
    "user_name string, user_groups array<string>, department string, source string, client_address string, "
    "user_agent string, query_type string, statement string, created_at timestamp, ended_at timestamp, "
    "elapsed_ms bigint, cpu_ms bigint, tables_read array<string>, columns_read array<string>, "
    "masked_columns array<string>, filtered_tables array<string>, table_written string, input_rows bigint, "
    "output_rows bigint, written_rows bigint, error_code string, error_type string, failure_message string, "
    "received_at timestamp"))

# the query audit: per day (Asia/Shanghai), consumer department and table read (catalog.schema.table),
# with its owner department where known and the department's distinct users
TABLE_USAGE = OpsTable("ops.table_usage", OVERWRITE, schema=columns(
    "day date not null, department string not null, table_name string not null, layer string, "
    "owner_department string, queries bigint not null, succeeded bigint not null, refused bigint not null, "
    "failed bigint not null, users bigint not null, columns_read array<string>, first_query_at timestamp, "
    "last_query_at timestamp"))

# the catalog: one row per resource of conf/catalog, one per data item of each, one per lineage edge
CATALOG_RESOURCE = OpsTable("ops.catalog_resource", OVERWRITE, schema=columns(
    "department string, department_name string, department_name_en string, resource string, "
    "resource_name string, resource_name_en string, description string, format string, encoding string, "
    "modes array<string>, full_cycle string, incremental_cycle string, key array<string>, "
    "key_columns array<string>, operation_column string, change_time_column string, division_column string, "
    "street_column string, sharing string, sharing_name string, quarantine_limit double, delete_guard double, "
    "items int, raw_table string, integrated_table string, history_table string, conf_file string"))
CATALOG_ITEM = OpsTable("ops.catalog_item", OVERWRITE, schema=columns(
    "department string, resource string, position int, source_column string, target_column string, "
    "type string, required boolean, in_key boolean, role string, element string, element_label string, "
    "element_standard string, description string"))
LINEAGE = OpsTable("ops.lineage", OVERWRITE, schema=columns(
    "table_name string, layer string, source string, source_layer string, job string, kind string, detail string"))

# sharing requests: each request's current state (the table is written whole), and every change of it
SHARE_REQUEST = OpsTable("ops.share_request", OVERWRITE, keys=("request_id",), schema=columns(
    "request_id string, requested_by string, consumer string, consumer_name string, table_name string, "
    "columns array<string>, cleartext boolean, purpose string, until date, sharing string, owner string, "
    "status string, requested_at timestamp, reply_due date, answered_by string, answered_at timestamp, "
    "reason string, revision int"))
SHARE_REQUEST_HISTORY = OpsTable("ops.share_request_history", APPEND, keys=("request_id", "revision"),
                                 schema=columns(
    "request_id string, revision int, from_status string, to_status string, changed_at timestamp, "
    "changed_by string, reason string"))

# the sharing assessment: one row per month and catalog department (its columns: jobs.assess.job);
# written whole, or one month's rows replaced
SHARE_ASSESSMENT = OpsTable("ops.share_assessment", OVERWRITE, keys=("month", "department"))

OPS_TABLES = (BATCH_LEDGER, QUARANTINE, INTEGRATION_LEDGER, QUALITY_METRICS, QUALITY_SCORE, CORRECTIONS,
              EXCHANGE_SEND, EXCHANGE_RECEIPT, JOB_RUN, QUERY_AUDIT, TABLE_USAGE, CATALOG_RESOURCE, CATALOG_ITEM,
              LINEAGE, SHARE_REQUEST, SHARE_REQUEST_HISTORY, SHARE_ASSESSMENT)


UNPARSEABLE = "unparseable_row"  # the rule of a row landing could not parse
LANDING, INTEGRATION = "landing", "integration"  # the stages that quarantine rows


def replace_quarantined(spark: SparkSession, rows: DataFrame, department: str, resource: str,
                        batch_ids: list[str], stage: str) -> None:
    """Replace what `stage` quarantined for these batches with `rows` (columns of QUARANTINE)."""
    rows = rows.select(*[F.col(field.name).cast(field.dataType) for field in QUARANTINE.schema.fields])
    if not lake.table_exists(spark, QUARANTINE.name):
        QUARANTINE.create_if_missing(spark)
    else:
        _add_missing_quarantine_columns(spark)
        QUARANTINE.delete_batches(spark, department, resource, batch_ids,
                                  only=F.coalesce(F.col("stage"), F.lit(LANDING)) == stage)
    QUARANTINE.write(spark, rows)


def _add_missing_quarantine_columns(spark: SparkSession) -> None:
    """A quarantine table written before integration existed gains the integration's columns."""
    existing = set(lake.read_table(spark, QUARANTINE.name).columns)
    missing = [field for field in QUARANTINE.schema.fields if field.name not in existing]
    if missing:
        columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}" for field in missing)
        spark.sql(f"ALTER TABLE delta.`{lake.table_uri(QUARANTINE.name)}` ADD COLUMNS ({columns})")


def table(name: str) -> OpsTable:
    """The declaration of `ops.<table>`."""
    for declared in OPS_TABLES:
        if declared.name == name:
            return declared
    raise KeyError(f"{name} is not a declared ops table; they are {', '.join(t.name for t in OPS_TABLES)}")
