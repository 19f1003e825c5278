"""Numbers: amounts in yuan, registered capital in 10,000 yuan, areas, counts, years and
coordinates, from text with grouping commas, full-width digits, currency signs and units."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, DoubleType, IntegerType, LongType

from jobs.integrate.standards.core import Reason, Spec, delivered_in_form, fold_fullwidth, is_missing, outcome, without_spaces

PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
WHOLE_NUMBER = r"^[+-]?\d+$"
# as spreadsheets print very large and very small numbers (1.5E-05); matched after lower-casing
SCIENTIFIC_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)e[+-]?\d+$"
# a grouping comma: between digits, before a group of three
_GROUPING_COMMA = r"(?<=\d),(?=\d{3}(?:[,.]|$))"
# text is lower-cased before this applies
_CURRENCY = r"^([+-]?)(?:rmb|cny|¥|￥)"
# a number with a unit is scaled exactly, at a scale finer than any element keeps
_EXACT = DecimalType(38, 10)


@dataclass(frozen=True)
class NumberStandard:
    """How one numeric element is read: its default type, unit suffixes (with the factor to the
    element's unit) and the range of valid values."""

    default_type: DataType
    units: dict[str, Decimal] = field(default_factory=dict)
    minimum: Decimal | None = None
    maximum: Decimal | None = None


_YUAN = {"元": Decimal(1), "万元": Decimal(10_000), "万": Decimal(10_000), "亿元": Decimal(10**8), "亿": Decimal(10**8)}
_TEN_THOUSAND_YUAN = {"万元": Decimal(1), "万": Decimal(1), "元": Decimal("0.0001"), "亿元": Decimal(10_000),
                      "亿": Decimal(10_000)}
_SQUARE_METRES = {"m2": Decimal(1), "m²": Decimal(1), "㎡": Decimal(1), "平方米": Decimal(1), "平米": Decimal(1)}
_SQUARE_KILOMETRES = {"km2": Decimal(1), "km²": Decimal(1), "平方千米": Decimal(1), "平方公里": Decimal(1)}

NUMBER_STANDARDS = {
    # amounts keep fen (two decimals); capital in 10,000 yuan keeps yuan (four)
    "amount": NumberStandard(DecimalType(18, 2), _YUAN),
    "capital_10k": NumberStandard(DecimalType(18, 4), _TEN_THOUSAND_YUAN),
    "area_m2": NumberStandard(DecimalType(18, 2), _SQUARE_METRES, minimum=Decimal(0)),
    "area_km2": NumberStandard(DoubleType(), _SQUARE_KILOMETRES, minimum=Decimal(0)),
    "decimal": NumberStandard(DecimalType(18, 4)),
    "integer": NumberStandard(IntegerType()),
    "year": NumberStandard(IntegerType(), {"年": Decimal(1)}, minimum=Decimal(1000), maximum=Decimal(9999)),
    # mainland China's extent, as conf/divisions.yml's streets: swapped or zero coordinates fail
    "longitude": NumberStandard(DoubleType(), minimum=Decimal(73), maximum=Decimal(136)),
    "latitude": NumberStandard(DoubleType(), minimum=Decimal(3), maximum=Decimal(54)),
}


def number(column: Column, spec: Spec) -> Column:
    """The element's number in its type: decimals rounded half up to the type's scale, integers
    only when whole, doubles as parsed; units convert to the element's unit."""
    standard = NUMBER_STANDARDS[spec.element.name]
    value_type = resolve_type(spec.element.name, spec.value_type)
    whole = isinstance(value_type, (IntegerType, LongType))
    form = WHOLE_NUMBER if whole else PLAIN_NUMBER
    readable = form if whole else f"{PLAIN_NUMBER}|{SCIENTIFIC_NUMBER}"
    delivered_number = delivered_in_form(column, form)
    text, plain = delivered_number.text, delivered_number.standard
    digits, unit = _number_and_unit(text, plain, standard, whole)
    value = _typed(digits, unit, standard, value_type)
    checks = [
        (is_missing(text), Reason.MISSING),
        (~(plain | digits.rlike(readable)), Reason.BAD_FORMAT),
        (value.isNull(), Reason.OUT_OF_RANGE),  # a number, but too large for the type
    ]
    if standard.minimum is not None:
        checks.append((value < F.lit(standard.minimum), Reason.OUT_OF_RANGE))
    if standard.maximum is not None:
        checks.append((value > F.lit(standard.maximum), Reason.OUT_OF_RANGE))
    return outcome(value, checks, repaired=~delivered_number.exact | _rounded(digits, value_type))


def resolve_type(element: str, value_type: str | None) -> DataType:
    """The element's value type, or the catalog column type asked for, e.g. `decimal(18,2)`."""
    default = NUMBER_STANDARDS[element].default_type
    if value_type is None:
        return default
    asked = parse_type(value_type)
    numeric = (IntegerType, LongType) if isinstance(default, (IntegerType, LongType)) else (DecimalType, DoubleType)
    if not isinstance(asked, numeric):
        raise ValueError(f"data element {element} holds {default.simpleString()} values, not {value_type}")
    return asked


def parse_type(value_type: str) -> DataType:
    simple = {"integer": IntegerType(), "int": IntegerType(), "bigint": LongType(), "double": DoubleType()}
    if value_type in simple:
        return simple[value_type]
    decimal = re.fullmatch(r"decimal\((\d{1,2}),(\d{1,2})\)", value_type.replace(" ", ""))
    if decimal is None:
        raise ValueError(f"not a numeric column type: {value_type!r}")
    return DecimalType(int(decimal.group(1)), int(decimal.group(2)))


def _number_and_unit(text: Column, plain: Column, standard: NumberStandard, whole: bool) -> tuple[Column, Column]:
    """The bare number (sign, digits, point) and the unit written after it ('' for none)."""
    cleaned = F.regexp_replace(F.lower(without_spaces(fold_fullwidth(text))), "\u2212", "-")
    cleaned = F.regexp_replace(cleaned, _CURRENCY, "$1")
    unit = F.lit("")
    if standard.units:
        unit_suffix = "(" + "|".join(re.escape(unit) for unit in sorted(standard.units, key=len, reverse=True)) + ")$"
        unit = F.regexp_extract(cleaned, unit_suffix, 1)
        cleaned = F.regexp_replace(cleaned, unit_suffix, "")
    cleaned = F.regexp_replace(cleaned, _GROUPING_COMMA, "")
    if whole:
        cleaned = F.regexp_replace(cleaned, r"\.0*$", "")  # 12.0 from a spreadsheet is the count 12
    return F.when(plain, text).otherwise(cleaned), F.when(plain, F.lit("")).otherwise(unit)


def _typed(digits: Column, unit: Column, standard: NumberStandard, value_type: DataType) -> Column:
    """The number in the value type, NULL when it does not fit (try_cast rounds decimals half up)."""
    direct = digits.try_cast(value_type)
    if not standard.units:
        return direct
    if isinstance(value_type, DoubleType):
        scaled = digits.try_cast("double") * _unit_factor(unit, standard).cast("double")
    else:
        scaled = F.try_multiply(digits.try_cast(_EXACT), _unit_factor(unit, standard)).try_cast(value_type)
    return F.when(unit == "", direct).otherwise(scaled)


def _unit_factor(unit: Column, standard: NumberStandard) -> Column:
    factors = [F.lit(part) for name, factor in standard.units.items() for part in (name, factor)]
    return F.try_element_at(F.create_map(*factors), unit).cast(DecimalType(18, 4))


def _rounded(digits: Column, value_type: DataType) -> Column:
    """Whether rounding to the type's scale dropped a non-zero digit."""
    if not isinstance(value_type, DecimalType):
        return F.lit(False)
    point = F.instr(digits, ".")
    dropped = F.substring(digits, point + value_type.scale + 1, 38)
    return (point > 0) & dropped.rlike("[1-9]")


STANDARDS = {name: number for name in NUMBER_STANDARDS}
