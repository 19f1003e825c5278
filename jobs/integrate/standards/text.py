"""Text elements: persons' names, and the elements kept as delivered apart from trimming."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.integrate.standards.core import (
    SPACE, Reason, Spec, clean, delivered_in_form, fold_fullwidth, is_missing, outcome,
)

# Elements whose values are free text or identifiers without a standard layout: trimmed only.
PLAIN_TEXT = frozenset({
    "org_name", "address", "text", "case_no", "license_name", "license_no", "certificate_no", "event_id", "room_no",
})

_HAN_ONLY = r"^\p{IsHan}+$"
_SPACE_BETWEEN_HAN = rf"(?<=\p{{IsHan}}){SPACE}+(?=\p{{IsHan}})"
# the separator of transliterated names (买买提·艾力) is typed as many look-alike dots
_DOT_BETWEEN_HAN = rf"(?<=\p{{IsHan}}){SPACE}*[.•・‧∙．·]{SPACE}*(?=\p{{IsHan}})"
_SPACE_RUN = SPACE + "+"


def person_name(column: Column, spec: Spec) -> Column:
    """A name without spaces between Chinese characters, with the middle dot U+00B7 between the
    parts of a transliterated name, and single spaces in names written in Latin letters."""
    delivered_name = delivered_in_form(column, _HAN_ONLY)
    text, standard_form = delivered_name.text, delivered_name.standard
    joined = F.regexp_replace(F.regexp_replace(fold_fullwidth(text), _SPACE_BETWEEN_HAN, ""), _DOT_BETWEEN_HAN, "·")
    value = F.when(standard_form, text).otherwise(F.regexp_replace(joined, _SPACE_RUN, " "))
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~standard_form & value.rlike(r"\d"), Reason.BAD_FORMAT),
    ], repaired=value != delivered_name.raw)


def plain_text(column: Column, spec: Spec) -> Column:
    """The delivered text, cleaned (`clean`); an empty one is missing."""
    raw = column.cast("string")
    text = clean(raw)
    return outcome(text, [(is_missing(text), Reason.MISSING)], repaired=text != raw)


STANDARDS = {"person_name": person_name}
