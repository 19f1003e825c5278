"""Standardizing 5 million ID numbers, against a plain copy of the same column in the same run.

    .venv/bin/python benchmarks/standards.py [--rows 5000000] [--element resident_id] [--repeat 2]

The numbers are drawn as departments deliver them: most in standard form, a few percent as
15-digit numbers, in full width, with stray spaces, or with a wrong check character. Both runs
read the same Parquet file and write to Spark's `noop` sink, so that what differs is the standard
alone. Prints rows per second of both (best of `--repeat` runs) and the ratio standard / copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCRATCH = Path(tempfile.mkdtemp(prefix="citylake-bench-standards-"))
# A scratch lake, so the benchmark never touches the demo's warehouse.
os.environ.update({
    "CITYLAKE__PATHS__VAR": str(SCRATCH / "var"),
    "CITYLAKE__PATHS__WAREHOUSE": str(SCRATCH / "var" / "warehouse"),
})
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from citylake.spark import spark_session  # noqa: E402
from jobs.integrate.standards import standardize  # noqa: E402

DIVISIONS = np.array([350502, 350503, 350504, 350505, 350521, 350524, 350525, 350526, 350581, 350582, 350583, 352401])
WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)])
CHECKS = np.frombuffer(b"10X98765432", dtype=np.uint8)
# share of the values delivered off-standard, each way
LEGACY, FULLWIDTH, SPACED, WRONG_CHECK = 0.01, 0.01, 0.005, 0.005


def id_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """ID numbers as delivered: valid ones, and a few in each off-standard way."""
    born = np.datetime64("1930-01-01") + rng.integers(0, 365 * 90, n).astype("timedelta64[D]")
    ymd = np.char.replace(np.datetime_as_string(born, unit="D"), "-", "")
    division = rng.choice(DIVISIONS, n).astype("U6")
    body = np.char.add(np.char.add(division, ymd), np.char.zfill(rng.integers(0, 1000, n).astype("U3"), 3))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - ord("0")
    check = CHECKS[(digits * WEIGHTS).sum(axis=1) % 11]
    wrong = rng.random(n) < WRONG_CHECK
    check[wrong] = np.where(check[wrong] == ord("0"), ord("1"), ord("0"))
    numbers = np.char.add(body, check.view("S1").astype("U1"))
    way = rng.random(n)
    legacy = (way < LEGACY) & (np.char.find(ymd, "19") == 0)
    yymmdd = np.ascontiguousarray(ymd[legacy].astype("U8").view("U1").reshape(-1, 8)[:, 2:]).view("U6").ravel()
    numbers[legacy] = np.char.add(np.char.add(division[legacy], yymmdd),
                                  np.char.zfill(rng.integers(0, 1000, legacy.sum()).astype("U3"), 3))
    fullwidth = (way >= LEGACY) & (way < LEGACY + FULLWIDTH)
    numbers[fullwidth] = np.char.translate(numbers[fullwidth], str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    spaced = (way >= LEGACY + FULLWIDTH) & (way < LEGACY + FULLWIDTH + SPACED)
    numbers[spaced] = np.char.add(" ", numbers[spaced])
    return pa.array(numbers)


def timed(frame: DataFrame) -> float:
    started = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--element", default="resident_id")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        path = SCRATCH / "values.parquet"
        pq.write_table(pa.table({"delivered": id_numbers(np.random.default_rng(1), args.rows)}), path)
        spark = spark_session()
        source = spark.read.parquet(str(path))
        copy = source.select(F.col("delivered").alias("copy"))
        standard = source.select(standardize(args.element, F.col("delivered")).alias("standard"))
        timings = {name: min(timed(frame) for _ in range(args.repeat))
                   for name, frame in (("copy", copy), (args.element, standard))}
        for name, seconds in timings.items():
            print(f"{name:>12}: {args.rows / seconds:>12,.0f} rows/s ({seconds:.1f} s)")
        print(f"{'ratio':>12}: {timings[args.element] / timings['copy']:.1f} x the time of a plain copy")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
