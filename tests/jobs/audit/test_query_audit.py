"""The query audit against the real Trino: every query of the test, failed and refused ones
included, reaches lake.ops.query_audit through Trino's HTTP event listener, the receiver's spool and
the loader; a receiver killed mid-stream loses nothing; loading again adds nothing; usage per
department and table."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
from pyspark.sql import functions as F

from citylake import lake
from citylake.audit import receiver
from citylake.audit.settings import spool_dir
from citylake.audit.spool import COMPLETED, CREATED, Spool
from citylake.settings import DEFAULT_CONF_DIR
from citylake.trino import client, server
from jobs.audit.job import QUERY_AUDIT, TABLE_USAGE, load
from trino.exceptions import TrinoQueryError

pytestmark = [pytest.mark.spark, pytest.mark.trino]

PEOPLE = "ops.audit_test_people"


@pytest.fixture(scope="module")
def people(spark, trino):
    """A three-row table Trino serves, for queries to read; dropped when done."""
    rows = [("p1", "张三", "350502"), ("p2", "李四", "350503"), ("p3", "王五", "350502")]
    lake.write_table(spark.createDataFrame(rows, "person_id string, name string, district string"), PEOPLE,
                     mode="overwrite")
    yield f"{trino.trino.catalog}.{PEOPLE}"
    shutil.rmtree(lake.table_folder(PEOPLE))  # not a table of the lake's: other tests list every table
    client.sync_catalog(trino)


def run(sql: str, user: str | None = None) -> tuple[str, list[tuple] | Exception]:
    """(query id, rows) of a statement, or (query id, the error) when Trino failed or refused it;
    as the platform's user, or as `user` of the sharing policy."""
    with (client.connect(user=user) if user else client.connect()) as connection:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            return cursor.query_id, [tuple(row) for row in cursor.fetchall()]
        except TrinoQueryError as error:
            return error.query_id, error


def spooled(profile) -> dict[str, set[str]]:
    """Event kinds spooled and not loaded yet, by query id."""
    kinds: dict[str, set[str]] = {}
    for path in Spool(spool_dir(profile)).pending():
        for record in Spool.read(path).records:
            kinds.setdefault(record["event"]["metadata"]["queryId"], set()).add(record["kind"])
    return kinds


def wait_for_completed(profile, query_ids, timeout: float = 90) -> None:
    """Until every query's completed event is in the spool (Trino posts them after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = {q for q in query_ids if COMPLETED not in spooled(profile).get(q, set())}
        if not waiting:
            return
        assert time.monotonic() < deadline, f"no completed event for {sorted(waiting)}\n{receiver.log_tail(profile)}"
        time.sleep(0.2)


def audit_rows(spark, query_ids) -> dict[str, dict]:
    frame = lake.read_table(spark, QUERY_AUDIT).where(F.col("query_id").isin(list(query_ids)))
    return {row.query_id: row.asDict() for row in frame.collect()}


def district_user() -> tuple[str, str] | None:
    """(user, its district) of the sharing policy, once Trino's rules are made from it."""
    if not (DEFAULT_CONF_DIR / "sharing.yml").exists():
        return None
    from citylake.sharing import load_policy

    policy = load_policy()
    return next((user, policy.groups[entry.group].district) for user, entry in policy.users.items()
                if policy.groups[entry.group].role == "district_user")


def test_every_query_is_audited_failed_and_refused_ones_too(spark, trino, people):
    read = run(f"SELECT name, district FROM {people} WHERE district = '350502' ORDER BY person_id")
    counted = run(f"SELECT count(*) FROM {people}")
    missing = run(f"SELECT * FROM {trino.trino.catalog}.ops.no_such_table")
    syntax = run("SELEC 1")
    # Trino's access control refuses impersonating another user (default and file-based alike).
    refused = run("SET SESSION AUTHORIZATION someone_else")
    district = district_user()
    # With the policy's rules: a district user may not read the platform's ops tables.
    denied = run(f"SELECT name FROM {people}", user=district[0]) if district else None
    assert read[1] == [("张三", "350502"), ("王五", "350502")] and counted[1] == [(3,)]
    failures = [missing, syntax, refused] + ([denied] if denied else [])
    assert all(isinstance(outcome, TrinoQueryError) for _, outcome in failures)
    queries = [read, counted, *failures]
    wait_for_completed(trino, [query_id for query_id, _ in queries])

    result = load(spark)

    assert result.inserted >= len(queries) and result.broken_lines == 0
    rows = audit_rows(spark, [query_id for query_id, _ in queries])
    assert set(rows) == {query_id for query_id, _ in queries}
    for row in rows.values():
        assert row["event"] == COMPLETED and row["created_at"] <= row["ended_at"]
        assert row["source"] == "trino-python-client"
    for query_id, _ in [read, counted, missing, syntax, refused]:
        assert rows[query_id]["user_name"] == trino.trino.user and rows[query_id]["department"] == "dsj"
    first = rows[read[0]]
    assert first["outcome"] == "succeeded" and first["statement"].startswith("SELECT name, district")
    assert first["tables_read"] == [people]
    assert first["columns_read"] == [f"{people}.{column}" for column in ("district", "name", "person_id")]
    assert first["output_rows"] == 2 and first["input_rows"] == 3 and first["failure_message"] is None
    assert rows[counted[0]]["tables_read"] == [people] and rows[counted[0]]["output_rows"] == 1
    for (query_id, error), code in ((missing, "TABLE_NOT_FOUND"), (syntax, "SYNTAX_ERROR")):
        assert rows[query_id]["outcome"] == "failed" and rows[query_id]["error_code"] == code
        assert rows[query_id]["failure_message"] == error.message
    for query_id, error in [refused] + ([denied] if denied else []):
        assert rows[query_id]["outcome"] == "refused" and rows[query_id]["error_code"] == "PERMISSION_DENIED"
        assert rows[query_id]["failure_message"] == error.message and "Access Denied" in error.message
    if denied:
        assert (rows[denied[0]]["user_name"], rows[denied[0]]["department"]) == district
        assert rows[denied[0]]["statement"] == f"SELECT name FROM {people}"
        assert rows[denied[0]]["tables_read"] == [people]  # what it was refused, from Trino's message

    # What Trino serves: the audit is a lake table like the others.
    served = client.run_query(trino, f"SELECT outcome, error_code FROM {trino.trino.catalog}.{QUERY_AUDIT} "
                                     f"WHERE query_id = ?", [refused[0]])
    assert served == [("refused", "PERMISSION_DENIED")]

    # Usage per consumer department and table: the platform's reads of the table.
    usage = (lake.read_table(spark, TABLE_USAGE)
             .where((F.col("table_name") == people) & (F.col("department") == "dsj")).collect())
    audited = lake.read_table(spark, QUERY_AUDIT).where(
        F.array_contains("tables_read", people) & (F.col("department") == "dsj")).collect()
    assert len(usage) == 1 == len({row.created_at.date() for row in audited})
    assert (usage[0].layer, usage[0].users, usage[0].owner_department) == ("ops", 1, None)  # a test table: no owner
    assert usage[0].queries == len(audited) >= 2
    assert usage[0].succeeded == sum(row.outcome == "succeeded" for row in audited)
    assert usage[0].columns_read == ["district", "name", "person_id"]
    if denied:  # the district's refused read counts for the table too
        refusals = (lake.read_table(spark, TABLE_USAGE)
                    .where((F.col("table_name") == people) & (F.col("department") == district[1])).collect())
        assert [(row.queries, row.refused, row.succeeded) for row in refusals] == [(1, 1, 0)]


def test_a_receiver_killed_mid_stream_loses_nothing(spark, trino, people):
    before = receiver.read_state(trino)
    ids: list[str] = []

    def query_stream() -> None:
        for number in range(8):
            ids.append(run(f"SELECT {number}, count(*) FROM {people}")[0])

    stream = threading.Thread(target=query_stream)
    stream.start()
    while len(ids) < 2:
        time.sleep(0.05)
    os.kill(before.pid, signal.SIGKILL)  # no goodbye: events in flight get no answer
    time.sleep(1.5)  # queries keep running; Trino's listener retries their events
    restarted = receiver.ensure_running(trino)
    stream.join()
    assert restarted.port == before.port and restarted.pid != before.pid

    wait_for_completed(trino, ids)
    load(spark)

    rows = audit_rows(spark, ids)
    assert set(rows) == set(ids) and len(ids) == 8
    assert all(row["event"] == COMPLETED and row["outcome"] == "succeeded" for row in rows.values())


def test_loading_again_adds_nothing(spark, trino, people, tmp_path):
    ids = [run(f"SELECT person_id FROM {people}")[0] for _ in range(2)]
    wait_for_completed(trino, ids)
    spool = Spool(spool_dir(trino))
    kept = tmp_path / "kept"
    kept.mkdir()
    for path in spool.seal():
        shutil.copy(path, kept / path.name)
    first = load(spark)
    audit_before = lake.read_table(spark, QUERY_AUDIT).orderBy("query_id").collect()

    # The same segments again (a load that died after its commit, before retiring them), twice over.
    for copy in (1, 2):
        for path in kept.iterdir():
            shutil.copy(path, spool.sealed / f"{copy}-{path.name}")
    second = load(spark)

    assert first.inserted >= 2 and second.events > 0
    assert (second.inserted, second.completed, second.usage_rows) == (0, 0, None)
    assert lake.read_table(spark, QUERY_AUDIT).orderBy("query_id").collect() == audit_before
    assert spooled(trino).keys().isdisjoint(ids) and not list(spool.sealed.iterdir())


def test_a_running_query_is_completed_by_its_later_event(spark, trino):
    """A query whose created event was loaded while it ran: its completed event replaces the row,
    and a created event posted again later does not take it back."""
    spool = Spool(spool_dir(trino))
    created = {"createTime": "2026-12-07T10:00:00.000Z",
               "context": {"user": "analyst_a", "groups": ["analysts"], "queryType": "SELECT"},
               "metadata": {"queryId": "20261207_100000_99999_audit", "query": "SELECT 1", "queryState": "QUEUED",
                            "tables": []}}
    completed = {**created, "metadata": {**created["metadata"], "queryState": "FINISHED"},
                 "statistics": {"outputRows": 1, "totalRows": 0, "cpuTime": 0.002},
                 "ioMetadata": {"inputs": []}, "endTime": "2026-12-07T10:00:00.250Z"}
    query_id = created["metadata"]["queryId"]

    spool.append(created)
    assert load(spark).inserted == 1
    assert audit_rows(spark, [query_id])[query_id]["outcome"] == "running"

    spool.append(completed)
    spool.append(created)
    result = load(spark)
    row = audit_rows(spark, [query_id])[query_id]
    assert (result.inserted, result.completed) == (0, 1)
    assert (row["event"], row["outcome"], row["elapsed_ms"], row["output_rows"]) == (COMPLETED, "succeeded", 250, 1)
    assert row["user_groups"] == ["analysts"] and row["department"] == "unmapped"
    assert CREATED not in spooled(trino).get(query_id, set())


def test_trino_posts_its_events_to_the_receiver_and_retries(trino):
    etc = server.instance_for(trino).etc
    config = dict(line.split("=", 1) for line in (etc / "config.properties").read_text().splitlines())
    listener = dict(line.split("=", 1) for line in (etc / "event-listener.properties").read_text().splitlines())
    assert config["event-listener.config-files"] == str(etc / "event-listener.properties")
    assert listener["event-listener.name"] == "http"
    assert listener["http-event-listener.connect-ingest-uri"] == receiver.ingest_uri(trino)
    assert int(listener["http-event-listener.connect-retry-count"]) > 0
    assert (server.install(trino) / "plugin" / "http-event-listener").is_dir()


def test_reads_through_masks_and_row_filters_are_recorded(spark, trino):
    """A district user reading a shared table with a personal column: Trino's event names the
    masked column and the filtered table, as the access rules made from the policy applied them."""
    if district_user() is None:
        pytest.skip("no conf/sharing.yml: Trino runs without masks")
    from citylake.sharing import load_policy

    policy = load_policy()
    user, district = district_user()
    name, table = next((name, table) for name, table in policy.tables.items()
                       if table.sharing == "unconditional" and table.personal and table.territory
                       and table.layer in policy.file.roles["district_user"].layers)
    personal = table.personal[0].column
    made = not lake.table_exists(spark, name)
    if made:  # a one-row stand-in with the documented columns, removed afterwards
        columns = policy.documented[name]
        row = [district if column == table.territory else "x" for column in columns]
        lake.write_table(spark.createDataFrame([row], ", ".join(f"`{c}` string" for c in columns)), name, "overwrite")
    try:
        query_id, rows = run(f'SELECT "{personal}", "{table.territory}" FROM {trino.trino.catalog}.{name}', user=user)
        assert not isinstance(rows, Exception), rows
        wait_for_completed(trino, [query_id])
        load(spark)
        row = audit_rows(spark, [query_id])[query_id]
    finally:
        if made:
            shutil.rmtree(lake.table_folder(name))
            client.sync_catalog(trino)
    qualified = f"{trino.trino.catalog}.{name}"
    assert (row["user_name"], row["department"], row["outcome"]) == (user, district, "succeeded")
    assert f"{qualified}.{personal}" in row["masked_columns"]
    assert row["filtered_tables"] == [qualified] and row["tables_read"] == [qualified]
