"""The masks (脱敏) of personal data elements, each defined once as a SQL expression that Trino and
Spark SQL both run, with a plain Python twin for values outside either engine.

Trino's access rules put the SQL expression on a column (`citylake.trino.security`); exchange
packages apply the same text through Spark (`mask_column`), so a value leaves the platform masked
the same way whichever door it goes through. The functions used (`substr` with a negative start,
`lpad`, `length`, `regexp_like`, `regexp_replace` with `$n` groups, `CASE`) mean the same in both
engines; the tests run every mask in Trino, Spark and Python on the same values and compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# `{c}` stands for the column (or any string expression); every mask keeps NULL as NULL.
_ID_NUMBER = ("CASE WHEN length({c}) > 10 THEN substr({c}, 1, 6) || lpad('', length({c}) - 10, '*') || substr({c}, -4) "
              "ELSE lpad('', length({c}), '*') END")
_NAME = "CASE WHEN length({c}) > 0 THEN substr({c}, 1, 1) || '*' ELSE {c} END"
_PHONE = ("CASE WHEN length({c}) > 7 THEN substr({c}, 1, 3) || '****' || substr({c}, -4) "
          "ELSE lpad('', length({c}), '*') END")
# Down to the street (街道), town (镇) or township (乡); an address that names none keeps its
# district or county (区, 县, 市) only, and one that names neither is hidden.
_STREET = r"^.*?(街道|镇|乡)"
_DISTRICT = r"^.*?(区|县|市)"
_ADDRESS = (f"CASE WHEN regexp_like({{c}}, '{_STREET}') THEN regexp_replace({{c}}, '({_STREET}).*$', '$1') "
            f"WHEN regexp_like({{c}}, '{_DISTRICT}') THEN regexp_replace({{c}}, '({_DISTRICT}).*$', '$1') "
            "WHEN {c} IS NULL THEN NULL ELSE '***' END")
# A key that ends in an ID number (`insured_after_death:350502199001011234`): that number masked.
# [0-9], not \d: Spark SQL reads a backslash in a string literal as an escape, Trino does not.
_KEYED_ID = "regexp_replace({c}, '([0-9]{{6}})[0-9]{{8}}([0-9]{{3}}[0-9X])$', '$1********$2')"
_REDACT = "CASE WHEN {c} IS NULL THEN NULL ELSE '***' END"


def _id_number(value: str) -> str:
    if len(value) > 10:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    return "*" * len(value)


def _name(value: str) -> str:
    return value[:1] + "*" if value else value


def _phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) > 7 else "*" * len(value)


def _address(value: str) -> str:
    for pattern in (_STREET, _DISTRICT):
        found = re.match(pattern, value)
        if found:
            return found.group(0)
    return "***"


def _keyed_id(value: str) -> str:
    return re.sub(r"([0-9]{6})[0-9]{8}([0-9]{3}[0-9X])$", r"\1********\2", value)


@dataclass(frozen=True)
class Mask:
    """One mask: its SQL template over `{c}` and the same rule in Python."""

    name: str
    description: str
    sql_template: str
    python: Callable[[str], str]

    def sql(self, expression: str) -> str:
        """The mask applied to a SQL expression (a quoted column name, usually)."""
        return "(" + self.sql_template.format(c=expression) + ")"

    def apply(self, value: str | None) -> str | None:
        """The mask applied to one value in Python (None stays None)."""
        return None if value is None else self.python(value)


MASKS: dict[str, Mask] = {mask.name: mask for mask in (
    Mask("id_number", "first 6 and last 4 characters kept (公民身份号码: 350502********1234)", _ID_NUMBER, _id_number),
    Mask("name", "the surname (first character) and one * (张*)", _NAME, _name),
    Mask("phone", "first 3 and last 4 characters around **** (138****5678)", _PHONE, _phone),
    Mask("address", "down to the street, town or township (鲤城区海滨街道)", _ADDRESS, _address),
    Mask("keyed_id_number", "a key's trailing ID number masked (rule:350502********1234)", _KEYED_ID, _keyed_id),
    Mask("redact", "the whole value replaced by ***", _REDACT, lambda value: "***"),
)}


def mask(name: str) -> Mask:
    try:
        return MASKS[name]
    except KeyError:
        raise KeyError(f"unknown mask {name!r}; masks are {', '.join(MASKS)}") from None


def conditional_sql(mask_name: str, expression: str, when: str | None) -> str:
    """The mask, applied only to rows where `when` holds (all rows when None)."""
    masked = mask(mask_name).sql(expression)
    return masked if when is None else f"(CASE WHEN {when} THEN {masked} ELSE {expression} END)"


def mask_column(df, column: str, mask_name: str, when: str | None = None):
    """The DataFrame with one column masked in Spark by the same SQL text Trino runs."""
    from pyspark.sql import functions as F

    expression = f"`{column.replace('`', '``')}`"
    return df.withColumn(column, F.expr(conditional_sql(mask_name, expression, when)))
