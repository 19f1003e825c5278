"""The audit spool and receiver on their own: durable appends, sealing and retiring, cut lines, the
HTTP answers Trino's event listener acts on, and the receiver's process kept on its port."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from citylake.audit import receiver
from citylake.audit.spool import COMPLETED, CREATED, Spool, SpoolError, event_kind


def created_event(query_id: str) -> dict:
    return {"createTime": "2026-12-07T10:00:00.000Z", "context": {"user": "alice", "groups": []},
            "metadata": {"queryId": query_id, "query": "SELECT 1", "queryState": "QUEUED", "tables": []}}


def completed_event(query_id: str) -> dict:
    return {**created_event(query_id), "statistics": {"outputRows": 1}, "ioMetadata": {"inputs": []},
            "endTime": "2026-12-07T10:00:01.000Z"}


def spooled_ids(spool: Spool) -> list[tuple[str, str]]:
    return [(r["event"]["metadata"]["queryId"], r["kind"]) for path in spool.pending() for r in Spool.read(path).records]


def test_event_kinds():
    assert event_kind(created_event("q1")) == CREATED
    assert event_kind(completed_event("q1")) == COMPLETED
    with pytest.raises(SpoolError, match="queryId"):
        event_kind({"metadata": {}})
    with pytest.raises(SpoolError):
        event_kind(["not", "an", "event"])


def test_spool_append_seal_read_retire(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.append(created_event("q1"))
    spool.append(completed_event("q1"))
    first = spool.seal()
    spool.append(created_event("q2"))  # after sealing: a new active segment
    assert len(first) == 1 and not spool.active.samefile(first[0])
    assert spooled_ids(spool) == [("q1", CREATED), ("q1", COMPLETED), ("q2", CREATED)]
    segment = Spool.read(first[0])
    assert segment.broken_lines == 0 and segment.records[0]["received_at"]
    spool.retire(first)
    assert spooled_ids(spool) == [("q2", CREATED)]
    assert spool.seal() == sorted((tmp_path / "spool" / "sealed").glob("*.jsonl")) and not spool.active.exists()


def test_a_line_cut_by_a_crash_is_skipped_and_the_next_event_stays_whole(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.append(created_event("q1"))
    with open(spool.active, "ab") as handle:  # a receiver killed in the middle of a write
        handle.write(json.dumps({"kind": COMPLETED, "event": completed_event("q1")}).encode()[:40])
    spool.append(completed_event("q1"))  # Trino got no answer and posted it again
    segment = Spool.read(spool.active)
    assert segment.broken_lines == 1
    assert [(r["event"]["metadata"]["queryId"], r["kind"]) for r in segment.records] == [("q1", CREATED), ("q1", COMPLETED)]


@pytest.fixture()
def serving(tmp_path):
    """A receiver serving in this process on a free port, its spool in tmp_path."""
    server = receiver.EventServer(("127.0.0.1", 0), Spool(tmp_path / "spool"), max_event_bytes=4096)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.spool
    server.shutdown()
    server.server_close()


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_receiver_answers_200_once_the_event_is_on_disk(serving):
    url, spool = serving
    assert post(url + "/events", json.dumps(completed_event("q7")).encode()) == 200
    assert spooled_ids(spool) == [("q7", COMPLETED)]
    with urllib.request.urlopen(url + "/health", timeout=5) as response:
        assert response.status == 200


def test_receiver_refuses_what_it_can_never_take_with_4xx(serving):
    # Trino's listener retries only 5xx, 408 and 429: these would fail forever, so they are 4xx.
    url, spool = serving
    assert post(url + "/events", b"{not json") == 400
    assert post(url + "/events", json.dumps({"metadata": {}}).encode()) == 400
    assert post(url + "/events", json.dumps(completed_event("q" + "x" * 5000)).encode()) == 413
    assert post(url + "/elsewhere", b"{}") == 404
    assert spooled_ids(spool) == []


def test_receiver_process_restarts_on_its_port(settings, tmp_path):
    profile = settings.model_copy(update={"paths": settings.paths.model_copy(update={"var": str(tmp_path / "var")})})
    first = receiver.ensure_running(profile)
    try:
        assert receiver.ensure_running(profile) == first  # running: left alone
        os.kill(first.pid, signal.SIGKILL)
        restarted = receiver.ensure_running(profile)
        assert restarted.pid != first.pid and restarted.port == first.port
        assert post(restarted.url + "/events", json.dumps(created_event("q9")).encode()) == 200
    finally:
        assert receiver.stop(profile)
    assert not receiver.is_receiving(receiver.read_state(profile))
    assert receiver.read_state(profile).port == first.port  # kept for the next start
    assert not receiver.stop(profile)


def test_the_spool_keeps_what_the_audit_reads_not_the_query_plans(tmp_path):
    spool = Spool(tmp_path / "spool")
    event = completed_event("q1")
    event["metadata"] |= {"plan": "Fragment 0 ..." * 1000, "jsonPlan": "{}"}
    event["statistics"] |= {"operatorSummaries": ["..."] * 100, "cpuTime": 0.5}
    event["failureInfo"] = {"errorCode": {"name": "SYNTAX_ERROR"}, "failureMessage": "line 1:1", "failuresJson": "{}"}
    spool.append(event)
    kept = Spool.read(spool.active).records[0]["event"]
    assert "plan" not in kept["metadata"] and "jsonPlan" not in kept["metadata"]
    assert kept["metadata"]["query"] == "SELECT 1" and kept["statistics"] == {"outputRows": 1, "cpuTime": 0.5}
    assert kept["failureInfo"] == {"errorCode": {"name": "SYNTAX_ERROR"}, "failureMessage": "line 1:1"}
    assert spool.active.stat().st_size < 1000


def test_a_receiver_whose_lake_is_gone_stops(settings, tmp_path):
    profile = settings.model_copy(update={"paths": settings.paths.model_copy(update={"var": str(tmp_path / "var")})})
    state = receiver.ensure_running(profile)
    receiver.state_file(profile).unlink()  # as when a test run's folder is removed
    deadline = time.monotonic() + 15
    while receiver._is_receiver_process(state.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not receiver._is_receiver_process(state.pid)
