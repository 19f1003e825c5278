"""What `citylake status` shows: the last runs with their steps, and each resource's freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from citylake.catalog import Catalog
from citylake.schedule import DailyRun
from jobs.run import ledger
from jobs.run.freshness import Freshness, freshness, latest_extracts
from jobs.run.ledger import FAILED, RUN, RUNNING, SUCCEEDED, Attempt
from jobs.run.lock import held_by, holding_run

INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    outcome: str              # succeeded | failed | running | interrupted
    started_at: datetime
    ended_at: datetime | None
    steps: list[Attempt]      # each step's latest attempt, in order


def run_summaries(attempts: list[Attempt], running: str | None, limit: int) -> list[RunSummary]:
    """The latest `limit` runs, newest first, from the ledger's latest attempt states; `running`:
    the id of the run holding the lake now, if any."""
    by_run: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_run.setdefault(attempt.run_id, []).append(attempt)
    summaries = []
    for run_id, own in by_run.items():
        end = next((a for a in own if a.step == RUN), None)
        steps = {a.step: a for a in own if a.step != RUN}  # later attempts replace earlier ones
        if end is not None and end.outcome in (SUCCEEDED, FAILED) and not (running and running == run_id):
            outcome = end.outcome
        elif running == run_id:
            outcome = RUNNING
        else:
            outcome = INTERRUPTED
        started = min(a.started_at for a in own)
        summaries.append(RunSummary(run_id, outcome, started, end.ended_at if end else None, list(steps.values())))
    return sorted(summaries, key=lambda s: s.started_at, reverse=True)[:limit]


def lake_status(spark: SparkSession, catalog: Catalog, daily: DailyRun, var: Path, limit: int = 5
                ) -> tuple[list[RunSummary], list[Freshness], str | None]:
    """The last runs, every resource's freshness now, and the run holding the lake (if any)."""
    holder, running = held_by(var / "run"), holding_run(var / "run")
    runs = run_summaries(ledger.latest_states(spark), running, limit)
    fresh = freshness(catalog, latest_extracts(spark), datetime.now(), timedelta(hours=daily.freshness.grace_hours))
    return runs, fresh, holder
