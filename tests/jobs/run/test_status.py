"""How `citylake status` reads the ledger: a run ends succeeded or failed by its own row; a run
without one is running while it holds the lake, else it was interrupted (killed: resume it)."""

from datetime import date, datetime, timedelta

from jobs.run.ledger import FAILED, RUN, RUNNING, SUCCEEDED, Attempt
from jobs.run.status import INTERRUPTED, run_summaries

T0 = datetime(2026, 3, 6, 2, 30)


def attempt(run_id, step, minutes, outcome, number=1):
    return Attempt(run_id, date(2026, 3, 6), step, number, T0 + timedelta(minutes=minutes),
                   T0 + timedelta(minutes=minutes + 1), outcome=outcome)


def test_each_runs_outcome_and_its_steps_latest_attempts_newest_run_first():
    ledger = [
        attempt("2026-03-06.1", "land", 0, SUCCEEDED), attempt("2026-03-06.1", "integrate", 1, FAILED),
        attempt("2026-03-06.1", "integrate", 2, SUCCEEDED, number=2), attempt("2026-03-06.1", RUN, 0, SUCCEEDED),
        attempt("2026-03-06.2", "land", 10, FAILED), attempt("2026-03-06.2", RUN, 10, FAILED),
        attempt("2026-03-06.3", "land", 20, SUCCEEDED), attempt("2026-03-06.3", "integrate", 21, RUNNING),
        attempt("2026-03-06.4", "land", 30, RUNNING),
    ]
    runs = run_summaries(ledger, running="2026-03-06.4", limit=10)
    assert [(run.run_id, run.outcome) for run in runs] == [
        ("2026-03-06.4", RUNNING), ("2026-03-06.3", INTERRUPTED), ("2026-03-06.2", FAILED), ("2026-03-06.1", SUCCEEDED)]
    first = runs[-1]
    assert [(s.step, s.attempt, s.outcome) for s in first.steps] == [("land", 1, SUCCEEDED), ("integrate", 2, SUCCEEDED)]
    assert [run.run_id for run in run_summaries(ledger, running=None, limit=2)] == ["2026-03-06.4", "2026-03-06.3"]
    assert run_summaries(ledger, running=None, limit=10)[0].outcome == INTERRUPTED
