"""kill -9 trials: a job (landing, integration or the base build) run as its own process on a
scratch lake, killed with SIGKILL at a seeded random moment, run again to completion, and every
table of the lake compared, row for row, with a run of the same job without faults.

    .venv/bin/python benchmarks/kill_trials.py [--trials 30] [--seed 7] [--job land|integrate|base|all]
        [--persons 40] [--days 3] [--work var/kill-trials]

Per job: the lake the job starts from is prepared once (a generated city of `--persons` persons
and `--days` days of deliveries; for integration that city landed, for the base build landed and
integrated), then the job runs twice on copies of it without faults: the first run is the
reference and its time bounds the kill delays; columns that differ between the two fault-free runs
(ingest times, timings) say when a job ran, not what it made, and are left out of every comparison.
Each trial copies the prepared lake, starts `citylake <job>` in a process group of its own
(Python and its Spark JVM), sleeps a delay drawn uniformly from [0, the reference's duration],
SIGKILLs the group (the JVM dies with it, as with a machine's power), runs the job again, and
compares: no table missing or extra, no row lost or doubled, and in the batch ledger every
package that landed in the reference landed exactly once. Prints per job the trials, how many
kills struck mid-run and after the job had committed something, passes and failures (a failed
trial's lake is kept). Exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# the comparing process's own Spark reads tiny tables: a small driver beside the job's
os.environ.setdefault("CITYLAKE__SPARK__DRIVER_MEMORY", "1g")
os.environ.setdefault("CITYLAKE__TRINO__PORT", "1")

JOBS = ("land", "integrate", "base")
# what must have run, fault-free, before the job
BEFORE = {"land": (), "integrate": ("land",), "base": ("land", "integrate")}
LEDGER = "ops/batch_ledger"

Rows = Counter  # a table's rows (as canonical JSON) and how often each occurs


@dataclass
class Trial:
    job: str
    number: int
    delay_s: float
    killed_mid_run: bool = False     # the job was still running when the kill came
    killed_after_commit: bool = False  # ... and had committed to the lake already
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class Reference:
    """A job's fault-free result: its tables, the columns that vary between fault-free runs, its time."""

    prepared: Path
    tables: dict[str, Rows]
    volatile: dict[str, set[str]]
    seconds: float


# ------------------------------------------------------------------ running a job


def lake_env(lake: Path, inbox: Path) -> dict[str, str]:
    """The environment of a job process on the scratch lake under `lake`: no Trino (tables are
    registered when one starts), a small driver."""
    var = lake / "var"
    return {**os.environ, "CITYLAKE_PROFILE": "local", "CITYLAKE__PATHS__VAR": str(var),
            "CITYLAKE__PATHS__WAREHOUSE": str(var / "warehouse"), "CITYLAKE__PATHS__CITY": str(inbox.parent),
            "CITYLAKE__PATHS__INBOX": str(inbox), "CITYLAKE__PATHS__DASHBOARDS": str(var / "dashboards"),
            "CITYLAKE__PATHS__DOCS": str(var / "docs"), "CITYLAKE__TRINO__PORT": "1",
            "CITYLAKE__SPARK__DRIVER_MEMORY": os.environ.get("KILL_TRIALS_DRIVER_MEMORY", "2g")}


def job_command(job: str, inbox: Path) -> list[str]:
    arguments = ["land", "--inbox", str(inbox)] if job == "land" else [job]
    return [sys.executable, "-m", "citylake.cli", *arguments]


def run_job(job: str, lake: Path, inbox: Path, kill_after: float | None = None) -> tuple[bool, float]:
    """Run the job on the lake; with `kill_after`, SIGKILL its process group after that many
    seconds. (whether it was killed, its seconds); a run that is not killed must succeed."""
    log = (lake / f"{job}.log").open("ab")
    started = time.monotonic()
    process = subprocess.Popen(job_command(job, inbox), cwd=REPO, env=lake_env(lake, inbox), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        process.wait(timeout=kill_after)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed = True
    finally:
        log.close()
    _wait_until_gone(process.pid)
    seconds = time.monotonic() - started
    if not killed and process.returncode != 0:
        raise RuntimeError(f"citylake {job} failed (exit {process.returncode}); see {lake / f'{job}.log'}")
    return killed, seconds


def _wait_until_gone(group: int, timeout: float = 30.0) -> None:
    """Until no process of the group is left (the JVM, reparented once Python died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"process group {group} still alive {timeout:.0f} s after SIGKILL")


def commits(lake: Path) -> int:
    """How many Delta commits the lake's tables hold."""
    return sum(1 for _ in (lake / "var" / "warehouse").glob("*/*/_delta_log/*.json"))


# ------------------------------------------------------------------ comparing lakes


def read_tables(spark, lake: Path) -> dict[str, Rows]:
    """Every Delta table of the lake, `layer/table` -> its rows."""
    warehouse = lake / "var" / "warehouse"
    tables = {}
    for log in sorted(warehouse.glob("*/*/_delta_log")):
        if not any(log.glob("*.json")):
            continue  # a table folder whose first commit never happened: no table
        name = str(log.parent.relative_to(warehouse))
        rows = spark.read.format("delta").load(str(log.parent)).collect()
        tables[name] = Counter(json.dumps(row.asDict(recursive=True), default=str, sort_keys=True) for row in rows)
    return tables


def volatile_columns(first: dict[str, Rows], second: dict[str, Rows]) -> dict[str, set[str]]:
    """Per table, the columns whose values differ between two fault-free runs."""
    volatile = {}
    for name in first.keys() & second.keys():
        values_a, values_b = _column_values(first[name]), _column_values(second[name])
        volatile[name] = {column for column in values_a.keys() | values_b.keys()
                          if values_a.get(column) != values_b.get(column)}
    return volatile


def _column_values(rows: Rows) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for row, count in rows.items():
        for column, value in json.loads(row).items():
            columns.setdefault(column, []).extend([json.dumps(value, sort_keys=True)] * count)
    return {column: sorted(values) for column, values in columns.items()}


def _without(rows: Rows, columns: set[str]) -> Rows:
    kept = Counter()
    for row, count in rows.items():
        values = {name: value for name, value in json.loads(row).items() if name not in columns}
        kept[json.dumps(values, sort_keys=True)] += count
    return kept


def differences(reference: Reference, trial: dict[str, Rows]) -> list[str]:
    """What the trial's lake has that the reference has not, and the reverse, table by table."""
    problems = [f"table {name} missing" for name in sorted(reference.tables.keys() - trial.keys())]
    problems += [f"table {name} not in the reference" for name in sorted(trial.keys() - reference.tables.keys())]
    for name in sorted(reference.tables.keys() & trial.keys()):
        volatile = reference.volatile.get(name, set())
        expected, got = _without(reference.tables[name], volatile), _without(trial[name], volatile)
        lost, extra = expected - got, got - expected
        if lost or extra:
            problems.append(f"{name}: {sum(lost.values())} row(s) lost, {sum(extra.values())} extra or doubled"
                            f"{'; e.g. extra ' + next(iter(extra))[:300] if extra else ''}")
    return problems + ledger_problems(reference.tables.get(LEDGER, Counter()), trial.get(LEDGER, Counter()))


def ledger_problems(reference: Rows, trial: Rows) -> list[str]:
    """Every package that landed in the reference landed exactly once in the trial."""
    def landed(rows: Rows) -> Counter:
        counts = Counter()
        for row, count in rows.items():
            values = json.loads(row)
            if values["status"] == "landed":
                counts[(values["department"], values["resource"], values["batch_id"])] += count
        return counts

    expected, got = landed(reference), landed(trial)
    twice = sorted(batch for batch, count in got.items() if count > 1)
    missing = sorted(expected.keys() - got.keys())
    return ([f"ledger: batch {'/'.join(batch)} landed {got[batch]} times" for batch in twice]
            + [f"ledger: batch {'/'.join(batch)} never landed" for batch in missing])


# ------------------------------------------------------------------ the trials


def generate(city: Path, persons: int, days: int, seed: int) -> Path:
    """A tiny generated city; its inbox."""
    try:
        from synthetic import generate_city
    except ImportError:  # before the generator moved to the top level
        from citylake.synthetic import generate_city
    if not (city / "inbox").is_dir():
        generate_city(city, persons=persons, days=days, seed=seed, start=date(2026, 3, 1), progress=False)
    return city / "inbox"


def copy_lake(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        target.mkdir(parents=True)
    return target


def prepare(job: str, work: Path, inbox: Path) -> Path:
    """The lake the job starts from: the jobs before it run without faults (the previous job's
    reference lake when its trials made one)."""
    prepared = work / f"{job}-prepared"
    if not (prepared / "ready").exists():
        before = BEFORE[job]
        previous = work / f"{before[-1]}-reference" if before else None
        if previous is not None and (previous / "ready").exists():
            copy_lake(previous, prepared)
        else:
            copy_lake(work / "nothing", prepared)
            for step in before:
                run_job(step, prepared, inbox)
        (prepared / "ready").touch()
    return prepared


def reference(spark, job: str, work: Path, inbox: Path) -> Reference:
    """Two fault-free runs of the job from its prepared lake: the first's tables and time, and the
    columns the two disagree on."""
    prepared = prepare(job, work, inbox)
    first, second = copy_lake(prepared, work / f"{job}-reference"), copy_lake(prepared, work / f"{job}-reference-2")
    (first / "ready").unlink(missing_ok=True)
    _, seconds = run_job(job, first, inbox)
    run_job(job, second, inbox)
    (first / "ready").touch()  # a lake the next job may start from
    tables, again = read_tables(spark, first), read_tables(spark, second)
    volatile = volatile_columns(tables, again)
    made = Reference(prepared, tables, volatile, seconds)
    if unequal := differences(made, again):
        raise RuntimeError(f"two fault-free runs of {job} differ beyond their timings: {unequal}")
    shutil.rmtree(second)
    return made


def trial(spark, job: str, number: int, seed: int, ref: Reference, work: Path, inbox: Path) -> Trial:
    """One kill -9 of the job at a seeded random moment, its rerun, and the comparison."""
    delay = random.Random(f"{seed}/{job}/{number}").uniform(0, ref.seconds)
    result = Trial(job, number, delay)
    lake = copy_lake(ref.prepared, work / f"{job}-trial-{number}")
    before = commits(lake)
    result.killed_mid_run, _ = run_job(job, lake, inbox, kill_after=delay)
    result.killed_after_commit = result.killed_mid_run and commits(lake) > before
    run_job(job, lake, inbox)
    result.problems = differences(ref, read_tables(spark, lake))
    if result.passed:
        shutil.rmtree(lake)
    return result


def run_trials(spark, job: str, trials: int, seed: int, work: Path, inbox: Path,
               report: Callable[[Trial], None] = lambda trial: None) -> list[Trial]:
    ref = reference(spark, job, work, inbox)
    print(f"{job}: reference run {ref.seconds:.1f} s; left out as run-dependent: "
          + "; ".join(f"{name} ({', '.join(sorted(columns))})" for name, columns in sorted(ref.volatile.items())
                      if columns), flush=True)
    done = []
    for number in range(trials):
        done.append(trial(spark, job, number, seed, ref, work, inbox))
        report(done[-1])
    return done


def summary(job: str, trials: list[Trial]) -> str:
    passed = sum(trial.passed for trial in trials)
    mid_run = sum(trial.killed_mid_run for trial in trials)
    after_commit = sum(trial.killed_after_commit for trial in trials)
    return (f"{job:<10} trials {len(trials):>3}  killed mid-run {mid_run:>3}  after a commit {after_commit:>3}  "
            f"passed {passed:>3}  failed {len(trials) - passed:>3}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--job", choices=[*JOBS, "all"], default="all")
    parser.add_argument("--persons", type=int, default=40)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "kill-trials")
    args = parser.parse_args()

    from citylake.spark import spark_session

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    inbox = generate(work / "city", args.persons, args.days, args.seed)
    spark = spark_session()

    def report(trial: Trial) -> None:
        verdict = "pass" if trial.passed else "FAIL " + " | ".join(trial.problems)
        print(f"  {trial.job} #{trial.number:<3} kill at {trial.delay_s:6.1f} s  "
              f"{'mid-run' if trial.killed_mid_run else 'after it ended'}"
              f"{', after a commit' if trial.killed_after_commit else ''}: {verdict}", flush=True)

    results = {job: run_trials(spark, job, args.trials, args.seed, work, inbox, report)
               for job in (JOBS if args.job == "all" else (args.job,))}
    print()
    for job, trials in results.items():
        print(summary(job, trials))
    sys.exit(0 if all(trial.passed for trials in results.values() for trial in trials) else 1)


if __name__ == "__main__":
    main()
