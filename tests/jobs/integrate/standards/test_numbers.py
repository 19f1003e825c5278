"""Amounts, capital, areas, counts, years and coordinates from the text departments deliver."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs.integrate.standards import standardize
from jobs.integrate.standards.numbers import parse_type

pytestmark = pytest.mark.spark


def test_amounts_in_yuan(verdicts):
    yuan = Decimal
    assert verdicts("amount", [
        "1234.50", "1234.5", "-3", "5.",
        "1,234.50", "12,345,678", "¥1,234.50", "￥12", "RMB 12", "cny12", "12.345", "12.344", "1.5万元", "2万",
        "1亿元", "300元", "１２３", "\u22125", "1.5E3", " 7 ",
        "", "abc", "1,23", "12元5", "1.2.3", "1e30", "99999999999999999999",
    ]) == {
        "1234.50": (yuan("1234.50"), None, False), "1234.5": (yuan("1234.50"), None, False),
        "-3": (yuan("-3.00"), None, False), "5.": (yuan("5.00"), None, False),
        "1,234.50": (yuan("1234.50"), None, True), "12,345,678": (yuan("12345678.00"), None, True),
        "¥1,234.50": (yuan("1234.50"), None, True), "￥12": (yuan("12.00"), None, True),
        "RMB 12": (yuan("12.00"), None, True), "cny12": (yuan("12.00"), None, True),
        "12.345": (yuan("12.35"), None, True),   # rounded half up to fen
        "12.344": (yuan("12.34"), None, True),
        "1.5万元": (yuan("15000.00"), None, True), "2万": (yuan("20000.00"), None, True),
        "1亿元": (yuan("100000000.00"), None, True), "300元": (yuan("300.00"), None, True),
        "１２３": (yuan("123.00"), None, True), "\u22125": (yuan("-5.00"), None, True),
        "1.5E3": (yuan("1500.00"), None, True),   # as spreadsheets print numbers
        " 7 ": (yuan("7.00"), None, True),
        "": (None, "missing", False), "abc": (None, "bad_format", False), "1,23": (None, "bad_format", False),
        "12元5": (None, "bad_format", False), "1.2.3": (None, "bad_format", False),
        "1e30": (None, "out_of_range", False), "99999999999999999999": (None, "out_of_range", False),
    }


def test_capital_in_ten_thousand_yuan(verdicts):
    assert verdicts("capital_10k", ["100.0000", "100", "1.5E-3", "50万元", "500000元", "1亿"]) == {
        "100.0000": (Decimal("100.0000"), None, False), "100": (Decimal("100.0000"), None, False),
        "1.5E-3": (Decimal("0.0015"), None, True), "50万元": (Decimal("50.0000"), None, True),
        "500000元": (Decimal("50.0000"), None, True), "1亿": (Decimal("10000.0000"), None, True),
    }


def test_areas(verdicts):
    assert verdicts("area_m2", ["85.5", "85.5㎡", "85.5平方米", "85.5 m²", "85.5M2", "-1", "0"]) == {
        "85.5": (Decimal("85.50"), None, False), "85.5㎡": (Decimal("85.50"), None, True),
        "85.5平方米": (Decimal("85.50"), None, True), "85.5 m²": (Decimal("85.50"), None, True),
        "85.5M2": (Decimal("85.50"), None, True), "-1": (None, "out_of_range", False),
        "0": (Decimal("0.00"), None, False),
    }
    assert verdicts("area_km2", ["12.5", "12.5平方公里", "12.5km2"]) == {
        "12.5": (12.5, None, False), "12.5平方公里": (12.5, None, True), "12.5km2": (12.5, None, True)}


def test_counts_and_years(verdicts):
    assert verdicts("integer", ["12", "+3", "12.0", "12.00", "12.5", "1e3", "3000000000", "abc"]) == {
        "12": (12, None, False), "+3": (3, None, False), "12.0": (12, None, True), "12.00": (12, None, True),
        "12.5": (None, "bad_format", False), "1e3": (None, "bad_format", False),
        "3000000000": (None, "out_of_range", False), "abc": (None, "bad_format", False),
    }
    assert verdicts("year", ["2019", "2019年", "2019.0", "999", "10000"]) == {
        "2019": (2019, None, False), "2019年": (2019, None, True), "2019.0": (2019, None, True),
        "999": (None, "out_of_range", False), "10000": (None, "out_of_range", False),
    }


def test_coordinates_within_mainland_china(verdicts):
    assert verdicts("longitude", ["118.587", "24.9", "0"]) == {
        "118.587": (118.587, None, False), "24.9": (None, "out_of_range", False), "0": (None, "out_of_range", False)}
    assert verdicts("latitude", ["24.907", "118.5"]) == {
        "24.907": (24.907, None, False), "118.5": (None, "out_of_range", False)}


def test_the_catalog_column_type_decides_the_scale(verdicts):
    assert verdicts("amount", ["12.345", "12.34567"], value_type="decimal(18,4)") == {
        "12.345": (Decimal("12.3450"), None, False), "12.34567": (Decimal("12.3457"), None, True)}
    assert verdicts("amount", ["12.345"], value_type="double") == {"12.345": (12.345, None, False)}
    assert verdicts("integer", ["3000000000"], value_type="bigint") == {"3000000000": (3000000000, None, False)}


def test_types_a_number_cannot_take(spark):
    with pytest.raises(ValueError, match="amount holds decimal"):
        standardize("amount", F.col("x"), value_type="integer")
    with pytest.raises(ValueError, match="integer holds int"):
        standardize("integer", F.col("x"), value_type="decimal(18,2)")
    with pytest.raises(ValueError, match="not a numeric column type"):
        parse_type("decimal(x)")
    with pytest.raises(ValueError, match="gender holds string values, not integer"):
        standardize("gender", F.col("x"), value_type="integer")
