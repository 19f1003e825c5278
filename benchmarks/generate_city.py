"""How fast the synthetic city generator writes, and that its memory stays flat as the city grows.

    .venv/bin/python benchmarks/generate_city.py                   # 100,000 and 1,000,000 persons
    .venv/bin/python benchmarks/generate_city.py 50000 200000 --days 30 --workers 2

Each size runs in a fresh process (so that peak memory is that run's own), writes into a
temporary folder that is removed afterwards, and reports persons per second, rows per second, the
output size and the peak resident memory of the generating process (and of each worker). The
last line compares the peaks of the smallest and largest city and extrapolates the time for
Shenzhen's 18.4 million persons.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHENZHEN = 18_400_000

_RUN = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from synthetic import generate_city

out, persons, days, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
started = time.perf_counter()
summary = generate_city(out, persons=persons, days=days, seed=1, start=date(2026, 1, 1),
                        workers=None if workers == "auto" else int(workers), progress=False)
seconds = time.perf_counter() - started
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(json.dumps({
    "persons": persons, "seconds": seconds,
    "rows": sum(r["rows"] for r in summary.resources.values()),
    "bytes": size,
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "worker_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    "cpu_seconds": sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                       for field in ("ru_utime", "ru_stime")),
}))
"""


def run_once(persons: int, days: int, workers: str) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="citylake-bench-"))
    try:
        done = subprocess.run([sys.executable, "-c", _RUN, str(folder / "city"), str(persons), str(days), workers],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("persons", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=0,
                        help="days of deliveries after the initial extracts (default 0: initial extracts only)")
    parser.add_argument("--workers", default="auto", help="worker processes: a number or auto (default)")
    args = parser.parse_args(argv)
    mib = 1 << 20
    print(f"{'persons':>11} {'seconds':>8} {'persons/s':>10} {'rows/s':>10} {'output MB':>10} "
          f"{'CPU s':>7} {'persons/CPU-s':>13} {'peak MB':>8} {'worker MB':>10}")
    results = []
    for persons in args.persons:
        result = run_once(persons, args.days, args.workers)
        results.append(result)
        print(f"{persons:>11,} {result['seconds']:>8.1f} {persons / result['seconds']:>10,.0f} "
              f"{result['rows'] / result['seconds']:>10,.0f} {result['bytes'] / mib:>10,.0f} "
              f"{result['cpu_seconds']:>7.1f} {persons / result['cpu_seconds']:>13,.0f} "
              f"{result['peak_rss'] / mib:>8,.0f} {result['worker_peak_rss'] / mib:>10,.0f}", flush=True)
    if len(results) > 1:
        small, large = results[0], results[-1]
        peak = lambda r: max(r["peak_rss"], r["worker_peak_rss"])  # noqa: E731
        rate = large["persons"] / large["seconds"]
        print(f"peak memory {large['persons']:,} / {small['persons']:,} persons: {peak(large) / peak(small):.2f}x "
              f"for {large['persons'] / small['persons']:.0f}x the persons; "
              f"{SHENZHEN:,} persons at {rate:,.0f}/s: about {SHENZHEN / rate / 60:.0f} minutes "
              f"({SHENZHEN / large['persons'] * large['cpu_seconds'] / 60:.0f} CPU-minutes)")


if __name__ == "__main__":
    main()
