"""Code lists declared in `conf/elements.yml` (gender, ethnicity, insurance type, ...), codes with a
declared pattern (grid, building, unit codes, ...) and GB/T 4754 industry codes."""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

from citylake.catalog import Element
from jobs.integrate.standards.core import (
    Reason, Spec, compact, delivered_among, delivered_in_form, is_missing, lookup, lookup_key, outcome, python_key,
)

# ------------------------------------------------------------------ code lists


def code_list(column: Column, spec: Spec) -> Column:
    """One code of the element's list, from the code itself, its label or a declared alias,
    compared without case, spaces or full width; numeric codes also without leading zeros."""
    codes = sorted(spec.element.values or {})
    delivered_code = delivered_among(column, codes)
    text = delivered_code.text
    value = F.when(delivered_code.standard, text).otherwise(lookup(variants(spec.element), lookup_key(text)))
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (value.isNull(), Reason.UNKNOWN_CODE),
    ], repaired=value != delivered_code.raw)


def variants(element: Element) -> dict[str, str]:
    """Lookup key of every accepted variant -> its code. A variant naming two codes is an error in
    the configuration, reported here rather than resolved by chance."""
    found: dict[str, str] = {}
    for code, definition in (element.values or {}).items():
        spellings = [code, definition.label, *definition.aliases]
        if code.isdigit():
            spellings.append(code.lstrip("0") or "0")  # '1' for '01' (ethnicity, relation)
        for spelling in spellings:
            key = python_key(spelling)
            if found.setdefault(key, code) != code:
                raise ValueError(f"data element {element.name}: {spelling!r} is a variant of both "
                                 f"{found[key]!r} and {code!r}")
    return found


# ------------------------------------------------------------------ codes with a pattern

_DIGITS_ONLY = re.compile(r"^\^\\d\{(\d+)\}\$$")


def patterned_code(column: Column, spec: Spec) -> Column:
    """A code matching the element's pattern, after folding full width, removing spaces and
    upper-casing; a digits-only pattern tells a wrong length from a wrong character."""
    pattern = spec.element.pattern
    if pattern is None:
        raise ValueError(f"data element {spec.element.name} has no pattern")
    delivered_code = delivered_in_form(column, pattern)
    text = delivered_code.text
    value = F.when(delivered_code.standard, text).otherwise(compact(text))
    checks = [(is_missing(text), Reason.MISSING)]
    width = _digits_only_width(pattern)
    if width is not None:
        checks.append(((F.length(value) != width) & value.rlike(r"^\d+$"), Reason.BAD_LENGTH))
    checks.append((~value.rlike(pattern), Reason.BAD_FORMAT))
    return outcome(value, checks, repaired=value != delivered_code.raw)


def _digits_only_width(pattern: str) -> int | None:
    match = _DIGITS_ONLY.match(pattern)
    return int(match.group(1)) if match else None


# ------------------------------------------------------------------ industry (GB/T 4754-2017)

# The 20 sections and the 2-digit divisions each holds; the structure is fixed by the standard.
INDUSTRY_SECTIONS = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52), "G": (53, 60),
    "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79),
    "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 97), "T": (98, 98),
}
_SECTION_OF_DIVISION = {f"{division:02d}": letter for letter, (first, last) in INDUSTRY_SECTIONS.items()
                        for division in range(first, last + 1)}
_INDUSTRY_FORM = r"^[A-T]\d{4}$"
_INDUSTRY_LAYOUT = r"^([A-Z]?)(\d{2,4})$|^([A-Z])$"


def industry_code(column: Column, spec: Spec) -> Column:
    """Section letter plus 2 to 4 digits (division, group, class), or a section alone. A code
    delivered without its letter gets the section its division belongs to; a letter that does not
    hold the division is an unknown code."""
    delivered_code = delivered_in_form(column, _INDUSTRY_FORM)
    text, standard_form = delivered_code.text, delivered_code.standard
    code = F.when(standard_form, text).otherwise(compact(text))
    letter = F.regexp_extract(code, _INDUSTRY_LAYOUT, 1)
    digits = F.regexp_extract(code, _INDUSTRY_LAYOUT, 2)
    section_alone = F.regexp_extract(code, _INDUSTRY_LAYOUT, 3)
    section = _section_of(F.substring(digits, 1, 2))
    value = F.when(section_alone != "", section_alone).otherwise(F.concat(section, digits))
    given_section = F.when(section_alone != "", section_alone).otherwise(letter)
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~(standard_form | code.rlike(_INDUSTRY_LAYOUT)), Reason.BAD_FORMAT),
        (~given_section.isin("", *INDUSTRY_SECTIONS), Reason.UNKNOWN_CODE),
        ((digits != "") & section.isNull(), Reason.UNKNOWN_CODE),
        ((letter != "") & (letter != section), Reason.UNKNOWN_CODE),
    ], repaired=value != delivered_code.raw)


def _section_of(division: Column) -> Column:
    """The section letter holding a 2-digit division ('18'), NULL for a division no section holds."""
    return lookup(_SECTION_OF_DIVISION, division)


STANDARDS = {"industry_code": industry_code}
