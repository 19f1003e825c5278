"""Trino's query events into audit rows: pure functions on events shaped as Trino 476 posts them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from citylake.audit.settings import DepartmentMap
from jobs.audit.departments import UNMAPPED, from_map
from jobs.audit.events import audit_row, latest_per_query, outcome, refused_reads

DEPARTMENTS = from_map(DepartmentMap(users={"citylake": "platform"}, groups={"psb_analysts": "psb", "nrp": "nrp"}))


def record(kind: str, **event) -> dict:
    base = {"createTime": "2026-12-07T10:00:00.100Z",
            "context": {"user": "ana", "groups": ["psb_analysts"], "source": "trino-cli", "queryType": "SELECT",
                        "remoteClientAddress": "127.0.0.1", "userAgent": "cli"},
            "metadata": {"queryId": "q1", "query": "SELECT name FROM lake.base.person", "queryState": "QUEUED",
                         "tables": []}}
    return {"received_at": "2026-12-07T10:00:02+00:00", "kind": kind, "event": {**base, **event}}


MASKED_READ = record(
    "completed",
    metadata={"queryId": "q1", "query": "SELECT name FROM lake.base.person", "queryState": "FINISHED",
              "tables": [{"catalog": "lake", "schema": "base", "table": "person", "filters": ["district = '350502'"],
                          "directlyReferenced": True,
                          "columns": [{"column": "name", "mask": "substr(name, 1, 1) || '*'"},
                                      {"column": "district"}]}]},
    statistics={"cpuTime": 0.0123, "totalRows": 40, "outputRows": 12, "writtenRows": 0},
    ioMetadata={"inputs": [{"catalogName": "lake", "schema": "base", "table": "person",
                            "columns": [{"name": "name", "type": "varchar"}, {"name": "district", "type": "varchar"}]}]},
    endTime="2026-12-07T10:00:01.350Z")

DENIED = record(
    "completed",
    metadata={"queryId": "q2", "query": "SELECT id_number FROM lake.base.person", "queryState": "FAILED", "tables": []},
    statistics={"cpuTime": 0.0, "totalRows": 0, "outputRows": 0, "writtenRows": 0},
    ioMetadata={"inputs": []},
    failureInfo={"errorCode": {"code": 4, "name": "PERMISSION_DENIED", "type": "USER_ERROR"},
                 "failureMessage": "Access Denied: Cannot select from columns [id_number] in table or view lake.base.person"},
    endTime="2026-12-07T10:00:00.105Z")


def test_a_completed_read_names_its_tables_columns_masks_filters_and_rows():
    row = audit_row(MASKED_READ, DEPARTMENTS)
    assert (row["query_id"], row["event"], row["outcome"], row["state"]) == ("q1", "completed", "succeeded", "FINISHED")
    assert (row["user_name"], row["user_groups"], row["department"]) == ("ana", ["psb_analysts"], "psb")
    assert row["tables_read"] == ["lake.base.person"]
    assert row["columns_read"] == ["lake.base.person.district", "lake.base.person.name"]
    assert row["masked_columns"] == ["lake.base.person.name"] and row["filtered_tables"] == ["lake.base.person"]
    assert (row["input_rows"], row["output_rows"], row["elapsed_ms"], row["cpu_ms"]) == (40, 12, 1250, 12)
    assert row["created_at"] == datetime(2026, 12, 7, 10, 0, 0, 100000, tzinfo=timezone.utc)
    assert row["error_code"] is None and row["failure_message"] is None


def test_a_refusal_keeps_the_message_counts_as_refused_and_names_what_was_refused():
    row = audit_row(DENIED, DEPARTMENTS)
    assert (row["outcome"], row["error_code"], row["error_type"]) == ("refused", "PERMISSION_DENIED", "USER_ERROR")
    assert row["failure_message"].startswith("Access Denied")
    assert (row["tables_read"], row["columns_read"]) == (["lake.base.person"], ["lake.base.person.id_number"])


def test_refused_reads_as_trino_words_them():
    assert refused_reads("Access Denied: Cannot select from table lake.ops.query_audit") == (
        ["lake.ops.query_audit"], [])
    assert refused_reads("Access Denied: Cannot select from columns [name, id_number] in table or view "
                         "lake.base.person: not approved") == (
        ["lake.base.person"], ["lake.base.person.id_number", "lake.base.person.name"])
    assert refused_reads("Access Denied: User a cannot impersonate user b") == ([], [])
    assert refused_reads(None) == ([], [])


def test_outcomes():
    assert outcome("created", "QUEUED", None) == "running"
    assert outcome("completed", "FINISHED", None) == "succeeded"
    assert outcome("completed", "FAILED", "TABLE_NOT_FOUND") == "failed"
    assert outcome("completed", "FAILED", "PERMISSION_DENIED") == "refused"


def test_a_query_is_its_completed_event_whatever_the_order_and_duplicates():
    created = audit_row(record("created"), DEPARTMENTS)
    completed = audit_row(MASKED_READ, DEPARTMENTS)
    for order in ([created, completed], [completed, created], [created, completed, completed, created]):
        assert latest_per_query(order) == [completed]
    assert latest_per_query([created, created]) == [created]


def test_departments_by_user_then_group():
    assert DEPARTMENTS("citylake", []) == "platform"
    assert DEPARTMENTS("someone", ["other", "nrp"]) == "nrp"
    assert DEPARTMENTS("someone", ["other"]) == UNMAPPED


def test_departments_from_the_sharing_policy_when_there_is_one():
    from citylake.settings import DEFAULT_CONF_DIR
    from jobs.audit.departments import department_resolver, table_owners

    if not (DEFAULT_CONF_DIR / "sharing.yml").exists():
        pytest.skip("no conf/sharing.yml yet: the audit uses conf/audit.yml's map")
    from citylake.sharing import load_policy

    policy = load_policy(DEFAULT_CONF_DIR)
    department_of = department_resolver(policy)
    platform = policy.platform.code
    for user, entry in policy.users.items():
        group = policy.groups[entry.group]
        assert department_of(user, []) == (group.consumer or platform)
    district_group = next(name for name, group in policy.groups.items() if group.role == "district_user")
    assert department_of("someone_new", [district_group]) == policy.groups[district_group].district
    assert department_of("someone_new", ["no_such_group"]) == UNMAPPED
    owners = table_owners(policy)
    assert owners["lake.raw.psb_household_registration"] == policy.table("raw.psb_household_registration").owner
    assert owners["lake.ops.query_audit"] == policy.table("ops.query_audit").owner


def test_owners_from_the_catalog_without_a_policy(catalog):
    from jobs.audit.departments import table_owners

    owners = table_owners(None, catalog)
    assert owners["lake.raw.psb_household_registration"] == "psb"
    assert owners["lake.integrated.hrss_social_insurance"] == "hrss"
    assert len(owners) == 2 * len(catalog)


def test_masks_as_later_trino_releases_list_them():
    event = {**MASKED_READ["event"], "metadata": {**MASKED_READ["event"]["metadata"], "tables": [
        {"catalog": "lake", "schema": "base", "table": "person", "directlyReferenced": True,
         "columns": [{"column": "name", "masks": ["substr(name, 1, 1) || '*'"]}, {"column": "district", "masks": []}]}]}}
    row = audit_row({**MASKED_READ, "event": event}, DEPARTMENTS)
    assert row["masked_columns"] == ["lake.base.person.name"] and row["filtered_tables"] == []
