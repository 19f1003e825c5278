"""What maintenance a table needs, from its state: deletion vectors, small files, vacuum age,
the retention floor of running readers and the Z-order columns."""

from datetime import datetime, timedelta, timezone

import pytest

from citylake.maintenance import load_maintenance
from jobs.maintain.plan import (TableState, has_deletion_vectors, needs_compaction, plan_table, retention_hours,
                                zorder_columns)

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
MB = 1024 * 1024


@pytest.fixture(scope="module")
def rules():
    return load_maintenance()


WEEK = timedelta(days=7)


def state(files=1, size_mb=100.0, operations=("WRITE",), last_vacuum=NOW, zorder=("id_number",),
          created=NOW - 4 * WEEK):
    return TableState("integrated.psb_household_registration", files, int(size_mb * MB), operations, created,
                      last_vacuum, zorder)


def test_deletion_vectors_count_until_a_compaction_or_purge_rewrote_the_files():
    assert has_deletion_vectors(("UPDATE", "WRITE"))
    assert has_deletion_vectors(("WRITE", "MERGE", "OPTIMIZE", "DELETE"))
    assert not has_deletion_vectors(("WRITE", "OPTIMIZE", "DELETE"))
    assert not has_deletion_vectors(("REORG", "UPDATE")) and not has_deletion_vectors(("WRITE", "CREATE TABLE"))


def test_many_small_files_are_compacted_few_or_large_ones_are_not(rules):
    minimum, small = rules.compaction.min_files, rules.compaction.small_file_mb
    assert needs_compaction(state(files=minimum, size_mb=minimum * small * 0.5), rules)
    assert not needs_compaction(state(files=minimum - 1, size_mb=0.1), rules)
    assert not needs_compaction(state(files=minimum * 4, size_mb=minimum * 4 * small * 2), rules)


def test_a_plan_says_why_and_a_compaction_makes_the_purge_needless(rules):
    plan = plan_table(state(files=40, size_mb=4, operations=("UPDATE", "WRITE"), last_vacuum=None), rules, NOW, WEEK)
    assert (plan.purge, plan.compact, plan.vacuum) == (False, True, True) and plan.zorder == ("id_number",)
    assert plan.reasons == ("rows removed since its last compaction (deletion vectors)",
                            "40 files averaging 0.10 MB", "never vacuumed")
    only_purge = plan_table(state(operations=("DELETE",)), rules, NOW, WEEK)
    assert (only_purge.purge, only_purge.compact, only_purge.vacuum) == (True, False, False)


def test_vacuum_waits_its_interval_and_a_table_older_than_the_retention(rules):
    every = timedelta(days=rules.vacuum.every_days)
    assert not plan_table(state(last_vacuum=NOW - every + timedelta(hours=1)), rules, NOW, WEEK).anything
    assert plan_table(state(last_vacuum=NOW - every), rules, NOW, WEEK).vacuum
    # no file of a table younger than the retention can be old enough to go
    assert not plan_table(state(last_vacuum=None, created=NOW - timedelta(days=6)), rules, NOW, WEEK).vacuum


def test_retention_never_drops_below_twice_the_longest_step():
    assert retention_hours(168, 0) == 168
    assert retention_hours(0.5, 3600) == 2.0  # a one-hour step: its snapshot's files kept two hours


def test_zorder_takes_the_first_keys_the_table_has():
    assert zorder_columns(["uscc", "month", "street_code"], ["month", "uscc", "street_code"], 2) == ("uscc", "month")
    assert zorder_columns(["id_number"], ["name"], 2) == ()
