"""What the standards' tests share: running a standard over a few delivered values."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from pyspark.sql import functions as F

from jobs.integrate.standards import standardize

Verdict = tuple[object, str | None, bool]  # (value, error, repaired)


@pytest.fixture(scope="session")
def standardized(spark) -> Callable[..., list[Verdict]]:
    """standardized(element, values, **options): the standard's (value, error, repaired) for each
    delivered value, in order; options go to `standardize` (divisions, value_type)."""

    def run(element: str, values: Sequence[str | None], **options) -> list[Verdict]:
        frame = spark.createDataFrame(list(enumerate(values)), "position int, delivered string")
        result = standardize(element, F.col("delivered"), **options).alias("result")
        rows = frame.select("position", result).orderBy("position").collect()
        return [(row.result.value, row.result.error, row.result.repaired) for row in rows]

    return run


@pytest.fixture(scope="session")
def verdicts(standardized) -> Callable[..., dict[str | None, Verdict]]:
    """verdicts(element, values, **options): delivered value -> (value, error, repaired), to compare
    with a dict of expected verdicts in one assertion (one Spark job per test, not per value)."""

    def run(element: str, values, **options) -> dict[str | None, Verdict]:
        values = list(values)
        return dict(zip(values, standardized(element, values, **options)))

    return run
