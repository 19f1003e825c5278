"""Fuzzed delivery packages (tests/faults/fuzz_packages.py) through the landing job: each gets the
outcome the delivery contract documents, with a clear reason in lake.ops.batch_ledger; a package
turned away writes nothing (the raw tables' versions, rows and files as they were); nothing
escapes `land_inbox`.

The packages turned away (rejected, held) go through one landing run together, as they would
arrive in one inbox; each package that lands has a run of its own, as it moves its resource on.
"""

import re
from collections import Counter

import pytest
from pyspark.sql import functions as F

from citylake import lake
from jobs.landing.job import land_inbox
from jobs.landing.ledger import LEDGER, resource_history
from jobs.landing.quarantine import QUARANTINE
from jobs.landing.staging import batch_folder_name
from tests.faults.fuzz_packages import AMR, BASE_ROWS, CASES, HRSS, OUTCOMES, PSB, base_csv, forget, psb_package

pytestmark = [pytest.mark.spark, pytest.mark.faults]

RESOURCES = (PSB, HRSS, AMR, ("psb", "no_such_register"))
TURNED_AWAY = [case for case in CASES if case.outcome in ("rejected", "held")]
LANDING = [case for case in CASES if case.outcome in ("landed", "quarantined")]


def _table(resource: tuple[str, str]) -> str:
    return f"raw.{resource[0]}_{resource[1]}"


def _snapshot(spark, resource: tuple[str, str]) -> tuple[int, int, frozenset[str]] | None:
    """The raw table's version, row count and every file under its folder; None without a table."""
    folder = lake.table_folder(_table(resource))
    if not folder.is_dir():
        return None
    version = max((int(path.stem) for path in (folder / "_delta_log").glob("*.json")), default=-1)
    files = frozenset(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    rows = lake.read_table(spark, _table(resource)).count() if version >= 0 else 0
    return version, rows, files


def _next_sequence(spark, resource: tuple[str, str]) -> int:
    return resource_history(spark, *resource).last_sequence + 1


def _outcome(entry) -> str:
    return "quarantined" if entry.status == "landed" and entry.rows_quarantined else entry.status


def _batch_id(case) -> str:
    return "fuzz-" + re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")


def _ledger_rows(spark, package_path: str) -> list:
    return lake.read_table(spark, LEDGER).where(F.col("package_path") == package_path).collect()


@pytest.fixture(scope="module")
def observed():
    """Each case's outcome as the tests saw it."""
    return {}


@pytest.fixture(scope="module")
def fuzz_lake(spark, catalog):
    """The fuzzed resources forgotten, then household registration's first delivery landed: the
    current state that a package turned away must leave as it was."""
    for resource in RESOURCES:
        forget(spark, resource)
    return catalog


@pytest.fixture(scope="module")
def base_landed(spark, fuzz_lake, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("fuzz-base")
    psb_package(inbox, 1, "fuzz-base", base_csv())
    [entry] = land_inbox(spark, inbox, fuzz_lake)
    assert (entry.status, entry.rows_landed) == ("landed", BASE_ROWS)
    return fuzz_lake


@pytest.fixture(scope="module")
def turned_away_run(spark, base_landed, tmp_path_factory):
    """Every package to be turned away in one inbox, landed in one run: (before, entries, after)."""
    inbox = tmp_path_factory.mktemp("fuzz-inbox")
    folders = {case.name: case.build(inbox, _next_sequence(spark, case.resource), _batch_id(case))
               for case in TURNED_AWAY}
    before = {resource: _snapshot(spark, resource) for resource in RESOURCES}
    entries = {entry.package_path: entry for entry in land_inbox(spark, inbox, base_landed)}  # raises nothing
    after = {resource: _snapshot(spark, resource) for resource in RESOURCES}
    ledger = lake.read_table(spark, LEDGER).where(F.col("package_path").startswith(str(inbox))).collect()
    return folders, entries, before, after, ledger


@pytest.mark.parametrize("case", TURNED_AWAY, ids=lambda case: case.name)
def test_a_package_turned_away_gets_its_reason_and_writes_nothing(spark, turned_away_run, case, observed):
    folders, entries, _, _, ledger = turned_away_run
    folder = folders[case.name]
    entry = entries[str(folder)]
    observed[case.name] = _outcome(entry)
    assert entry.status == case.outcome
    assert re.search(case.reason, entry.reason), entry.reason
    assert (entry.rows_landed, entry.rows_quarantined) == (0, 0)
    assert [(row.status, row.reason) for row in ledger if row.package_path == str(folder)] == \
        [(entry.status, entry.reason)]
    table_folder = lake.table_folder(_table(case.resource))
    assert not (table_folder / batch_folder_name(_batch_id(case))).exists()


def test_the_packages_turned_away_leave_every_raw_table_as_it_was(turned_away_run):
    _, _, before, after, _ = turned_away_run
    assert before[PSB] is not None and before[PSB][1] == BASE_ROWS
    assert after == before  # version, rows and files; no table where there was none
    assert after[("psb", "no_such_register")] is None


@pytest.mark.parametrize("case", LANDING, ids=lambda case: case.name)
def test_a_package_that_lands_lands_whole_with_its_bad_rows_quarantined(spark, base_landed, case, observed,
                                                                         tmp_path):
    folder = case.build(tmp_path / "inbox", _next_sequence(spark, case.resource), _batch_id(case))
    before = _snapshot(spark, case.resource)
    [entry] = land_inbox(spark, tmp_path / "inbox", base_landed)
    observed[case.name] = _outcome(entry)
    assert _outcome(entry) == case.outcome, entry.reason
    assert entry.rows_landed + entry.rows_quarantined == entry.rows_read
    table = lake.read_table(spark, _table(case.resource))
    assert table.where(F.col("_batch_id") == _batch_id(case)).count() == entry.rows_landed
    assert table.count() == (before[1] if before else 0) + entry.rows_landed
    quarantined = lake.read_table(spark, QUARANTINE).where(F.col("batch_id") == _batch_id(case)).collect() \
        if lake.table_exists(spark, QUARANTINE) else []
    assert len(quarantined) == entry.rows_quarantined
    assert all(re.search(case.reason, row.reason) for row in quarantined)
    assert [row.status for row in _ledger_rows(spark, str(folder))] == ["landed"]


def test_every_fuzzed_package_got_its_documented_outcome(observed):
    """Counts per outcome, printed; every case ran in this module and got the outcome it documents."""
    counts = Counter(observed.values())
    print("fuzzed packages by outcome:", ", ".join(f"{outcome} {counts[outcome]}" for outcome in OUTCOMES))
    assert observed == {case.name: case.outcome for case in CASES}
