"""The query audit's moving parts beside Trino: its settings, the receiver of Trino's query events
and the spool it keeps them in until `citylake audit load` (jobs/audit) takes them into the lake."""
