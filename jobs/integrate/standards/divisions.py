"""Administrative division codes (GB/T 2260) and street codes (GB/T 10114), which must exist in
the city's code table (`conf/divisions.yml`)."""

from __future__ import annotations

from functools import cache

from pyspark.sql import Column
from pyspark.sql import functions as F

from citylake.catalog import Divisions, load_divisions
from jobs.integrate.standards.core import Reason, Spec, compact, delivered_among, is_missing, lookup, outcome


@cache
def default_divisions() -> Divisions:
    return load_divisions()


def division_code(column: Column, spec: Spec) -> Column:
    """6-digit code of the city or one of its districts; the division's name is accepted too."""
    divisions = spec.divisions or default_divisions()
    names = {divisions.city.name: divisions.city.code} | {d.name: d.code for d in divisions.districts}
    return _known_code(column, width=6, codes=divisions.division_codes, names=names)


def street_code(column: Column, spec: Spec) -> Column:
    """9-digit code of one of the city's streets, towns or townships; an unambiguous name is accepted too."""
    divisions = spec.divisions or default_divisions()
    return _known_code(column, width=9, codes=divisions.street_codes, names=_unique_street_names(divisions))


def _unique_street_names(divisions: Divisions) -> dict[str, str]:
    # two districts may each have a street of the same name; such a name says nothing
    by_name: dict[str, set[str]] = {}
    for street in divisions.streets:
        by_name.setdefault(street.name, set()).add(street.code)
    return {name: codes.pop() for name, codes in by_name.items() if len(codes) == 1}


def _known_code(column: Column, width: int, codes: set[str], names: dict[str, str]) -> Column:
    known = sorted(codes)
    delivered_code = delivered_among(column, known)
    text = delivered_code.text
    normalized = compact(text)
    value = F.when(delivered_code.standard, text).otherwise(F.coalesce(lookup(names, normalized), normalized))
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~value.rlike(r"^\d+$"), Reason.BAD_FORMAT),
        (F.length(value) != width, Reason.BAD_LENGTH),
        (~value.isin(known), Reason.UNKNOWN_DIVISION_CODE),
    ], repaired=value != delivered_code.raw)


STANDARDS = {"division_code": division_code, "street_code": street_code}
