"""The query audit: Trino's spooled query events into lake.ops.query_audit, and usage per consumer
department and table into lake.ops.table_usage."""
