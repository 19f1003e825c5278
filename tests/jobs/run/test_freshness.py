"""Freshness from a resource's latest extract and its most frequent update cycle."""

from datetime import datetime, timedelta

from citylake.catalog import load_catalog
from jobs.run.freshness import LATE, NEVER, ON_TIME, freshness, routine_cycle


def test_each_resource_is_due_one_cycle_after_its_latest_extract():
    catalog = load_catalog()
    resources = {resource.qualified_code: resource for resource in catalog}
    household = resources["psb.household_registration"]
    monthly = next(code for code, resource in resources.items() if routine_cycle(resource) == "monthly")
    latest = {"psb.household_registration": datetime(2026, 3, 5, 23, 0), monthly: datetime(2026, 1, 31, 23, 0)}
    report = {item.resource: item for item in freshness(catalog, latest, datetime(2026, 3, 7, 6, 0), timedelta(hours=6))}

    assert routine_cycle(household) == "daily" and set(report) == set(resources)
    daily = report["psb.household_registration"]
    assert (daily.due_at, daily.state) == (datetime(2026, 3, 6, 23, 0), LATE)  # 7 h past due, 6 h grace
    assert (report[monthly].due_at, report[monthly].state) == (datetime(2026, 2, 28, 23, 0), LATE)
    assert all(item.state == NEVER and item.due_at is None for code, item in report.items() if code not in latest)

    on_time = freshness(catalog, latest, datetime(2026, 3, 7, 4, 59), timedelta(hours=6))
    assert {item.resource: item.state for item in on_time}["psb.household_registration"] == ON_TIME
