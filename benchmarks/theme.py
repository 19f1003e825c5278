"""The thematic libraries and the early warnings for a city of a million persons, against the
base build of the same city.

    .venv/bin/python benchmarks/theme.py [--persons 1000000] [--days 3] [--lake DIR] [--prepare-only] [--runs 1|2]

The city is prepared as `benchmarks/base.py` does (generated, landed and integrated into a lake
under `--lake`, unless that lake already holds it; the same default lake, so either script's
preparation serves both). Then, in one process, the base libraries are built, the thematic
libraries built twice (the first pays Spark's first-use costs, the second is the figure; both
forced, on the same inputs) and the warnings evaluated twice (the second evaluation finds the same
conditions: it writes nothing). `--prepare-only` stops after the preparation, so that the timed part
can run later on a quiet machine; `--runs 1` builds and evaluates once (the first-use costs then count). It prints each table's time and rows, and the ratios theme / base
and warnings / base, measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

from base import configure, prepare, timed_build, timed_steps

print = functools.partial(print, flush=True)  # noqa: A001 - figures show as they come, also into a file


def timed_themes() -> tuple[float, dict[str, float], dict[str, int]]:
    from jobs.theme.job import build

    return timed_steps(build, "references")


def timed_warnings() -> tuple[float, object]:
    from citylake.spark import spark_session
    from jobs.warn.job import warn

    started = time.perf_counter()
    run = warn(spark_session(), force=True)
    return time.perf_counter() - started, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--lake", type=Path, default=Path(tempfile.gettempdir()) / "citylake-bench-base")
    parser.add_argument("--prepare-only", action="store_true", help="generate, land and integrate, then stop")
    parser.add_argument("--runs", type=int, default=2, choices=(1, 2),
                        help="theme builds and evaluations each (2: the second is the figure; 1 on a busy machine)")
    args = parser.parse_args(argv)
    configure(args.lake)
    prepare(args.lake, args.persons, args.days)
    if args.prepare_only:
        return
    base_seconds, _, base_rows = timed_build()
    print(f"base build: {base_seconds:.1f} s for {base_rows['base.population']:,} persons")
    for run in ("first theme build", "second theme build")[:args.runs]:
        theme_seconds, steps, rows = timed_themes()
        print(f"\n{run}: {theme_seconds:.1f} s")
        for name, spent in steps.items():
            print(f"  {name:34} {spent:7.1f} s  {rows.get(name, 0):>12,} rows")
    for run in ("first evaluation", "second evaluation")[:args.runs]:
        warn_seconds, result = timed_warnings()
        changes = result.changes
        print(f"\nwarnings, {run}: {warn_seconds:.1f} s; {changes.opened} new, {changes.reopened} reopened, "
              f"{changes.updated} updated, {changes.auto_closed} closed, {changes.unchanged} unchanged")
    print(f"\ntheme build / base build: {theme_seconds / base_seconds:.2f}; "
          f"warnings / base build: {warn_seconds / base_seconds:.2f}")


if __name__ == "__main__":
    main()
