"""`lake.ops.quarantine`: rows set aside with the rule they broke and why, for the department to correct.

Two stages put rows here: landing (rows that cannot be parsed: `row_text` holds the line as
delivered) and integration (rows breaking a quality rule whose action is `quarantine` or
`reject`, in applied and rejected batches alike: `row_values` holds the delivered values by the
department's own column names, so the row can be sent back in a correction package). A rerun of a
stage replaces the rows it wrote for a batch.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from citylake.ops_tables import LANDING, QUARANTINE as QUARANTINE_TABLE, UNPARSEABLE, replace_quarantined
from jobs.landing.manifest import Manifest, now
from jobs.landing.readers import BadRow

QUARANTINE, QUARANTINE_SCHEMA = QUARANTINE_TABLE.name, QUARANTINE_TABLE.schema

COLUMNS = [field.name for field in QUARANTINE_SCHEMA.fields]


def quarantine_unparseable(spark: SparkSession, manifest: Manifest, bad_rows: list[tuple[str, BadRow]]) -> None:
    """Write the batch's unparseable rows, replacing any this batch wrote in an interrupted run."""
    if not bad_rows:
        return
    at = now()
    rows = [(manifest.department, manifest.resource, manifest.batch_id, manifest.sequence, file, row.record,
             UNPARSEABLE, row.reason, row.text, at, LANDING, UNPARSEABLE, None, None, None, None)
            for file, row in bad_rows]
    replace_quarantined(spark, QUARANTINE_TABLE.frame(spark, rows), manifest.department, manifest.resource,
                        [manifest.batch_id], LANDING)
