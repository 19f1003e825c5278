"""The public API: every element of conf/elements.yml has a standard, every catalog column's
result is typed as the catalog says, and the reasons are the vocabulary the quality rules use."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StringType

from citylake.catalog import load_elements
from synthetic.faults import OUTCOMES
from jobs.integrate.standards import PLAIN_TEXT, REASONS, Reason, registry, standardize
from jobs.integrate.standards.codes import code_list, patterned_code

pytestmark = pytest.mark.spark

ELEMENT_TYPES = {"string": "string", "date": "date", "timestamp": "timestamp", "integer": "integer", "decimal": "decimal",
                 "double": "double"}


def test_reasons_are_the_quality_rules_of_the_synthetic_city():
    assert REASONS == tuple(reason.value for reason in Reason)
    assert len(set(REASONS)) == len(REASONS)
    expected_by_generator = {rule for outcome, rule in OUTCOMES.values() if outcome == "quarantined"}
    assert {"invalid_check_digit", "unknown_division_code"} <= expected_by_generator & set(REASONS)


def test_every_element_has_a_standard_or_is_plain_text():
    elements = load_elements()
    standards = registry()
    assert set(standards) | PLAIN_TEXT == set(elements)
    assert not set(standards) & PLAIN_TEXT
    assert standards["gender"] is code_list and standards["operation"] is code_list
    assert standards["household_no"] is patterned_code and standards["grid_code"] is patterned_code


def test_an_unknown_element_is_an_error(spark):
    with pytest.raises(KeyError, match="unknown data element 'colour'"):
        standardize("colour", F.col("x"))


def test_every_element_gives_its_type(spark):
    frame = spark.createDataFrame([("x",)], "x string")
    for name, element in load_elements().items():
        field = frame.select(standardize(name, F.col("x")).alias("result")).schema["result"]
        assert [f.name for f in field.dataType.fields] == ["value", "error", "repaired"], name
        assert field.dataType["value"].dataType.typeName() == ELEMENT_TYPES[element.type], name
        assert field.dataType["error"].dataType == StringType(), name


def test_every_catalog_column_gives_the_catalog_type(spark, catalog):
    """As the integration job asks: each column's element, in the column's type."""
    for resource in catalog:
        frame = spark.createDataFrame([tuple(None for _ in resource.columns)],
                                      ", ".join(f"`{c.source}` string" for c in resource.columns))
        results = frame.select(*[
            standardize(c.element, F.col(f"`{c.source}`"), value_type=c.type).alias(c.target) for c in resource.columns
        ]).schema
        for column in resource.columns:
            value_type = results[column.target].dataType["value"].dataType
            assert value_type == DataType.fromDDL(column.type), (resource.qualified_code, column.source)
