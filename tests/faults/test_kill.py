"""kill -9 at seeded random moments of landing, integration and the base build (through
benchmarks/kill_trials.py, on a tiny generated city): the rerun ends with every table equal, row
for row, to a run without faults, and every package landed exactly once in the ledger.

With its two fault-free reference runs a trial is four runs of the job, each a Spark process of
its own, and a run's fixed costs dominate on a tiny city: on this machine about 5 minutes for
landing's trial and 25 for integration's or the base build's under load. So the suite runs one
seeded trial of landing, and integration's and the base build's when asked:
`CITYLAKE_KILL_TRIALS=N` runs N of each job; `benchmarks/kill_trials.py --trials 30` the full set.
"""

import importlib
import os

import pytest

pytestmark = pytest.mark.faults

kill_trials = importlib.import_module("benchmarks.kill_trials")

SEED = 11
ASKED = os.environ.get("CITYLAKE_KILL_TRIALS")


def trials_of(job: str) -> int:
    return int(ASKED) if ASKED else int(job == "land")


@pytest.fixture(scope="module")
def kill_work(tmp_path_factory):
    """A scratch folder for the trials' lakes, with a city of 20 persons and one day of deliveries."""
    work = tmp_path_factory.mktemp("kill-trials")
    return work, kill_trials.generate(work / "city", persons=20, days=1, seed=SEED)


# in this order: integration's trials start from landing's reference lake, the base build's from integration's
@pytest.mark.spark
@pytest.mark.parametrize("job", kill_trials.JOBS)
def test_a_job_killed_at_random_and_run_again_ends_as_a_run_without_faults(spark, kill_work, job):
    count = trials_of(job)
    if not count:
        pytest.skip(f"{job}'s kill trials run when asked: CITYLAKE_KILL_TRIALS=N (each trial four Spark runs)")
    work, inbox = kill_work
    trials = kill_trials.run_trials(spark, job, count, SEED, work, inbox)
    print(kill_trials.summary(job, trials))
    assert {trial.number: trial.problems for trial in trials} == {trial.number: [] for trial in trials}
    assert len(trials) == count


def test_the_comparison_finds_a_doubled_row_a_lost_row_and_a_batch_landed_twice():
    from collections import Counter

    ledger_row = '{"batch_id": "b1", "department": "psb", "resource": "r", "status": "landed", "t": 1}'
    reference = kill_trials.Reference(prepared=None, tables={"raw/t": Counter({'{"a": 1}': 1, '{"a": 2}': 1}),
                                                             kill_trials.LEDGER: Counter({ledger_row: 1})},
                                      volatile={kill_trials.LEDGER: {"t"}}, seconds=1.0)
    trial = {"raw/t": Counter({'{"a": 1}': 2}),
             kill_trials.LEDGER: Counter({ledger_row: 1, ledger_row.replace('"t": 1', '"t": 2'): 1})}
    assert kill_trials.differences(reference, trial) == [
        f"{kill_trials.LEDGER}: 0 row(s) lost, 1 extra or doubled; e.g. extra "
        '{"batch_id": "b1", "department": "psb", "resource": "r", "status": "landed"}',
        "raw/t: 1 row(s) lost, 1 extra or doubled; e.g. extra {\"a\": 1}",
        "ledger: batch psb/r/b1 landed 2 times",
    ]
