"""Data element standards (数据元标准): one function per element, usable by any resource by the
element's name, each a native Spark Column expression (no Python on the hot path).

    from jobs.integrate.standards import standardize
    frame.select(standardize("resident_id", F.col("GMSFHM")).alias("id_number"))

`standardize` returns `struct<value, error, repaired>` (see `core`): the standard value typed as
the element says, NULL when invalid; the reason it is invalid, from `REASONS`; and whether a
valid value needed more than trimming. Families of standards live in one module each:
identifiers (GB 11643, GB 32100), divisions (GB/T 2260), codes (code lists of
`conf/elements.yml`, patterned codes, GB/T 4754), dates, numbers, phones and text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

from pyspark.sql import Column

from citylake.catalog import Divisions, Element, load_elements
from jobs.integrate.standards import codes, dates, divisions, identifiers, numbers, phones, text
from jobs.integrate.standards.core import REASONS, RESULT_FIELDS, Reason, Spec
from jobs.integrate.standards.text import PLAIN_TEXT

Standard = Callable[[Column, Spec], Column]

# Elements with a standard of their own; code lists and patterned codes are recognised from
# their definition in conf/elements.yml, so a new code list needs no code.
NAMED_STANDARDS: dict[str, Standard] = {
    **identifiers.STANDARDS, **divisions.STANDARDS, **codes.STANDARDS, **dates.STANDARDS,
    **numbers.STANDARDS, **phones.STANDARDS, **text.STANDARDS,
}

__all__ = ["PLAIN_TEXT", "REASONS", "RESULT_FIELDS", "Reason", "Standard", "registry", "standard_for", "standardize"]


@cache
def _elements() -> dict[str, Element]:
    return load_elements()


def standard_for(element: Element) -> Standard | None:
    """The element's standard function; None for a plain-text element or one without a standard."""
    if element.name in NAMED_STANDARDS:
        return NAMED_STANDARDS[element.name]
    if element.name in PLAIN_TEXT:
        return None
    if element.is_code_list:
        return codes.code_list
    if element.pattern is not None and element.type == "string":
        return codes.patterned_code
    return None


def registry(elements: Mapping[str, Element] | None = None) -> dict[str, Standard]:
    """Element name -> standard function, for every element (of `conf/elements.yml` by default)
    that needs standardizing; plain-text elements (`PLAIN_TEXT`) are not in it."""
    elements = _elements() if elements is None else elements
    found = {name: standard_for(element) for name, element in elements.items()}
    return {name: standard for name, standard in found.items() if standard is not None}


def standardize(element: str, column: Column, *, divisions: Divisions | None = None,
                value_type: str | None = None) -> Column:
    """The column standardized as data element `element`: `struct<value, error, repaired>`.

    Args:
        element: a data element name of `conf/elements.yml`, e.g. "resident_id".
        column: the delivered values (text; other types are read as their text).
        divisions: the city's divisions for division and street codes (default: conf/divisions.yml).
        value_type: for numeric elements, the catalog column's type to produce, e.g. "decimal(18,2)".
    """
    definition = _elements().get(element)
    if definition is None:
        raise KeyError(f"unknown data element {element!r}")
    if value_type is not None and element not in numbers.NUMBER_STANDARDS and value_type != definition.type:
        raise ValueError(f"data element {element} holds {definition.type} values, not {value_type}")
    spec = Spec(definition, divisions, value_type)
    if element in PLAIN_TEXT:
        return text.plain_text(column, spec)
    standard = standard_for(definition)
    if standard is None:
        raise KeyError(f"data element {element!r} has no standard and is not declared plain text")
    return standard(column, spec)
