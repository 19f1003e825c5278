"""The managed Trino server and the lake catalog, against a real server and real Delta tables."""

import os
import shutil
import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from citylake import lake
from citylake.settings import memory_bytes
from citylake.trino import client, server

pytestmark = [pytest.mark.trino, pytest.mark.spark]


def test_status_reports_the_running_server(trino):
    state = server.status(trino)
    assert state["running"] and state["version"] == trino.trino.version
    assert state["address"].endswith(f":{trino.trino.port}") and state["pid"]


def test_generated_config_fits_memory_and_points_the_catalog_at_the_warehouse(trino):
    instance = server.instance_for(trino)
    config = dict(line.split("=", 1) for line in (instance.etc / "config.properties").read_text().splitlines())
    heap = next(line for line in (instance.etc / "jvm.config").read_text().splitlines() if line.startswith("-Xmx"))
    assert memory_bytes(config["query.max-memory-per-node"]) + memory_bytes(
        config["memory.heap-headroom-per-node"]) < memory_bytes(heap[4:])
    catalog = (instance.etc / "catalog" / "lake.properties").read_text()
    assert "connector.name=delta_lake" in catalog and "hive.metastore=file" in catalog


def test_every_layer_is_a_schema(trino):
    client.ensure_schemas(trino)
    schemas = {row[0] for row in client.run_query(trino, "SHOW SCHEMAS FROM lake")}
    assert {"raw", "integrated", "base", "theme", "share", "ops", "app"} <= schemas


def test_trino_reads_every_delta_feature_the_lake_enables(spark, trino):
    """Deletion vectors, column mapping (rename, Chinese names), timestamp_ntz, checkpoints, new columns."""
    name = "ops.test_feature_probe"
    frame = spark.range(100).select(
        "id", (F.col("id") % 7).cast("string").alias("姓名"),
        F.to_timestamp(F.lit("2026-01-02 03:04:05")).alias("ts"),
        F.to_timestamp(F.lit("2026-01-02 03:04:05")).cast("timestamp_ntz").alias("local_ts"),
        (F.col("id") / 4).cast("decimal(18,2)").alias("amt"))
    lake.write_table(frame, name, "overwrite")
    for _ in range(11):  # past the checkpoint interval
        lake.write_table(frame.limit(1), name, "append")
    uri = lake.table_uri(name)
    spark.sql(f"DELETE FROM delta.`{uri}` WHERE id < 10")
    spark.sql(f"ALTER TABLE delta.`{uri}` RENAME COLUMN amt TO amount")
    spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS (note string)")

    properties = {row.key: row.value for row in spark.sql(f"SHOW TBLPROPERTIES delta.`{uri}`").collect()}
    assert properties["delta.feature.deletionVectors"] == "supported"
    assert properties["delta.columnMapping.mode"] == "name"
    expected = spark.read.format("delta").load(uri).agg(F.count("*"), F.sum("amount")).first()
    rows = client.run_query(trino, f'SELECT count(*), sum(amount), count(distinct "姓名"), max(local_ts), '
                                   f'count(note) FROM lake.{name}')
    assert rows[0][0] == expected[0] == 90
    assert rows[0][1] == expected[1]
    assert rows[0][2] == 7 and rows[0][3].isoformat() == "2026-01-02T03:04:05" and rows[0][4] == 0
    columns = [row[0] for row in client.run_query(trino, f"DESCRIBE lake.{name}")]
    assert columns == ["id", "姓名", "ts", "local_ts", "amount", "note"]


def test_sync_registers_tables_written_while_trino_was_away_and_drops_deleted_ones(spark, trino):
    lake.write_table(spark.range(3), "app.test_sync_probe", "overwrite")
    client.unregister_table(trino, "app", "test_sync_probe")  # as if Spark wrote it with Trino down
    # tables earlier tests wrote while this session's Trino was not yet up register too
    assert "app.test_sync_probe" in client.sync_catalog(trino)["registered"]
    assert client.run_query(trino, "SELECT count(*) FROM lake.app.test_sync_probe") == [(3,)]
    shutil.rmtree(trino.path("warehouse") / "app" / "test_sync_probe")
    assert client.sync_catalog(trino)["unregistered"] == ["app.test_sync_probe"]
    assert client.sync_catalog(trino) == {"registered": [], "unregistered": []}


def test_citylake_sql_answers_from_the_shell(trino):
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "sql", "SELECT 40 + 2 AS answer",
                             "--format", "CSV_HEADER"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['"answer"', '"42"']
    assert result.stderr == ""  # no warnings of the CLI's JVM or terminal library


def test_citylake_trino_status_exits_zero_when_running(trino):
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "trino", "status"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "running: True" in result.stdout


def test_a_job_registers_tables_only_in_the_trino_of_its_own_lake(spark, trino, tmp_path, caplog):
    """Another lake (its own warehouse) pointed at this lake's port: its writes are not registered
    in a server that serves a different warehouse, and the commands that would say so."""
    from citylake.settings import load_profile

    other = load_profile(environ={**os.environ,
                                  "CITYLAKE__PATHS__VAR": str(tmp_path / "var"),
                                  "CITYLAKE__PATHS__WAREHOUSE": str(tmp_path / "var" / "warehouse")})
    assert other.trino.port == trino.trino.port
    assert client.serves_this_lake(trino) and not client.serves_this_lake(other)

    with caplog.at_level("WARNING", logger="citylake.lake"):
        lake.write_table(spark.range(2), "app.test_other_lake_probe", "overwrite", other)
    assert ("app", "test_other_lake_probe") not in client.registered_tables(trino)
    assert "serves another lake" in caplog.text
    with pytest.raises(server.TrinoError, match="serves another lake"):
        client.sync_catalog(other)
    with pytest.raises(server.TrinoError, match="serves another lake"):
        server.start(other)
    assert ("app", "test_other_lake_probe") not in client.registered_tables(trino)
