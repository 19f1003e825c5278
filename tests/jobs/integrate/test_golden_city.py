"""Golden test: a generated city landed and integrated; every standards fault the generator
injected into an applied batch is either repaired to the true value or quarantined with the
rule the ground truth names."""

import pandas as pd
import pytest
from pyspark.sql import functions as F

from citylake import lake
from jobs.integrate.standardize import key_targets

pytestmark = pytest.mark.spark

REPAIRED = {"legacy_15_digit_id", "fullwidth_digits", "stray_spaces", "date_format", "gender_variant",
            "ethnicity_variant"}
QUARANTINED = {"invalid_check_digit", "unknown_division_code", "missing_required", "duplicate_row",
               "unparseable_row"}


@pytest.fixture(scope="module")
def faults(spark, integrated_city):
    """The injected row faults of batches the integration applied."""
    city, entries = integrated_city
    applied = {(e.department, e.resource, e.batch_id) for e in entries if e.status == "applied"}
    table = pd.read_parquet(city / "truth" / "faults.parquet")
    keep = [(row.department, row.resource, row.batch_id) in applied for row in table.itertuples()]
    return table[keep]


def test_the_city_was_integrated_with_faults_of_every_standards_kind(integrated_city, faults):
    _, entries = integrated_city
    assert {e.status for e in entries} == {"applied"}
    assert REPAIRED | QUARANTINED <= set(faults.kind)


def test_every_repairable_fault_is_repaired_to_the_true_value(spark, catalog, faults):
    wrong = []
    for fault in faults[faults.kind.isin(REPAIRED)].itertuples():
        resource = catalog.resource(fault.department, fault.resource)
        target = resource.column(fault.column).target
        versions = version_values(spark, resource, fault.key, fault.batch_id, target)
        if fault.true_value not in versions:
            wrong.append((fault.kind, fault.resource, fault.key, fault.column, fault.true_value, versions))
    assert wrong == []


def test_every_invalid_row_is_quarantined_with_the_rule_the_truth_names(spark, faults):
    quarantine = lake.read_table(spark, "ops.quarantine").select(
        "department", "resource", "batch_id", "file", "record", "rule").toPandas()
    found = {(q.department, q.resource, q.batch_id, q.file, int(q.record)): q.rule for q in quarantine.itertuples()}
    missing = []
    for fault in faults[faults.kind.isin(QUARANTINED)].itertuples():
        place = (fault.department, fault.resource, fault.batch_id, fault.file, int(fault.line))
        if found.get(place) != fault.expected_rule:
            missing.append((fault.kind, place, fault.expected_rule, found.get(place)))
    assert missing == []


def version_values(spark, resource, key: str, batch_id: str, target: str) -> list[str]:
    """The column's values in the key's versions that batch brought or that were valid when it
    was extracted (an unchanged row of a repeated full extract makes no new version)."""
    history = lake.read_table(spark, f"integrated.{resource.table_name}_history")
    condition = F.lit(True)
    for name, part in zip(key_targets(resource), key.split("|")):
        condition = condition & (F.col(name).cast("string") == part)
    extracted_at = (lake.read_table(spark, "ops.integration_ledger").where(F.col("batch_id") == batch_id)
                    .first().extracted_at)
    valid_then = (F.col("_valid_from") <= F.lit(extracted_at)) & (
        F.col("_valid_to").isNull() | (F.col("_valid_to") > F.lit(extracted_at)))
    rows = history.where(condition & ((F.col("_batch_id") == batch_id) | valid_then)).select(
        F.col(target).cast("string").alias("value")).collect()
    return [row.value for row in rows]
