"""One Spark session and one Trino server for the whole test session, on a scratch lake.

The environment overrides are set at import, before anything reads the profile, so every part
(and every notebook kernel started from here) sees the scratch lake and the test server's port.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RUN_DIR = Path(tempfile.mkdtemp(prefix="citylake-test-"))
TEST_ENV = {
    "CITYLAKE_PROFILE": "local",
    "CITYLAKE__PATHS__VAR": str(RUN_DIR / "var"),
    "CITYLAKE__PATHS__WAREHOUSE": str(RUN_DIR / "var" / "warehouse"),
    "CITYLAKE__PATHS__CITY": str(RUN_DIR / "var" / "city"),
    "CITYLAKE__PATHS__INBOX": str(RUN_DIR / "var" / "city" / "inbox"),
    "CITYLAKE__PATHS__DASHBOARDS": str(RUN_DIR / "var" / "dashboards"),
    "CITYLAKE__PATHS__DOCS": str(RUN_DIR / "var" / "docs"),
    "CITYLAKE__TRINO__PORT": str(_free_port()),
    # the secured Trino's users get generated passwords, kept in the run's own secrets file
    "CITYLAKE__TRINO__SECURITY__SECRETS_FILE": str(RUN_DIR / "secrets.yml"),
    "CITYLAKE__TRINO__SECURITY__GENERATE_PASSWORDS": "true",
    # Smaller engines than the demo's, so a test run fits beside a running demo.
    "CITYLAKE__TRINO__HEAP": "4G",
    "CITYLAKE__TRINO__QUERY_MAX_MEMORY_PER_NODE": "2GB",
    "CITYLAKE__TRINO__HEAP_HEADROOM_PER_NODE": "1GB",
    "CITYLAKE__SPARK__DRIVER_MEMORY": "3g",
}
os.environ.update(TEST_ENV)


@pytest.fixture(scope="session")
def settings():
    from citylake.settings import profile

    return profile()


@pytest.fixture(scope="session")
def spark(settings):
    from citylake.spark import spark_session

    session = spark_session(settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def trino(settings):
    """The test session's Trino server: started once, fails loudly (never skips) if it cannot."""
    from citylake.trino import client, server

    server.start(settings)
    atexit.register(server.stop, settings)  # even if pytest is interrupted
    client.sync_catalog(settings)  # as `citylake trino start` does: tables written while it was down
    yield settings
    server.stop(settings)


@pytest.fixture(scope="session")
def catalog():
    from citylake.catalog import load_catalog

    return load_catalog()


@pytest.fixture()
def fresh_psb(spark, trino):
    """psb.household_registration as if nothing had ever been delivered: no table, no ledger rows."""
    from pyspark.sql import functions as F

    from citylake import lake
    from citylake.trino import client

    shutil.rmtree(trino.path("warehouse") / "raw" / "psb_household_registration", ignore_errors=True)
    client.sync_catalog(trino)
    for table in ("ops.batch_ledger", "ops.quarantine"):
        if lake.table_exists(spark, table):
            lake.delta_table(spark, table).delete(
                (F.col("department") == "psb") & (F.col("resource") == "household_registration"))
    return "raw.psb_household_registration"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def integrated_city(spark, settings, catalog, tmp_path_factory):
    """A generated 600-person city with 10 days of deliveries, landed wave by wave as it arrives
    (inbox, late inbox, inbox again) and taken into the integrated layer, on an emptied lake.
    Returns the city's folder (its `truth/` is the ground truth) and the integration entries."""
    from datetime import date

    from synthetic import generate_city
    from citylake.trino import client, server
    from jobs.integrate.job import integrate
    from jobs.landing.job import land_inbox

    for layer in ("raw", "integrated", "base", "ops"):
        shutil.rmtree(settings.path("warehouse") / layer, ignore_errors=True)
    if server.is_running(settings):
        client.sync_catalog(settings)
    city = tmp_path_factory.mktemp("integrated-city")
    generate_city(city, persons=600, days=10, seed=23, start=date(2026, 3, 1), progress=False)
    for inbox in (city / "inbox", city / "late_inbox", city / "inbox"):
        land_inbox(spark, inbox, catalog)
    return city, integrate(spark, catalog)


@pytest.fixture()
def edited_conf(tmp_path):
    """A copy of conf/ with one YAML file edited: `edited_conf("rules.yml", edit)` -> the folder,
    where `edit` changes the file's parsed content in place."""
    import yaml

    from citylake.settings import DEFAULT_CONF_DIR

    def edit_copy(name, edit):
        conf = tmp_path / "conf"
        shutil.copytree(DEFAULT_CONF_DIR, conf, ignore=shutil.ignore_patterns("secrets.yml"))
        raw = yaml.safe_load((conf / name).read_text(encoding="utf-8"))
        edit(raw)
        (conf / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        return conf

    return edit_copy


# The clean city of the thematic and warning golden tests: no delivery faults, so every thematic
# figure can be compared exactly with one computed from the ground truth; the cross-check conflict
# the insured-after-death warning is about is kept.
GOLDEN_THEME_CITY = {"persons": 600, "days": 10, "seed": 23, "start": "2026-02-24"}


@pytest.fixture(scope="session")
def theme_city(spark, settings, catalog, tmp_path_factory):
    """The clean golden city landed, integrated, with its base, thematic libraries and warnings
    built, on an emptied lake. Returns (city folder, base build, theme build, warn run).

    Tests that use it run after every test of the (faulty) `integrated_city`: it replaces that
    city's lake (see `pytest_collection_modifyitems`)."""
    from dataclasses import replace
    from datetime import date

    from synthetic import generate_city
    from synthetic.model import FaultRates
    from citylake.trino import client, server
    from jobs.base.job import build as build_base
    from jobs.integrate.job import integrate
    from jobs.landing.job import land_inbox
    from jobs.theme.job import build as build_themes
    from jobs.warn.job import warn

    for layer in ("raw", "integrated", "base", "theme", "ops", "app"):
        shutil.rmtree(settings.path("warehouse") / layer, ignore_errors=True)
    if server.is_running(settings):
        client.sync_catalog(settings)
    city = tmp_path_factory.mktemp("theme-city")
    faults = replace(FaultRates.none(), insured_after_death=FaultRates().insured_after_death)
    generate_city(city, persons=GOLDEN_THEME_CITY["persons"], days=GOLDEN_THEME_CITY["days"],
                  seed=GOLDEN_THEME_CITY["seed"], start=date.fromisoformat(GOLDEN_THEME_CITY["start"]),
                  faults=faults, progress=False)
    for inbox in (city / "inbox", city / "late_inbox", city / "inbox"):
        if inbox.is_dir():
            land_inbox(spark, inbox, catalog)
    integrate(spark, catalog)
    return city, build_base(spark), build_themes(spark), warn(spark)


# Each golden city replaces the lake of the one before it, so the tests on one city run together, in
# this order, after every test that uses no golden city (those may empty tables of the shared lake).
GOLDEN_CITIES = ("landed_city", "integrated_city", "theme_city")
ENGINES = {"spark", "trino", "notebook", "browser"}


def lake_group(item: pytest.Item) -> int:
    """0 for a test on no golden city, else 1 + the position of the latest golden city it uses."""
    used = [position for position, city in enumerate(GOLDEN_CITIES) if city in getattr(item, "fixturenames", ())]
    return 1 + max(used) if used else 0


def pytest_collection_modifyitems(session, config, items):
    """The tiers: a test on a generated golden city is `golden`, one that needs no engine is
    `unit`; the tests grouped by the golden city whose lake they read (see GOLDEN_CITIES)."""
    for item in items:
        if lake_group(item):
            item.add_marker(pytest.mark.golden)
        if not ENGINES & {mark.name for mark in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)
    items.sort(key=lake_group)
