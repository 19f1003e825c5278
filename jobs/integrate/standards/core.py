"""What every standard shares: the result struct, the reason codes and text clean-up, all as
native Spark Column expressions.

A standard turns a delivered column into `struct<value, error, repaired>`:
- `value`: the standard form, typed as the element says; NULL when the value is not valid;
- `error`: NULL when valid (possibly after repair), else one code of `Reason`;
- `repaired`: true when the value is valid but was not delivered in the standard form, e.g. a
  15-digit ID number, full-width digits, stray spaces, a trailing line break, a zero-width space,
  `2019/3/5`, `男` (the synthetic city's faults of these kinds are expected to be repaired, and are
  counted by this flag).

Every standard reads the delivered text through one clean-up (`clean`): invisible format
characters removed wherever they are, whitespace and line terminators trimmed at both ends. A
value is taken as delivered in standard form only when its whole raw text matches
(`whole_value`: Java's `$` alone would let a final line break through).

Spark computes a subexpression once per row when it occurs more than once outside CASE branches
(AND and OR included): it is hoisted and evaluated for every row before the rest. Inside a CASE
branch an expression is evaluated only when that branch is taken, and again in each branch that
holds it. So the checks are WHEN conditions that all run (`first_failure`), the parts shared by
value and checks (normalized text, check character) are written where they are hoisted, and the
costly repairs of the few values delivered off-standard sit in CASE branches, so that values
already in standard form never pay for them.

A Column is a tree, and a part used twice is copied twice, copies nesting in copies: the first
ID number standard referenced its digits 17 times and grew to 665,000 characters, seconds of
planning per query. So each part is referenced as few times as possible: the result is picked
from an array by the first failing check (`outcome`), lookups go through literal maps, and
rewrites are chains of replacements, each reading the one before once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from pyspark.sql import Column
from pyspark.sql import functions as F

from citylake.catalog import Divisions, Element

RESULT_FIELDS = ("value", "error", "repaired")


class Reason(StrEnum):
    """Why a value is not valid: the fixed vocabulary of `error`."""

    MISSING = "missing"                              # NULL, empty or only whitespace
    BAD_LENGTH = "bad_length"                        # the right kind of characters, but too few or too many
    BAD_FORMAT = "bad_format"                        # characters or a layout the standard does not allow
    INVALID_CHECK_DIGIT = "invalid_check_digit"      # the check digit or character does not match
    INVALID_BIRTH_DATE = "invalid_birth_date"        # an ID number's birth date is no calendar date
    UNKNOWN_DIVISION_CODE = "unknown_division_code"  # a well-formed division or street code not in the city
    UNKNOWN_CODE = "unknown_code"                    # neither a code of the list nor a known variant of one
    UNPARSEABLE_DATE = "unparseable_date"            # not a date, time or period in any accepted layout
    INVALID_DATE = "invalid_date"                    # an accepted layout, but no such day or time (2019-02-30)
    OUT_OF_RANGE = "out_of_range"                    # a number or date outside what the element allows


REASONS: tuple[str, ...] = tuple(reason.value for reason in Reason)

Check = tuple[Column, Reason]


@dataclass(frozen=True)
class Spec:
    """What a standard function needs besides the column: the element, the city's divisions
    (None: the default `conf/divisions.yml`) and the value type asked for (None: the element's)."""

    element: Element
    divisions: Divisions | None = None
    value_type: str | None = None


# --------------------------------------------------------------------------- text clean-up

# Every character Python's str.isspace() calls whitespace (which `python_key` and the reference
# implementations split on): Unicode's White_Space, the line terminators LF, CR, NEL (U+0085),
# U+2028 and U+2029 among them, and the ASCII information separators U+001C..U+001F.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(chr(code) for code in range(0x2000, 0x200B))
              + "\u2028\u2029\u202f\u205f\u3000")
# The same characters inside a character class of Java's regular expressions, for the standards'
# own patterns (Java's `\s` is ASCII whitespace only), and as a class. One property test and one
# range: a class of the 29 characters one by one makes Java test them one after the other.
SPACE_CHARACTERS = r"\p{IsWhite_Space}\x1c-\x1f"
SPACE = f"[{SPACE_CHARACTERS}]"
_WHITESPACE_RUN = SPACE + "+"
# Invisible format characters (Unicode category Cf): the byte-order mark U+FEFF, zero-width space
# U+200B, non-joiner and joiner U+200C/U+200D, word joiner U+2060, soft hyphen, direction marks.
# Copying from web pages and Excel brings them in; no standard form holds one anywhere.
_FORMAT_CHARACTER = r"\p{Cf}"
# The full-width forms of ASCII (U+FF01..U+FF5E) and the ideographic space, as typed by Chinese IMEs
_FULLWIDTH = "".join(chr(code) for code in range(0xFF01, 0xFF5F)) + "\u3000"
_HALFWIDTH = "".join(chr(code) for code in range(0x21, 0x7F)) + " "
_TO_HALFWIDTH = str.maketrans(_FULLWIDTH, _HALFWIDTH)


def clean(column: Column) -> Column:
    """The delivered text as every standard reads it: format characters (`_FORMAT_CHARACTER`)
    removed wherever they are, then whitespace and line terminators (`WHITESPACE`) trimmed at
    both ends.

    Pure-ASCII text holds no format character; other text is searched for one before any is
    replaced: a replacement rebuilds every string, a search only reads it (half the time on
    Chinese addresses, which seldom hold one)."""
    text = column.cast("string")
    has_format_character = (F.octet_length(text) > F.length(text)) & text.rlike(_FORMAT_CHARACTER)
    visible = F.when(has_format_character, F.regexp_replace(text, _FORMAT_CHARACTER, "")).otherwise(text)
    return F.btrim(visible, F.lit(WHITESPACE))


def whole_value(form: str) -> str:
    """A regular expression that matches when `form` matches the whole value. Java's `$` also
    matches before a final line terminator, so '13812345678\\n' would pass `^1[3-9]\\d{9}$` as it
    is: `\\z` is the value's true end."""
    return rf"\A(?:{form})\z"


class Delivered(NamedTuple):
    """A delivered column as text, and whether it is in the standard form."""

    raw: Column       # as delivered
    text: Column      # cleaned (`clean`)
    standard: Column  # `text` is in the standard form
    exact: Column     # `raw` is: delivered in the standard form, nothing to repair


def delivered_in_form(column: Column, form: str) -> Delivered:
    """The delivered text and whether it is in the standard form (a regular expression). Most
    values are delivered in the standard form: those are recognised by one match on the raw text
    and never pay for cleaning."""
    raw = column.cast("string")
    whole_form = whole_value(form)
    exact = raw.rlike(whole_form)
    text = F.when(exact, raw).otherwise(clean(raw))
    return Delivered(raw, text, F.when(exact, F.lit(True)).otherwise(text.rlike(whole_form)), exact)


def delivered_among(column: Column, codes: Sequence[str]) -> Delivered:
    """The delivered text and whether it is one of the codes (a hash lookup)."""
    raw = column.cast("string")
    exact = raw.isin(list(codes))
    text = F.when(exact, raw).otherwise(clean(raw))
    return Delivered(raw, text, F.when(exact, F.lit(True)).otherwise(text.isin(list(codes))), exact)


def is_missing(text: Column) -> Column:
    return text.isNull() | (text == "")


def fold_fullwidth(text: Column) -> Column:
    """Full-width letters, digits and punctuation as ASCII; pure-ASCII text is left untouched
    (translate is costly, and a string whose byte count equals its character count is ASCII)."""
    return F.when(F.octet_length(text) > F.length(text), F.translate(text, _FULLWIDTH, _HALFWIDTH)).otherwise(text)


def without_spaces(text: Column) -> Column:
    return F.regexp_replace(text, _WHITESPACE_RUN, "")


def compact(text: Column) -> Column:
    """Full-width folded, every space removed, upper case: how codes are compared."""
    return F.upper(without_spaces(fold_fullwidth(text)))


def python_key(text: str) -> str:
    """The Python twin of `lookup_key`, for building lookup maps from configuration."""
    return "".join(text.translate(_TO_HALFWIDTH).split()).lower()


def lookup_key(text: Column) -> Column:
    """Full-width folded, spaces removed, lower case: how variants of a code are looked up."""
    return F.lower(without_spaces(fold_fullwidth(text)))


def pick(options: str | Sequence[str], index: Column) -> Column:
    """The index-th (0-based) of a few literal strings."""
    return F.try_element_at(F.array(*[F.lit(option) for option in options]), index.cast("int") + 1)


def lookup(mapping: dict[str, str], key: Column) -> Column:
    """The value a literal map holds for the key, or NULL."""
    if not mapping:
        return F.lit(None).cast("string")
    pairs = [F.lit(part) for item in sorted(mapping.items()) for part in item]
    return F.try_element_at(F.create_map(*pairs), key)


# --------------------------------------------------------------------------- result


def first_failure(checks: Sequence[Check]) -> Column:
    """Index of the first check whose condition holds, NULL when none does. Every condition is
    evaluated (LEAST has no short cut), so subexpressions shared with the value are computed once."""
    failures = [F.when(condition, F.lit(index)) for index, (condition, _) in enumerate(checks)]
    return failures[0] if len(failures) == 1 else F.least(*failures)


def outcome(value: Column, checks: Sequence[Check], repaired: Column) -> Column:
    """The standard's result struct: the value when no check fails, the first failing check's
    reason, and whether a valid value was delivered off-standard (`repaired`, NULL read as false).

    The result is picked from an array of every possible result by the first failing check, so
    that the checks and the value each stand once in the expression: a CASE per field would copy
    them into every field, tripling the tree Spark analyses and compiles."""
    valid = F.struct(value.alias("value"), F.lit(None).cast("string").alias("error"),
                     F.coalesce(repaired, F.lit(False)).alias("repaired"))
    failures = [F.struct(F.lit(None).alias("value"), F.lit(reason.value).alias("error"), F.lit(False).alias("repaired"))
                for _, reason in checks]
    return F.element_at(F.array(valid, *failures), F.coalesce(first_failure(checks) + 2, F.lit(1)))
