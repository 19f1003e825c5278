"""What the `citylake` command prints after landing and integration: legible in an 80-column
terminal, and a rejected batch shows why."""

import argparse
import re
from datetime import datetime

from rich.console import Console

from citylake import cli
from citylake.catalog import load_catalog
from jobs.integrate.ledger import IntegrationEntry
from jobs.landing.ledger import LedgerEntry

AT = datetime(2026, 3, 1, 9)
INTEGRATION_HEADERS = ("resource", "applied", "rejected", "rows", "in", "quarantined", "warned",
                       "inserted", "updated", "deleted", "late")
LANDING_HEADERS = ("resource", "landed", "replay", "held", "rejected", "rows", "quarantined")


def longest_resources(count: int = 2) -> list[str]:
    return sorted((resource.qualified_code for resource in load_catalog()), key=len, reverse=True)[:count]


def integration_entry(resource: str, sequence: int, status: str = "applied", **values) -> IntegrationEntry:
    department, code = resource.split(".")
    counts = dict(rows_in=4_000_000, rows_quarantined=12_345, rows_warned=678, inserted=3_500_000, updated=400_000,
                  deleted=99_000, unchanged=0, late=1_234) if status == "applied" else dict(
        rows_in=10, rows_quarantined=3, rows_warned=0, inserted=0, updated=0, deleted=0, unchanged=0, late=0)
    return IntegrationEntry(**{
        "department": department, "resource": code, "batch_id": f"{department}-{code}-{sequence:05d}",
        "sequence": sequence, "mode": "incremental", "extracted_at": AT, "status": status, "reason": None,
        "run_id": f"{resource}#{sequence}-{sequence}" if status == "applied" else None,
        "started_at": AT, "finished_at": AT, **counts, **values})


def landing_entry(resource: str, status: str, rows: int) -> LedgerEntry:
    department, code = resource.split(".")
    return LedgerEntry(department=department, resource=code, batch_id="b", sequence=1, mode="full", extracted_at=AT,
                       status=status, reason=None, content_sha256="ab" * 32, rows_read=rows, rows_landed=rows,
                       rows_quarantined=rows // 1000, package_path="/inbox", started_at=AT, finished_at=AT)


def rendered(renderable) -> str:
    console = Console(width=80, record=True)
    console.print(renderable)
    return console.export_text()


def shown_whole(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w…]){re.escape(word)}(?![\w…])", text) is not None


def test_the_integration_summary_reads_whole_in_80_columns():
    first, second = longest_resources()
    text = rendered(cli.integration_summary([
        integration_entry(first, 1), integration_entry(first, 2),
        integration_entry(second, 1), integration_entry(second, 2, "rejected", reason="a reason")]))
    assert "…" not in text
    assert [word for word in (*INTEGRATION_HEADERS, first, second) if not shown_whole(word, text)] == []
    assert "8,000,000" in text and "4,000,010" in text      # the two resources' rows in, in full


def test_the_landing_summary_reads_whole_in_80_columns():
    first, second = longest_resources()
    text = rendered(cli.landing_summary([landing_entry(first, "landed", 5_000_000), landing_entry(first, "replay", 0),
                                         landing_entry(second, "held", 0), landing_entry(second, "rejected", 0)]))
    assert "…" not in text
    assert [word for word in (*LANDING_HEADERS, first, second) if not shown_whole(word, text)] == []
    [line] = [line for line in text.splitlines() if line.startswith(first)]
    assert line.split() == [first, "1", "1", "0", "0", "5,000,000", "5,000"]


def test_a_rejected_batch_shows_why_and_the_rules_its_rows_failed_most():
    reason = "3 of 10 rows (30.0%) quarantined, over the resource's limit 5.0%"
    entry = integration_entry("psb.household_registration", 2, "rejected", reason=reason, failures={
        "completeness:XM": 3, "validity:GMSFHM": 1, "uniqueness": 2, "validity:XB": 1, "timeliness": 1})
    text = " ".join(rendered(cli.integration_summary([integration_entry("psb.household_registration", 1), entry]))
                    .split())   # as one line, whatever the terminal wrapped
    assert "rejected psb.household_registration sequence 2 (psb-household_registration-00002)" in text
    assert reason in text
    assert ("most failed rules: completeness:XM 3 rows, uniqueness 2 rows, timeliness (delivered late), 2 more"
            in text)


def test_integrate_with_nothing_to_do_says_so(monkeypatch):
    import citylake.spark
    import jobs.integrate.job

    console = Console(width=80, record=True)
    monkeypatch.setattr(cli, "console", console)
    monkeypatch.setattr(citylake.spark, "spark_session", lambda: None)
    monkeypatch.setattr(jobs.integrate.job, "integrate", lambda spark, resources, progress: [])
    layers = []  # what the lake lacks is said from real tables: tests/jobs/base/test_incomplete_lake.py
    monkeypatch.setattr(cli, "say_missing", lambda spark, layer, what: layers.append(layer))
    cli.cmd_integrate(argparse.Namespace(resource=[]))
    assert console.export_text().strip() == "nothing to integrate: every landed batch has been integrated already"
    assert layers == ["integrated"]
