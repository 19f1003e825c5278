"""Trino's query events (as the receiver spooled them) into `lake.ops.query_audit` rows: pure
functions of the JSON, no I/O.

A query has a created event (who, when, the statement) and, once it ends, a completed event (the
outcome, the failure, tables and columns read, rows, times). The completed one carries everything
the created one does, so a query's row is its completed event when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from citylake.audit.spool import COMPLETED, CREATED
from citylake.ops_tables import QUERY_AUDIT

SUCCEEDED, FAILED, REFUSED, RUNNING = "succeeded", "failed", "refused", "running"
# Trino's error codes for an access control refusal (io.trino.spi.StandardErrorCode).
REFUSAL_CODES = frozenset({"PERMISSION_DENIED"})

SCHEMA = QUERY_AUDIT.schema

DepartmentOf = Callable[[str, list[str]], str]


def audit_row(record: dict, department_of: DepartmentOf) -> dict:
    """One `SCHEMA` row of a spooled record (`received_at`, `kind`, `event`)."""
    event, kind = record["event"], record["kind"]
    metadata, context = event["metadata"], event.get("context", {})
    statistics = event.get("statistics", {})
    failure = event.get("failureInfo") or {}
    error = failure.get("errorCode") or {}
    user, groups = context.get("user"), sorted(context.get("groups") or [])
    created, ended = _instant(event.get("createTime")), _instant(event.get("endTime"))
    inputs = (event.get("ioMetadata") or {}).get("inputs") or []
    output = (event.get("ioMetadata") or {}).get("output")
    tables = metadata.get("tables") or []
    return {
        "query_id": metadata["queryId"],
        "event": kind,
        "outcome": outcome(kind, metadata.get("queryState"), error.get("name")),
        "state": metadata.get("queryState"),
        "user_name": user,
        "user_groups": groups,
        "department": department_of(user or "", groups),
        "source": context.get("source"),
        "client_address": context.get("remoteClientAddress"),
        "user_agent": context.get("userAgent"),
        "query_type": context.get("queryType"),
        "statement": metadata.get("query"),
        "created_at": created,
        "ended_at": ended,
        "elapsed_ms": round((ended - created).total_seconds() * 1000) if created and ended else None,
        "cpu_ms": _millis(statistics.get("cpuTime")),
        "tables_read": tables_read(inputs, tables) or refused_reads(failure.get("failureMessage"))[0],
        "columns_read": columns_read(inputs, tables) or refused_reads(failure.get("failureMessage"))[1],
        # Trino 476 names a column's mask as `mask`; later releases list them as `masks`
        "masked_columns": sorted({f"{_table_name(t)}.{c['column']}" for t in tables
                                  for c in t.get("columns") or [] if c.get("mask") or c.get("masks")}),
        "filtered_tables": sorted({_table_name(t) for t in tables if t.get("filters")}),
        "table_written": _output_name(output),
        "input_rows": statistics.get("totalRows"),
        "output_rows": statistics.get("outputRows"),
        "written_rows": statistics.get("writtenRows"),
        "error_code": error.get("name"),
        "error_type": error.get("type"),
        "failure_message": failure.get("failureMessage"),
        "received_at": _instant(record.get("received_at")),
    }


def outcome(kind: str, state: str | None, error_code: str | None) -> str:
    """succeeded, failed, refused (access control said no) or running (no completed event yet)."""
    if kind == CREATED:
        return RUNNING
    if error_code in REFUSAL_CODES:
        return REFUSED
    return SUCCEEDED if state == "FINISHED" and error_code is None else FAILED


def tables_read(inputs: list[dict], tables: list[dict]) -> list[str]:
    """The tables the query read (its inputs), or, when it failed before reading, those it named."""
    if inputs:
        return sorted({f"{i['catalogName']}.{i['schema']}.{i['table']}" for i in inputs})
    return sorted({_table_name(t) for t in tables if t.get("directlyReferenced", True)})


def columns_read(inputs: list[dict], tables: list[dict]) -> list[str]:
    """The columns the query read, as catalog.schema.table.column."""
    if inputs:
        return sorted({f"{i['catalogName']}.{i['schema']}.{i['table']}.{c['name']}"
                       for i in inputs for c in i.get("columns") or []})
    return sorted({f"{_table_name(t)}.{c['column']}" for t in tables if t.get("directlyReferenced", True)
                   for c in t.get("columns") or []})


# Trino's refusals of a read (io.trino.spi.security.AccessDeniedException): the query never got to
# name its tables in the event, the message does.
REFUSED_READ = re.compile(r"Cannot select from (?:columns \[(?P<columns>[^\]]*)\] in table or view|table) "
                          r"(?P<table>[^\s:]+)")


def refused_reads(message: str | None) -> tuple[list[str], list[str]]:
    """(tables, columns) an access-denied message says the query was refused."""
    tables, columns = set(), set()
    for match in REFUSED_READ.finditer(message or ""):
        tables.add(match["table"])
        columns |= {f"{match['table']}.{column.strip()}" for column in (match["columns"] or "").split(",")
                    if column.strip()}
    return sorted(tables), sorted(columns)


def latest_per_query(rows: Iterable[dict]) -> list[dict]:
    """One row per query: its completed event's if received, else its created event's (the first
    received of duplicates, as a retried post spools an event twice)."""
    chosen: dict[str, dict] = {}
    for row in rows:
        current = chosen.get(row["query_id"])
        if current is None or (current["event"] == CREATED and row["event"] == COMPLETED):
            chosen[row["query_id"]] = row
    return sorted(chosen.values(), key=lambda row: (row["created_at"] or datetime.min.replace(tzinfo=timezone.utc),
                                                    row["query_id"]))


def _table_name(table: dict) -> str:
    return f"{table['catalog']}.{table['schema']}.{table['table']}"


def _output_name(output: dict | None) -> str | None:
    if not output:
        return None
    return f"{output['catalogName']}.{output['schema']}.{output['table']}"


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _millis(seconds: float | None) -> int | None:
    # Trino's event JSON gives durations in seconds
    return round(seconds * 1000) if seconds is not None else None
