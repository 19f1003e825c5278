"""Quality rules on standardized rows in Spark: each rule kind's failure reason names the values
a department needs to find and fix the row."""

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake.catalog import load_divisions
from citylake.rules import RulesFile, load_rules
from jobs.integrate import quality
from jobs.integrate.standardize import standardized
from tests.jobs.integrate.test_job import psb_rows   # rows valid under every standard
from tests.packages import PSB_HEADER

pytestmark = pytest.mark.spark

COLUMNS = [*PSB_HEADER, "CZLX"]
RAW_SCHEMA = T.StructType([*[T.StructField(name, T.StringType()) for name in COLUMNS],
                           T.StructField("_batch_id", T.StringType()), T.StructField("_mode", T.StringType()),
                           T.StructField("_file", T.StringType()), T.StructField("_record", T.LongType())])


def wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


def evaluated(spark, catalog, batches: dict[str, tuple[str, list[list[str]]]], references: dict[str, list[str]]):
    """batch id -> (mode, rows) checked with psb's rules plus a referential rule on HH (household
    numbers must be among `references["household_known"]`); (batch, record) -> {check: reason},
    and (batch, record) -> the row's reason as the quarantine writes it."""
    resource = catalog.resource("psb", "household_registration")
    loaded = load_rules(catalog)
    rules = RulesFile.model_validate({**loaded.model_dump(), "resources": {resource.qualified_code: {"referential": [
        {"name": "household_known", "column": "HH", "references": "psb.residence_permit", "action": "warn"}]}}})
    data = [(*row, *[None] * (len(COLUMNS) - len(row)), batch, mode, "a.csv", record)
            for batch, (mode, rows) in batches.items() for record, row in enumerate(rows, start=1)]
    raw = spark.createDataFrame(data, RAW_SCHEMA)
    known = {name: spark.createDataFrame([(key,) for key in keys], "key string") for name, keys in references.items()}
    rows = (quality.evaluate(standardized(raw, resource, load_divisions(catalog.conf_dir)), resource,
                             rules.rules_for(resource), known)
            .withColumn("reason", quality.failure_reason(F.col(quality.FAILURES))).collect())
    by_check = {(row._batch_id, row._record): {failure.check: failure.reason for failure in row._failures}
                for row in rows}
    return by_check, {(row._batch_id, row._record): row.reason for row in rows}


def test_every_rule_kind_names_the_values_involved(spark, catalog):
    rows = psb_rows(9)
    rows[1][1] = ""                                                       # record 2: no name
    rows[2][0] = wrong_check_digit(rows[2][0])                            # record 3
    rows[3][5] = "9" * 200                                                # record 4: a runaway division code
    rows[5], rows[6] = list(rows[4]), list(rows[4])                       # records 5-7: one key three times
    rows[8][1], rows[8][0] = "", wrong_check_digit(rows[8][0])            # record 9: two failures
    changes = [[*psb_rows(1, start=50)[0], "U"]] * 2                      # the same change twice
    by_check, reasons = evaluated(spark, catalog, {"b1": ("full", rows), "b2": ("incremental", changes)},
                                  {"household_known": [row[7] for row in rows[:7]]})

    assert by_check["b1", 2]["completeness:XM"] == "XM missing_required: XM has no value (a required column)"
    assert by_check["b1", 3]["validity:GMSFHM"] == f"GMSFHM invalid_check_digit: '{rows[2][0]}'"
    runaway = by_check["b1", 4]["validity:HJDZ_XZQH"]
    assert runaway.startswith("HJDZ_XZQH ") and runaway.endswith(f": '{'9' * 60}…' (200 characters)")
    assert "uniqueness" not in by_check["b1", 5]
    for record in (6, 7):
        assert by_check["b1", record]["uniqueness"] == (
            f"key duplicate_key: GMSFHM '{rows[4][0]}' delivered 3 times in the batch")
    assert by_check["b1", 8]["referential:household_known"] == (
        f"HH household_known: '{rows[7][7]}' is no key of psb.residence_permit")
    assert reasons["b1", 9] == (f"XM missing_required: XM has no value (a required column); "
                                f"GMSFHM invalid_check_digit: '{rows[8][0]}'; "
                                f"HH household_known: '{rows[8][7]}' is no key of psb.residence_permit")
    assert by_check["b2", 2]["uniqueness"] == (
        f"key duplicate_key: GMSFHM '{changes[0][0]}' delivered 2 times in the batch at BGSJ '{changes[0][10]}'")
