"""Reading and writing lake tables by name (`raw.psb_household_registration`), and making each
write visible in Trino the moment it commits. Jobs use this; none of them builds a path."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from citylake.settings import Profile, lake_layout, profile as active_profile

log = logging.getLogger(__name__)


class UnknownLayer(ValueError):
    """A table name whose schema is not one of the lake's layers."""


def split_name(name: str) -> tuple[str, str]:
    """(schema, table) of `schema.table`, checking the schema is a layer of the lake."""
    schema, _, table = name.partition(".")
    if not table or "." in table:
        raise ValueError(f"{name!r} is not <layer>.<table>")
    layers = lake_layout().layers
    if schema not in layers:
        raise UnknownLayer(f"{schema!r} is not a lake layer; layers are {', '.join(layers)}")
    return schema, table


def table_uri(name: str, profile: Profile | None = None) -> str:
    """Where a table's Delta folder lives: `<warehouse>/<layer>/<table>`."""
    profile = profile or active_profile()
    schema, table = split_name(name)
    return f"{profile.uri('warehouse').rstrip('/')}/{schema}/{table}"


def table_folder(name: str, profile: Profile | None = None) -> Path:
    """A table's Delta folder on the local disk, for writers that put files there themselves
    (landing writes data files with Arrow). A warehouse elsewhere (s3a://) has no such folder."""
    uri = table_uri(name, profile)
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"{name} lives at {uri}: only a warehouse on the local disk has a table folder")
    return Path(unquote(parsed.path))


def table_exists(spark: SparkSession, name: str, profile: Profile | None = None) -> bool:
    return DeltaTable.isDeltaTable(spark, table_uri(name, profile))


def list_tables(spark: SparkSession, profile: Profile | None = None) -> list[str]:
    """Every lake table of every layer, by name, sorted: the folders of the warehouse's layers that
    hold a Delta log, listed through Hadoop's file system (any storage Spark reaches)."""
    profile = profile or active_profile()
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    names = []
    for layer in lake_layout().layers:
        folder = jvm.org.apache.hadoop.fs.Path(f"{profile.uri('warehouse').rstrip('/')}/{layer}")
        files = folder.getFileSystem(conf)
        if not files.exists(folder):
            continue
        for status in files.listStatus(folder):
            log_folder = jvm.org.apache.hadoop.fs.Path(status.getPath(), "_delta_log")
            if status.isDirectory() and files.exists(log_folder) and files.listStatus(log_folder):
                names.append(f"{layer}.{status.getPath().getName()}")
    return sorted(names)


def read_table(spark: SparkSession, name: str, profile: Profile | None = None) -> DataFrame:
    """The current version of a lake table."""
    return spark.read.format("delta").load(table_uri(name, profile))


def delta_table(spark: SparkSession, name: str, profile: Profile | None = None) -> DeltaTable:
    return DeltaTable.forPath(spark, table_uri(name, profile))


def create_table_if_missing(spark: SparkSession, name: str, schema: StructType,
                            properties: dict[str, str] | None = None, profile: Profile | None = None) -> None:
    """Create an empty table with this schema and properties (on top of the lake's defaults)."""
    extra = ", ".join(f"'{key}' = '{value}'" for key, value in (properties or {}).items())
    spark.sql(f"CREATE TABLE IF NOT EXISTS delta.`{table_uri(name, profile)}` ({schema.toDDL()}) USING delta"
              + (f" TBLPROPERTIES ({extra})" if extra else ""))


def write_table(
    df: DataFrame,
    name: str,
    mode: str = "append",
    profile: Profile | None = None,
    *,
    merge_schema: bool = False,
    partition_by: list[str] | None = None,
    options: dict[str, str] | None = None,
    made_from: str | None = None,
) -> None:
    """Write a DataFrame as one Delta commit (all rows visible together, or none), then publish it;
    `made_from`: the inputs fingerprint the commit records (`inputs_fingerprint`)."""
    profile = profile or active_profile()
    writer = df.write.format("delta").mode(mode).options(**(options or {}))
    if made_from:
        writer = writer.option("userMetadata", made_from)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(table_uri(name, profile))
    publish(name, profile)


def table_version(spark: SparkSession, name: str, profile: Profile | None = None) -> int | None:
    """The table's latest version (read from its log, no Spark job); None while it does not exist."""
    from citylake.delta_files import table_version as logged_version

    return logged_version(spark, table_uri(name, profile))


# Commits that change neither a table's rows nor its schema (table maintenance): a job whose
# inputs were only compacted or vacuumed has nothing new to read.
MAINTENANCE_OPERATIONS = ("OPTIMIZE", "REORG", "VACUUM START", "VACUUM END")


def data_version(spark: SparkSession, name: str, profile: Profile | None = None) -> int | None:
    """The table's latest version that changed its rows or schema; None while it does not exist."""
    change = _latest_change(spark, name, profile)
    return None if change is None else change["version"]


def _latest_change(spark: SparkSession, name: str, profile: Profile | None):
    """The latest commit that is not table maintenance (version, operation, userMetadata), if any.
    Maintenance adds at most a few commits per run: the last 20 hold the answer almost always, and
    a history that short is read without a Spark job."""
    if table_version(spark, name, profile) is None:
        return None
    table = delta_table(spark, name, profile)
    for limit in (20, None):
        commits = (table.history(limit) if limit else table.history()).select("version", "operation", "userMetadata")
        for commit in commits.collect():
            if commit["operation"] not in MAINTENANCE_OPERATIONS:
                return commit
    return None


def inputs_fingerprint(spark: SparkSession, tables: list[str], *extra: str, profile: Profile | None = None) -> str:
    """What a job's output is made from: the data version of each input table (absent ones too)
    and anything else it depends on (its configuration, the day). A job that finds its outputs made
    from the same fingerprint has nothing to do."""
    parts = [f"{name}@{data_version(spark, name, profile)}" for name in sorted(tables)] + list(extra)
    return "inputs:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def recorded_fingerprint(spark: SparkSession, name: str, profile: Profile | None = None) -> str | None:
    """The inputs fingerprint the table's latest change (not its maintenance) was written with, if any."""
    change = _latest_change(spark, name, profile)
    return None if change is None else change["userMetadata"]


def recent_user_metadata(spark: SparkSession, name: str, limit: int = 20, profile: Profile | None = None) -> list[str]:
    """The userMetadata of the table's latest `limit` commits that carry one, newest first (a
    history that short is read without a Spark job)."""
    if table_version(spark, name, profile) is None:
        return []
    commits = delta_table(spark, name, profile).history(limit).select("userMetadata").collect()
    return [commit["userMetadata"] for commit in commits if commit["userMetadata"]]


def table_property(spark: SparkSession, name: str, key: str, profile: Profile | None = None) -> str | None:
    """One of the table's properties (TBLPROPERTIES), None where it is not set."""
    rows = spark.sql(f"SHOW TBLPROPERTIES delta.`{table_uri(name, profile)}` ('{key}')").collect()
    value = rows[0]["value"] if rows else None
    # Spark answers a missing key with a sentence in the value column, not an empty result
    return None if value is None or value.endswith(f"does not have property: {key}") else value


def set_table_property(spark: SparkSession, name: str, key: str, value: str, profile: Profile | None = None) -> None:
    """Set one table property: a commit that changes no row."""
    spark.sql(f"ALTER TABLE delta.`{table_uri(name, profile)}` SET TBLPROPERTIES ('{key}' = '{value}')")


def rows_written(spark: SparkSession, name: str, profile: Profile | None = None) -> int:
    """Rows the table's latest commit wrote, from the commit's own metrics (counting them again
    would read the table once more)."""
    metrics = delta_table(spark, name, profile).history(1).select("operationMetrics").first()[0]
    return int(metrics["numOutputRows"])


def publish(name: str, profile: Profile | None = None) -> None:
    """Make a table Spark committed queryable in Trino now, if this profile's Trino is reachable.

    With a file metastore Trino needs each table registered once; later commits (new data, new
    columns) show without another step because Trino reads the schema from the Delta log. When
    Trino is down the table is registered at its next start (`citylake trino start` syncs).
    """
    profile = profile or active_profile()
    if profile.trino.metastore != "file":
        return
    from citylake.trino import client, server

    schema, table = split_name(name)
    if client.known_registered(profile, schema, table):
        return
    if not server.is_running(profile):
        log.info("Trino is not running; %s will be registered when it starts", name)
        return
    if not client.serves_this_lake(profile):
        _warn_once(f"the Trino at {profile.trino.host}:{profile.trino.port} serves another lake: tables of "
                   f"{profile.path('warehouse')} are not registered there (give this lake its own port)")
        return
    client.ensure_registered(profile, schema, table, Path(profile.path("warehouse")) / schema / table)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)
