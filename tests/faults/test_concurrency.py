"""Two landing runs at once, on different resources, each its own `citylake land` process, while a
Trino reader queries both raw tables and the ledger: neither run fails, every read succeeds and
sees whole batches only (a consistent snapshot), and afterwards every package landed exactly once.
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from citylake.trino import client
from jobs.landing.job import land_inbox
from tests.faults.fuzz_packages import HRSS, PSB, forget, hrss_package, hrss_rows, psb_package
from tests.packages import PSB_HEADER, csv_bytes, jsonl_bytes, psb_rows

pytestmark = [pytest.mark.spark, pytest.mark.trino, pytest.mark.faults]

REPO = Path(__file__).resolve().parents[2]
BATCHES = 4  # per resource, after the first one landed here
ROWS = {PSB: 30, HRSS: 20}


def _deliver(inbox: Path, resource, sequence: int) -> None:
    """Sequence `sequence` of the resource: a full extract of the same keys, its values changed."""
    batch_id = f"conc-{resource[0]}-{sequence}"
    if resource == PSB:
        rows = psb_rows(ROWS[PSB])
        for row in rows:
            row[6] = f"{row[6]} 第{sequence}次"
        psb_package(inbox, sequence, batch_id, csv_bytes(PSB_HEADER, rows), rows=ROWS[PSB])
    else:
        rows = hrss_rows(ROWS[HRSS])
        for row in rows:
            row["缴费基数"] = f"{5000 + sequence}.00"
        hrss_package(inbox, sequence, batch_id, jsonl_bytes(rows), rows=ROWS[HRSS])


def _land_process(inbox: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CITYLAKE__SPARK__DRIVER_MEMORY": "1g"}  # the test session's scratch lake and Trino
    return subprocess.Popen([sys.executable, "-m", "citylake.cli", "land", "--inbox", str(inbox)], cwd=REPO,
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


READS = {
    PSB: "SELECT _batch_id, count(*) FROM lake.raw.psb_household_registration GROUP BY _batch_id",
    HRSS: "SELECT _batch_id, count(*) FROM lake.raw.hrss_social_insurance GROUP BY _batch_id",
}
LEDGER_READ = ("SELECT batch_id, count(*) FROM lake.ops.batch_ledger WHERE status = 'landed' "
               "AND batch_id LIKE 'conc-%' GROUP BY batch_id")


def test_two_landing_runs_at_once_while_trino_reads(spark, trino, catalog, tmp_path):
    for resource in (PSB, HRSS):
        forget(spark, resource)
    first = tmp_path / "first"
    for resource in (PSB, HRSS):  # the tables exist (and Trino knows them) before the runs
        _deliver(first, resource, 1)
    assert [entry.status for entry in land_inbox(spark, first, catalog)] == ["landed", "landed"]
    client.sync_catalog(trino)

    inboxes = {resource: tmp_path / f"inbox-{resource[0]}" for resource in (PSB, HRSS)}
    for resource, inbox in inboxes.items():
        for sequence in range(2, 2 + BATCHES):
            _deliver(inbox, resource, sequence)
    runs = [_land_process(inbox, tmp_path / f"{resource[0]}.log") for resource, inbox in inboxes.items()]

    reads, partial = Counter(), []
    while any(run.poll() is None for run in runs):
        for resource, sql in READS.items():
            for batch_id, rows in client.run_query(trino, sql):  # a failing read fails the test
                if rows != ROWS[resource]:
                    partial.append((batch_id, rows))
            reads[resource] += 1
        time.sleep(0.2)

    logs = {resource: (tmp_path / f"{resource[0]}.log").read_text(errors="replace")[-2000:] for resource in inboxes}
    print(f"concurrent landing: 2 runs x {BATCHES} batches, {sum(reads.values())} Trino reads during them, "
          f"{len(partial)} partial")
    assert [run.returncode for run in runs] == [0, 0], logs
    assert partial == []  # every read saw whole batches
    assert min(reads.values()) >= 3, reads
    landed = dict(client.run_query(trino, LEDGER_READ))
    expected = {f"conc-{resource[0]}-{sequence}": 1 for resource in (PSB, HRSS) for sequence in range(1, 2 + BATCHES)}
    assert landed == expected
    for resource, sql in READS.items():
        assert sorted(client.run_query(trino, sql)) == sorted(
            (f"conc-{resource[0]}-{sequence}", ROWS[resource]) for sequence in range(1, 2 + BATCHES))
