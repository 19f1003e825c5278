"""Telephone numbers: mainland mobile numbers (11 digits, 1[3-9]...) and landlines with their
area code (0595-22345678), from text with +86, spaces, dashes and brackets."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.integrate.standards.core import (
    SPACE_CHARACTERS, Reason, Spec, delivered_in_form, fold_fullwidth, is_missing, outcome,
)

MOBILE_FORM = r"^1[3-9]\d{9}$"
LANDLINE_FORM = r"^0\d{2,3}-\d{7,8}$"
PHONE_FORM = f"{MOBILE_FORM}|{LANDLINE_FORM}"
# Area codes are prefix-free: 010 and 02x have three digits (with the trunk 0), all others four.
_LANDLINE = r"^(0(?:10|2\d))(\d{7,8})$|^(0[3-9]\d{2})(\d{7,8})$"
# national numbers: a mobile's 11 digits, or a landline's area and local number, 10 to 12 digits
_NATIONAL_LENGTH = r"^(1\d{10}|0\d{9,11})$"
_SEPARATORS = f"[{SPACE_CHARACTERS}()\\-.]"
# (pattern, replacement), in order: +86 before an area code, which then regains its trunk 0
# (+86 10 ..., +86 595 ...); +86 before anything else; 86 without + or 00 before a mobile number
_COUNTRY_CODE = [
    (r"^(?:\+|00)86(?!0|1[3-9]\d{9}$)", "0"),
    (r"^(?:\+|00)86", ""),
    (r"^86(?=1[3-9]\d{9}$)", ""),
]


def phone(column: Column, spec: Spec) -> Column:
    """A mobile number as 11 digits, a landline as area code, dash, local number."""
    delivered_phone = delivered_in_form(column, PHONE_FORM)
    text = delivered_phone.text
    national = _national_number(text)
    value = F.when(delivered_phone.standard, text).otherwise(F.regexp_replace(national, _LANDLINE, "$1$3-$2$4"))
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~national.rlike(r"^\d+$"), Reason.BAD_FORMAT),
        (national.rlike("^[01]") & ~national.rlike(_NATIONAL_LENGTH), Reason.BAD_LENGTH),
        (~value.rlike(PHONE_FORM), Reason.BAD_FORMAT),  # no mobile prefix, no area code
    ], repaired=value != delivered_phone.raw)


def _national_number(text: Column) -> Column:
    """Digits only (unless other characters were delivered), without the country code."""
    number = F.regexp_replace(fold_fullwidth(text), _SEPARATORS, "")
    for pattern, replacement in _COUNTRY_CODE:
        number = F.regexp_replace(number, pattern, replacement)
    return number


STANDARDS = {"phone": phone}
