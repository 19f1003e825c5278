"""`lake.ops.job_run`, documented: the daily run's ledger, made from the run itself and its schedule."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns
from jobs.run.ledger import JOB_RUN, SCHEMA

RUN_ITSELF = "run:citylake run"

COLUMNS = {
    "run_id": ("运行编号", "The run: its business day and its number that day (2026-03-05.1); a resumed run keeps its id."),
    "run_date": ("业务日期", "The business day the run is for."),
    "step": ("步骤", "The step (land, integrate, base, theme, warn, catalog, audit, dashboards), or (run) for the run's own row."),
    "attempt": ("尝试次数", "The attempt's number: retries of a step declared retryable count up from 1."),
    "started_at": ("开始时间", "When the attempt (or the run) started."),
    "ended_at": ("结束时间", "When it ended; empty while running."),
    "rows_in": ("输入行数", "Rows the step read (packages' rows, batches' rows, events)."),
    "rows_out": ("输出行数", "Rows the step wrote or changed."),
    "outcome": ("结果", "running, succeeded or failed; the latest row of an attempt is its state."),
    "error": ("错误", "Why it failed, in the job's words."),
    "detail": ("说明", "What the step did, in one line; for the run's row, the resources late at its end."),
    "host": ("主机", "The machine the run ran on."),
    "pid": ("进程号", "The run's process id."),
    "recorded_at": ("记录时间", "When this row was written."),
}


def declared(catalog: Catalog) -> Declared:
    table = TableDoc(JOB_RUN, "运行台账：每日运行的每个步骤每次尝试的开始、结束、行数、结果和错误。",
                     "Run ledger: every attempt of every step of the daily run, its start and end, rows, outcome "
                     "and error; a run's own row says how it ended and which resources were late.",
                     "one row per state of an attempt (its latest row is its state)",
                     ("run_id", "step", "attempt", "recorded_at"), schema_columns(SCHEMA, COLUMNS))
    edges = (Edge(JOB_RUN, RUN_ITSELF, "ledger", "each step's attempts as they start and end"),
             Edge(JOB_RUN, configuration("schedule.yml"), "configuration", "the steps, their order and retries"),
             Edge(JOB_RUN, "ops.batch_ledger", "reference", "the resources late at the run's end"))
    return Declared((table,), edges)
