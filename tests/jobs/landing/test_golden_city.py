"""Golden test: a small generated city landed wave by wave; every package ends as the generator's
ground truth says, and every unparseable row it injected is in the quarantine with its place."""

import shutil
from datetime import date

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from citylake import lake
from synthetic import generate_city
from citylake.trino import client
from jobs.landing.job import land_inbox

pytestmark = [pytest.mark.spark, pytest.mark.trino]


@pytest.fixture(scope="module")
def landed_city(spark, trino, catalog, tmp_path_factory):
    """A 600-person city, 30 days of deliveries, landed as they arrive: inbox, late inbox, inbox."""
    shutil.rmtree(trino.path("warehouse") / "raw", ignore_errors=True)
    client.sync_catalog(trino)
    for table in ("ops.batch_ledger", "ops.quarantine"):
        if lake.table_exists(spark, table):
            lake.delta_table(spark, table).delete(F.lit(True))
    city = tmp_path_factory.mktemp("golden-city")
    generate_city(city, persons=600, days=30, seed=11, start=date(2026, 3, 1), progress=False)
    waves = {}
    for name, inbox in (("first", city / "inbox"), ("late", city / "late_inbox"), ("again", city / "inbox")):
        waves[name] = land_inbox(spark, inbox, catalog)
    return city, waves


def test_every_package_fault_kind_is_in_the_city(landed_city):
    city, _ = landed_city
    faults = set(pq.read_table(city / "truth" / "packages.parquet").column("fault").to_pylist())
    assert {"district_missing", "sequence_gap", "truncated_file", "replay", "conflicting_replay"} <= faults


def test_each_package_ends_as_the_ground_truth_says_at_its_arrival(landed_city):
    city, waves = landed_city
    truth = pq.read_table(city / "truth" / "packages.parquet").to_pandas()
    first_seen = {}
    for entry in waves["first"] + waves["late"]:
        first_seen.setdefault(entry.package_path, entry)
    mismatches = []
    for package in truth.itertuples():
        entry = first_seen.get(str(city / package.path))
        got = entry.status if entry else "(not seen)"
        if got != package.expected_status:
            mismatches.append((package.path, package.expected_status, got, entry.reason if entry else None))
    assert mismatches == []


def test_held_packages_land_once_the_gap_is_filled_and_a_superseded_full_is_turned_away(landed_city):
    city, waves = landed_city
    truth = pq.read_table(city / "truth" / "packages.parquet").to_pandas()
    held = truth[(truth.inbox == "inbox") & (truth.expected_status == "held")]
    final = {e.package_path: e for e in waves["again"]}
    for package in held.itertuples():
        entry = final[str(city / package.path)]
        if package.fault == "district_missing":
            assert entry.status == "rejected" and "superseded" in entry.reason
        else:
            assert entry.status == "landed", (package.path, entry.reason)


def test_every_injected_unparseable_row_is_quarantined_where_it_was_put(spark, landed_city):
    city, _ = landed_city
    faults = pq.read_table(city / "truth" / "faults.parquet").to_pandas()
    injected = {(f.batch_id, f.file, int(f.line)) for f in faults[faults.kind == "unparseable_row"].itertuples()}
    quarantined = {(r.batch_id, r.file, r.record) for r in lake.read_table(spark, "ops.quarantine")
                   .where(F.col("rule") == "unparseable_row").collect()}
    assert injected and injected == quarantined


def test_landed_rows_match_the_delivered_rows_less_the_quarantined(spark, landed_city):
    city, waves = landed_city
    entries = [e for wave in waves.values() for e in wave if e.status == "landed"]
    for resource in {(e.department, e.resource) for e in entries}:
        landed = sum(e.rows_landed for e in entries if (e.department, e.resource) == resource)
        table = f"raw.{resource[0]}_{resource[1]}"
        assert lake.read_table(spark, table).count() == landed, table
