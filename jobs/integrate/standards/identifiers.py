"""Identity numbers: the resident ID number (GB 11643), the unified social credit code
(GB 32100), and a party's ID number that is either of them."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.integrate.standards.core import (
    SPACE_CHARACTERS, Reason, Spec, clean, compact, delivered_in_form, fold_fullwidth, is_missing, outcome, pick,
)

# ------------------------------------------------------------------ resident ID number (GB 11643)

ID_FORM = r"^\d{17}[\dX]$"
# a legacy 15-digit number: division code, then the birth date without its century (always 19)
_LEGACY_ID = r"^(?<division>\d{6})(?<rest>\d{9})$"
# ISO 7064 MOD 11-2 weighs digit i (1-based) of the 17 by 2^(18-i) mod 11, and the check character
# is (12 - sum) mod 11. As 13 = 2 (mod 11), half the sum is, mod 11, the 17 digits read as a
# base-13 number (python-stdnum's trick): one `conv` instead of 17 digit extractions.
_ID_CHECK_CHARACTERS = "0123456789X"  # by (1 - 2 * base-13 value) mod 11


def resident_id(column: Column, spec: Spec) -> Column:
    """18-character ID number with a valid check character and birth date; 15-digit numbers
    upgraded (century 19 inserted, check character computed).

    Every part is referenced as few times as possible: a column expression is a tree, and a part
    used twice is copied, so that fan-out multiplies the size Spark must analyse and compile."""
    delivered_id = delivered_in_form(column, ID_FORM)
    text, standard_form = delivered_id.text, delivered_id.standard
    number = F.when(standard_form, text).otherwise(compact(text))
    # the 17 digits before the check character: a legacy number gets its century; a number in
    # standard form skips that regular expression
    upgraded = F.regexp_replace(number, _LEGACY_ID, "${division}19${rest}")
    body = F.substring(F.when(standard_form, text).otherwise(upgraded), 1, 17)
    value = F.concat(body, _id_check_character(body))
    # the order of python-stdnum's cn.ric.validate, so that reasons can be cross-checked
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~F.length(number).isin(15, 18), Reason.BAD_LENGTH),
        (~(standard_form | body.rlike(r"^\d{17}$")), Reason.BAD_FORMAT),
        ((value != number) & (F.length(number) == 18), Reason.INVALID_CHECK_DIGIT),
        (~is_calendar_date(F.substring(body, 7, 8)), Reason.INVALID_BIRTH_DATE),
    ], repaired=value != delivered_id.raw)


def _id_check_character(body: Column) -> Column:
    half_sum = F.conv(body, 13, 10).try_cast("long")
    return pick(_ID_CHECK_CHARACTERS, F.pmod(1 - 2 * F.pmod(half_sum, F.lit(11)), F.lit(11)))


def is_calendar_date(yyyymmdd: Column) -> Column:
    """Whether 8 digits YYYYMMDD are a day of the proleptic Gregorian calendar, years 1 to 9999.
    By arithmetic: parsing with a date pattern costs several times more per row."""
    number = yyyymmdd.try_cast("int")
    year, month, day = F.floor(number / 10_000), F.floor(number / 100) % 100, number % 100
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = F.when(month == 2, F.when(leap, 29).otherwise(28)).when(month.isin(4, 6, 9, 11), 30).otherwise(31)
    return (year >= 1) & month.between(1, 12) & (day >= 1) & (day <= days)


# ------------------------------------------------------------------ unified social credit code (GB 32100)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# registration authority (a digit, or a letter for the authorities added later: A, N, Y, ...),
# entity type (a digit), 6-digit division code, 9-character organisation code, check character
USCC_FORM = r"^[0-9A-HJ-NPQRTUWXY]\d{7}[0-9A-HJ-NPQRTUWXY]{10}$"
# Letters after H skip I, O, S, V and Z; renaming them to consecutive base-36 digits makes each
# character's base-36 value its GB 32100 value.
_USCC_LETTERS, _BASE36_LETTERS = "JKLMNPQRTUWXY", "IJKLMNOPQRSTU"
# spaces and the dashes some systems print the code with (9135-0500-...)
_USCC_SEPARATORS = f"[{SPACE_CHARACTERS}-]+"


def uscc(column: Column, spec: Spec) -> Column:
    """18-character unified social credit code with a valid check character."""
    delivered_code = delivered_in_form(column, USCC_FORM)
    text, standard_form = delivered_code.text, delivered_code.standard
    code = F.when(standard_form, text).otherwise(F.upper(F.regexp_replace(fold_fullwidth(text), _USCC_SEPARATORS, "")))
    value = F.concat(F.substring(code, 1, 17), _uscc_check_character(code))
    # the order of python-stdnum's cn.uscc.validate
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (F.length(code) != 18, Reason.BAD_LENGTH),
        (~(standard_form | code.rlike(USCC_FORM)), Reason.BAD_FORMAT),
        (value != code, Reason.INVALID_CHECK_DIGIT),
    ], repaired=value != delivered_code.raw)


def _uscc_check_character(code: Column) -> Column:
    """GB 32100 check character: 31 - (sum of value(c_i) * 3^(i-1) mod 31), mod 31.

    34 = 3 (mod 31), so the weighted sum is, mod 31, the reversed 17 characters read as a base-34
    number; `conv` reads it in two parts of at most 9 characters, far below its overflow."""
    reversed_values = F.reverse(F.translate(F.substring(code, 1, 17), _USCC_LETTERS, _BASE36_LETTERS))
    high = F.conv(F.substring(reversed_values, 1, 9), 34, 10).try_cast("long")   # characters 17..9
    low = F.conv(F.substring(reversed_values, 10, 8), 34, 10).try_cast("long")   # characters 8..1
    total = F.pmod(high, F.lit(31)) * pow(34, 8, 31) + F.pmod(low, F.lit(31))
    return pick(USCC_ALPHABET, F.pmod(-total, F.lit(31)))


# ------------------------------------------------------------------ party: a person or an organisation

_PERSON_LIKE = r"^(\d{15}|\d{17}[\dX])$"


def party_id(column: Column, spec: Spec) -> Column:
    """A resident ID number or a USCC, whichever the value is valid as; an invalid value is judged
    as an ID number when it looks like one (digits only), else as a USCC."""
    person, organisation = resident_id(column, spec), uscc(column, spec)
    looks_like_person = compact(clean(column)).rlike(_PERSON_LIKE)
    as_person = person["error"].isNull() | (organisation["error"].isNotNull() & looks_like_person)
    # one CASE over the two results, not one per field: each use copies both standards
    return F.when(as_person, person).otherwise(organisation)


STANDARDS = {"resident_id": resident_id, "uscc": uscc, "party_id": party_id}
