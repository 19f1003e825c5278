"""`lake.ops.query_audit` and `lake.ops.table_usage`, documented, made from Trino's query events
and the department map."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.audit import events, usage
from jobs.audit.job import QUERY_AUDIT, TABLE_USAGE
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns

# Where the query events come from: Trino's HTTP event listener, through the receiver's spool.
TRINO_EVENTS = "events:trino"

AUDIT_COLUMNS = {
    "query_id": ("查询编号", "Trino's query id."),
    "event": ("最新事件", "The latest event received: created (still running or never completed) or completed."),
    "outcome": ("结果", "succeeded, failed, refused (access denied) or running."),
    "state": ("查询状态", "Trino's query state: FINISHED, FAILED, QUEUED."),
    "user_name": ("用户", "Who ran it (the Trino user)."),
    "user_groups": ("用户组", "The user's groups."),
    "department": ("使用部门", "The consumer department of the user and its groups (unmapped when unknown)."),
    "source": ("客户端", "The client's name: trino-python-client, trino-cli, DBeaver ..."),
    "client_address": ("客户端地址", "The client's address."),
    "user_agent": ("客户端标识", "The client's user agent."),
    "query_type": ("查询类型", "SELECT, INSERT, DATA_DEFINITION, DESCRIBE ..."),
    "statement": ("查询语句", "The statement as sent (literals included: admins only)."),
    "created_at": ("提交时间", "When Trino received it."),
    "ended_at": ("结束时间", "When it ended."),
    "elapsed_ms": ("耗时（毫秒）", "From received to ended, in milliseconds."),
    "cpu_ms": ("CPU时间（毫秒）", "CPU time, in milliseconds."),
    "tables_read": ("读取的表（被拒绝时为所拒绝的表）", "Tables read, as catalog.schema.table; of a refused query, "
                    "those it was refused."),
    "columns_read": ("读取的字段（被拒绝时为所拒绝的字段）", "Columns read, as catalog.schema.table.column; of a refused "
                     "query, those it was refused."),
    "masked_columns": ("经脱敏读取的字段", "Columns read through a column mask."),
    "filtered_tables": ("经行过滤读取的表", "Tables read through a row filter."),
    "table_written": ("写入的表", "The table written, for INSERT, CREATE TABLE AS ..."),
    "input_rows": ("读取行数", "Rows read from the tables."),
    "output_rows": ("返回行数", "Rows returned to the client."),
    "written_rows": ("写入行数", "Rows written."),
    "error_code": ("错误代码", "Trino's error code: PERMISSION_DENIED, TABLE_NOT_FOUND, SYNTAX_ERROR ..."),
    "error_type": ("错误类型", "USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES, EXTERNAL."),
    "failure_message": ("失败原因", "Trino's message, as the user saw it."),
    "received_at": ("接收时间", "When the audit receiver spooled the event."),
}

USAGE_COLUMNS = {
    "day": ("日期", "The queries' day (Asia/Shanghai)."),
    "department": ("使用部门", "The consumer department."),
    "table_name": ("表", "The table read, as catalog.schema.table."),
    "layer": ("层", "The table's layer."),
    "owner_department": ("数据所属部门", "Whose data it is, where known."),
    "queries": ("查询次数", "Queries that read it."),
    "succeeded": ("成功次数", "Of them, succeeded."),
    "refused": ("拒绝次数", "Of them, refused by the access rules."),
    "failed": ("失败次数", "Of them, failed."),
    "users": ("用户数", "Distinct users of the department who read it."),
    "columns_read": ("读取的字段", "Columns of the table read."),
    "first_query_at": ("首次查询", "The day's first query."),
    "last_query_at": ("最近查询", "The day's last query."),
}


def declared(catalog: Catalog) -> Declared:
    tables = (
        TableDoc(QUERY_AUDIT, "查询审计：Trino 执行的每一次查询（含失败和被拒绝的），谁、何时、读了哪些表和字段、结果。",
                 "Query audit: every query Trino ran, failed and refused ones included: who, when, the statement, "
                 "tables and columns read, rows, outcome and failure.",
                 "one row per query", ("query_id",), schema_columns(events.SCHEMA, AUDIT_COLUMNS)),
        TableDoc(TABLE_USAGE, "数据使用：每天每个使用部门对每张表的查询次数、用户和字段。",
                 "Table usage: per day, each consumer department's queries of each table, its users and columns.",
                 "one row per day, consumer department and table", ("day", "department", "table_name"),
                 schema_columns(usage.SCHEMA, USAGE_COLUMNS)),
    )
    edges = (
        Edge(QUERY_AUDIT, TRINO_EVENTS, "ledger", "query created and completed events (HTTP event listener)"),
        Edge(QUERY_AUDIT, configuration("audit.yml"), "configuration", "user and group -> department"),
        Edge(TABLE_USAGE, QUERY_AUDIT, "aggregate", "queries per day, department and table"),
        *(Edge(TABLE_USAGE, configuration(f"catalog/{code}.yml"), "reference", "owner department of its tables")
          for code in catalog.departments),
    )
    return Declared(tables, edges)
