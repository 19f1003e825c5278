"""The synthetic city's deliveries, standardized: what the golden test of a generated city expects.

A small city's initial extracts are built, faulted by the generator's own `RowFaults` (one kind of
standards fault at a time, at a high rate), written as the departments' files by its
`PackageWriter` and read back by the landing's `FileReader`, so that every value is the text the
lake gets (Excel numbers and JSON numbers included). Then:
- every value a resource delivers unfaulted is valid, and already in standard form;
- every fault the generator expects to be repaired standardizes to the standard value of the
  true value, flagged repaired;
- every standards fault it expects to be quarantined fails with the rule it expects.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from citylake.catalog import Resource, load_catalog, load_divisions, load_elements
from synthetic.faults import OUTCOMES, RowFaults
from synthetic.generator import full_rows, package_columns
from synthetic.model import CityModel, FaultRates
from synthetic.packages import PackageWriter
from synthetic.resources import FAMILIES, builder_for
from synthetic.schedule import Delivery, delivery_schedule
from synthetic.world import SyntheticCity
from jobs.integrate.standards import REASONS, standardize
from jobs.landing.readers import FileReader

pytestmark = pytest.mark.spark

ENTITIES = 600  # of each kind (persons, enterprises, units, ...): the first chunk of the city
FAULT_RATE = 0.3
# the generator's faults of values that the standards decide: repaired, or failing with a reason
STANDARD_FAULTS = [kind for kind, (outcome, rule) in OUTCOMES.items() if outcome == "repaired" or rule in REASONS]


@dataclasses.dataclass(frozen=True)
class Delivered:
    """One value as the lake reads it, with what the generator says it is."""

    resource: str
    column: str
    element: str
    value_type: str
    required: bool
    delivered: str | None
    true_value: str | None
    fault: str | None  # None: delivered as it is


@pytest.fixture(scope="module")
def city() -> SyntheticCity:
    return SyntheticCity(load_catalog(), load_divisions(), persons=1500, days=30, seed=7, start=date(2026, 1, 1),
                         model=CityModel())


@pytest.fixture(scope="module")
def initial_extracts(city) -> list[tuple[Delivery, pa.Table]]:
    """Each resource's initial full extract, for the first entities of its kind."""
    out = []
    for delivery in delivery_schedule(city.catalog, city.start, city.days):
        if delivery.round != 0:
            continue
        family = FAMILIES[builder_for(delivery.resource).family]
        entities = np.arange(min(family.size(city), ENTITIES), dtype=np.int64)
        out.append((delivery, full_rows(delivery, family.context(city, entities))))
    return out


def as_read_by_the_lake(folder: Path, delivery: Delivery, table: pa.Table) -> pa.Table:
    """The rows written as the department's file and read back as the landing reads it."""
    resource = delivery.resource
    writer = PackageWriter(folder, resource, delivery.batch_id, delivery.sequence, delivery.mode,
                           delivery.extracted_at, "package", table.num_rows + 1, package_columns(delivery))
    writer.write(table)
    (file,) = writer.close().files
    reader = FileReader(folder / file.name, resource.format, resource.encoding, resource.delimiter or ",",
                        resource.sheet)
    return pa.Table.from_batches(list(reader.batches()))


def only(kind: str) -> FaultRates:
    return dataclasses.replace(FaultRates.none(), quarantine_budget=1.0, **{kind: FAULT_RATE})


def unfaulted_values(resource: Resource, read: pa.Table) -> list[Delivered]:
    return [Delivered(resource.qualified_code, column.source, column.element, column.type, column.required, value,
                      value, None)
            for column in resource.columns if column.source in read.column_names
            for value in read.column(column.source).to_pylist()]


def faulted_values(city: SyntheticCity, delivery: Delivery, table: pa.Table, folder: Path) -> list[Delivered]:
    """Each standards fault the generator injects into the extract, as the lake reads it."""
    resource = delivery.resource
    out = []
    for kind in STANDARD_FAULTS:
        faults = RowFaults(city.catalog, resource, only(kind), city.rand, delivery.batch_id, delivery.sequence)
        injected = faults.inject(table)
        if not injected.records:
            continue
        read = as_read_by_the_lake(folder / kind, delivery, injected.table)
        for record in injected.records:
            column = resource.column(record.column)
            delivered = read.column(record.column)[record.position].as_py()
            assert delivered == record.delivered_value, "the file holds what the generator recorded"
            out.append(Delivered(resource.qualified_code, column.source, column.element, column.type, column.required,
                                 delivered, record.true_value, kind))
    return out


@pytest.fixture(scope="module")
def values(city, initial_extracts, tmp_path_factory) -> list[Delivered]:
    folder = tmp_path_factory.mktemp("packages")
    out = []
    for delivery, table in initial_extracts:
        place = folder / delivery.resource.table_name
        out += unfaulted_values(delivery.resource, as_read_by_the_lake(place / "clean", delivery, table))
        out += faulted_values(city, delivery, table, place)
    return out


def verdicts_as_text(spark, element: str, value_type: str, texts: list[str | None]) -> list[tuple]:
    """The standard's (value as text, error, repaired) on each text, in order."""
    frame = spark.createDataFrame(list(enumerate(texts)), "position long, delivered string")
    result = standardize(element, F.col("delivered"), value_type=value_type)
    rows = frame.select("position", result["value"].cast("string").alias("value"), result["error"].alias("error"),
                        result["repaired"].alias("repaired")).orderBy("position").collect()
    return [(row.value, row.error, row.repaired) for row in rows]


@pytest.fixture(scope="module")
def judged(spark, values) -> list[tuple[Delivered, tuple, tuple]]:
    """Each value with the standard's verdict on it and on its true value: (value, error, repaired).
    One query per element and type: one projection holding every standard would be far larger
    than any resource's."""
    verdicts: dict[tuple[str | None, str, str], tuple] = {}
    for element, value_type in {(v.element, v.value_type) for v in values}:
        texts = sorted({t for v in values if (v.element, v.value_type) == (element, value_type)
                        for t in (v.delivered, v.true_value)}, key=lambda t: (t is None, t))
        for text, verdict in zip(texts, verdicts_as_text(spark, element, value_type, texts)):
            verdicts[text, element, value_type] = verdict
    return [(v, verdicts[v.delivered, v.element, v.value_type], verdicts[v.true_value, v.element, v.value_type])
            for v in values]


def test_every_standards_fault_of_the_generator_is_drawn(values):
    assert set(STANDARD_FAULTS) == {
        "legacy_15_digit_id", "fullwidth_digits", "stray_spaces", "date_format", "gender_variant",
        "ethnicity_variant", "invalid_check_digit", "unknown_division_code"}
    drawn = {(v.fault, v.element) for v in values if v.fault}
    assert {fault for fault, _ in drawn} == set(STANDARD_FAULTS)
    # each element a fault hits in the demo catalog
    assert {("invalid_check_digit", e) for e in ("resident_id", "uscc", "party_id")} <= drawn
    assert {("unknown_division_code", e) for e in ("division_code", "street_code")} <= drawn
    assert {("fullwidth_digits", e) for e in ("resident_id", "party_id", "phone")} <= drawn
    # every variant of the layouts the generator writes
    dates = [v.delivered for v in values if v.fault == "date_format"]
    assert any("/" in d for d in dates) and any("年" in d for d in dates) and any(d.isdigit() for d in dates)
    ethnicities = {v.delivered for v in values if v.fault == "ethnicity_variant"}
    assert any(e.endswith("族") for e in ethnicities) and not all(e.endswith("族") for e in ethnicities)
    spaced = [v.delivered for v in values if v.fault == "stray_spaces"]
    assert any(s.startswith(" ") for s in spaced) and any(s.endswith("\u3000") for s in spaced)


def test_delivered_values_are_valid_and_in_standard_form(judged):
    wrong = [(v.resource, v.column, v.delivered, verdict) for v, verdict, _ in judged
             if v.fault is None and verdict != (verdict[0], None, False)
             and not (verdict[1] == "missing" and not v.required)]
    assert wrong == []


def test_repaired_faults_standardize_to_the_true_value(judged):
    repaired = [(v, verdict, truth) for v, verdict, truth in judged if v.fault and OUTCOMES[v.fault][0] == "repaired"]
    assert repaired
    wrong = [(v.fault, v.resource, v.column, v.delivered, v.true_value, verdict, truth)
             for v, verdict, truth in repaired
             if truth != (truth[0], None, False) or verdict != (truth[0], None, True)]
    assert wrong == []


def test_quarantined_faults_fail_with_the_expected_rule(judged):
    quarantined = [(v, verdict) for v, verdict, _ in judged if v.fault and OUTCOMES[v.fault][0] == "quarantined"]
    assert quarantined
    wrong = [(v.fault, v.resource, v.column, v.delivered, verdict) for v, verdict in quarantined
             if verdict != (None, OUTCOMES[v.fault][1], False)]
    assert wrong == []


def test_every_verdict_is_consistent(judged):
    """A value or a reason, never both; repaired only when valid; a valid value of a patterned
    element matches the pattern conf/elements.yml declares."""
    elements = load_elements()
    for v, verdict, _ in judged:
        value, error, repaired = verdict
        assert (value is None) == (error is not None) and (error is None or error in REASONS), (v, verdict)
        assert not (repaired and error), (v, verdict)
        pattern = elements[v.element].pattern
        if value is not None and pattern and elements[v.element].type == "string":
            assert re.search(pattern, value), (v, verdict)
