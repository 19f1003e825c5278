"""Building the base libraries for a city of a million persons, and where the time goes.

    .venv/bin/python benchmarks/base.py [--persons 1000000] [--days 3] [--lake DIR]

A city of `--persons` persons with `--days` days of deliveries is generated, landed (in its
arrival waves) and integrated into a lake under `--lake` (default: a folder in /tmp), unless that
lake already holds it, so a rerun times the build alone. Then the base libraries are built twice
in the same process: the first build pays Spark's first-use costs, the second is the figure. For
each it prints the time per table written and persons per second. The integration is timed too,
as the reference the base build is measured against (the ratio build / integration).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

print = functools.partial(print, flush=True)  # noqa: A001 - figures show as they come, also into a file


def configure(lake: Path) -> None:
    os.environ.update({
        "CITYLAKE__PATHS__VAR": str(lake / "var"),
        "CITYLAKE__PATHS__WAREHOUSE": str(lake / "var" / "warehouse"),
        "CITYLAKE__PATHS__CITY": str(lake / "var" / "city"),
        "CITYLAKE__PATHS__INBOX": str(lake / "var" / "city" / "inbox"),
        "CITYLAKE__TRINO__PORT": "1",  # no Trino: tables are registered when one starts
    })
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def prepare(lake: Path, persons: int, days: int) -> float | None:
    """Generate, land and integrate the city unless the lake has it; the integration's seconds."""
    from citylake.catalog import load_catalog
    from citylake.spark import spark_session
    from synthetic import generate_city
    from jobs.integrate.job import integrate
    from jobs.landing.job import land_inbox

    done = lake / "prepared"
    if done.exists():
        return float(done.read_text())
    city = lake / "var" / "city"
    started = time.perf_counter()
    generate_city(city, persons=persons, days=days, seed=11, start=date(2026, 3, 1), progress=True)
    print(f"generated {persons:,} persons in {time.perf_counter() - started:.0f} s")
    spark, catalog = spark_session(), load_catalog()
    started = time.perf_counter()
    for inbox in (city / "inbox", city / "late_inbox", city / "inbox"):
        if inbox.is_dir():
            land_inbox(spark, inbox, catalog)
    print(f"landed in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    integrate(spark, catalog)
    seconds = time.perf_counter() - started
    print(f"integrated in {seconds:.0f} s")
    done.write_text(f"{seconds:.1f}")
    return seconds


def timed_steps(build, first_step: str) -> tuple[float, dict[str, float], dict[str, int]]:
    """Run a forced build (the second too, on the same inputs) and time each table it writes
    from its progress messages: (seconds, seconds per step, rows per table)."""
    from citylake.spark import spark_session

    steps: dict[str, float] = {}
    last = [time.perf_counter(), first_step]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps[last[1]] = now - last[0]
        last[0], last[1] = now, name.removeprefix("writing ")

    started = time.perf_counter()
    built = build(spark_session(), progress=step, force=True)
    steps[last[1]] = time.perf_counter() - last[0]
    return time.perf_counter() - started, steps, built.rows


def timed_build() -> tuple[float, dict[str, float], dict[str, int]]:
    from jobs.base.job import build

    return timed_steps(build, "snapshot")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--lake", type=Path, default=Path(tempfile.gettempdir()) / "citylake-bench-base")
    args = parser.parse_args(argv)
    configure(args.lake)
    integration = prepare(args.lake, args.persons, args.days)
    for run in ("first build", "second build"):
        seconds, steps, rows = timed_build()
        persons = rows["base.population"]
        print(f"\n{run}: {seconds:.1f} s for {persons:,} persons ({persons / seconds:,.0f} persons/s)")
        for name, spent in steps.items():
            print(f"  {name:34} {spent:7.1f} s  {rows.get(name, 0):>12,} rows")
    if integration:
        print(f"\nintegration of the same city: {integration:.0f} s; base build / integration: "
              f"{seconds / integration:.2f}")


if __name__ == "__main__":
    main()
