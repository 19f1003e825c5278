"""Dates, timestamps and tax periods from the layouts departments deliver: `2019-03-05`,
`2019/3/5`, `2019.3.5`, `20190305`, `2019年3月5日`, with stray spaces and full-width digits;
times as `10:11:12`, `10时11分12秒`, ISO 8601 with `T` and an offset."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.integrate.standards.core import (
    Check, Delivered, Reason, Spec, delivered_in_form, fold_fullwidth, is_missing, outcome,
)

# Times without an offset are local time of the city (the `timestamp` element's definition);
# the zone is written into the parsed text, so the session's time zone does not matter.
LOCAL_ZONE = "Asia/Shanghai"
# Earlier values are typing errors (0019 for 2019), not dates anyone records.
EARLIEST_YEAR = 1800

_SEPARATED_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_TIME = r"(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(\.\d{1,9})?\s*秒?)?\s*分?"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})"

# ------------------------------------------------------------------ dates

DATE_FORM = r"^\d{4}-\d{2}-\d{2}$"
# a date, possibly with a time part (Excel cells and exports of datetime columns), or YYYYMMDD
_DATE = rf"^{_SEPARATED_DATE}(?:(?:\s+|T|(?<=日))(?:\d{{1,2}}\s*[:时]\s*\d{{1,2}}[^\s]*))?$|^(\d{{4}})(\d{{2}})(\d{{2}})$"


def date(column: Column, spec: Spec) -> Column:
    """A calendar date (YYYY-MM-DD); a time part delivered with it is dropped."""
    delivered_date, folded, recognised = delivered_in_layouts(column, DATE_FORM, _DATE)
    text, standard_form = delivered_date.text, delivered_date.standard
    iso = F.when(standard_form, text).otherwise(F.regexp_replace(folded, _DATE, "$1$4-$2$5-$3$6"))
    value = iso.try_cast("date")
    return outcome(value, calendar_checks(text, recognised, value, _earliest("date")), repaired=~delivered_date.exact)


def delivered_in_layouts(column: Column, form: str, layouts: str) -> tuple[Delivered, Column, Column]:
    """The delivered text; the text with full width folded; whether it is in the standard form or
    in one of the layouts read (a regular expression on the folded text)."""
    delivered = delivered_in_form(column, form)
    folded = fold_fullwidth(delivered.text)
    return delivered, folded, delivered.standard | folded.rlike(layouts)


def calendar_checks(text: Column, recognised: Column, value: Column, earliest: Column) -> list[Check]:
    """The checks of a date or time: delivered, in a layout read, a real day, not too early
    (compared with the earliest one: the year of a time would cost a time-zone conversion)."""
    return [
        (is_missing(text), Reason.MISSING),
        (~recognised, Reason.UNPARSEABLE_DATE),
        (value.isNull(), Reason.INVALID_DATE),
        (value < earliest, Reason.OUT_OF_RANGE),
    ]


# ------------------------------------------------------------------ timestamps

TIMESTAMP_FORM = (r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,6})?"
                  r"|T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2}))$")
_TIMESTAMP = rf"^{_SEPARATED_DATE}(?:(?:\s+|T|(?<=日)){_TIME})?\s*{_ZONE}?$"
_COMPACT_DATE = (r"^(\d{4})(\d{2})(\d{2})$", "$1-$2-$3")
_COMPACT_TIMESTAMP = (r"^(\d{4})(\d{2})(\d{2})[\sT]?(\d{2})(\d{2})(\d{2})$", "$1-$2-$3 $4:$5:$6")


def timestamp(column: Column, spec: Spec) -> Column:
    """A point in time; local time of the city unless the value carries an offset; a date alone
    is its midnight."""
    delivered_time = delivered_in_form(column, TIMESTAMP_FORM)
    text, standard_form = delivered_time.text, delivered_time.standard
    local_form = standard_form & (F.substring(text, 11, 1) == " ")
    # the cast reads the standard forms as they are (a local time once its zone is written after
    # it); only the rows in other layouts pay for rewriting them (inside CASE branches)
    separated = F.when(standard_form, text).otherwise(_expand_compact(fold_fullwidth(text)))
    recognised = standard_form | separated.rlike(_TIMESTAMP)
    parseable = (F.when(local_form, F.concat(text, F.lit(" " + LOCAL_ZONE)))
                 .when(standard_form, text)
                 .otherwise(_canonical_timestamp(separated)))
    value = parseable.try_cast("timestamp")
    return outcome(value, calendar_checks(text, recognised, value, _earliest("timestamp")), repaired=~delivered_time.exact)


def _earliest(value_type: str) -> Column:
    """The first moment of EARLIEST_YEAR in the city, as a date or a timestamp."""
    return F.lit(f"{EARLIEST_YEAR}-01-01 00:00:00 {LOCAL_ZONE}").cast(value_type)


def _expand_compact(text: Column) -> Column:
    for pattern, replacement in (_COMPACT_DATE, _COMPACT_TIMESTAMP):
        text = F.regexp_replace(text, pattern, replacement)
    return text


def _canonical_timestamp(separated: Column) -> Column:
    """`Y-M-D h:m:s[.f] zone`, which Spark's cast reads, from the parts of any accepted layout: a
    missing hour, minute or second is 0, a missing zone the city's."""
    parts = F.regexp_replace(separated, _TIMESTAMP, "$1-$2-$3 $4:$5:$6$7 $8")
    # one replacement after the other, each reading the one before once: no part is copied
    for empty_part, filled in ((r" ::", " 0:0:0"), (r":(?= |$)", ":0"), (r" $", " " + LOCAL_ZONE)):
        parts = F.regexp_replace(parts, empty_part, filled)
    return parts


# ------------------------------------------------------------------ tax periods

PERIOD_FORM = r"^\d{4}(0[1-9]|1[0-2])$"
_PERIOD = r"^(\d{4})(\d{2})$|^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$"


def tax_period(column: Column, spec: Spec) -> Column:
    """Year and month as YYYYMM, from `201903`, `2019-03`, `2019/3`, `2019年3月`."""
    delivered_period, folded, recognised = delivered_in_layouts(column, PERIOD_FORM, _PERIOD)
    text, standard_form = delivered_period.text, delivered_period.standard
    year = F.when(standard_form, F.substring(text, 1, 4)).otherwise(F.regexp_replace(folded, _PERIOD, "$1$3"))
    month = F.when(standard_form, F.substring(text, 5, 2)).otherwise(F.regexp_replace(folded, _PERIOD, "$2$4"))
    value = F.concat(year, F.lpad(month, 2, "0"))
    return outcome(value, [
        (is_missing(text), Reason.MISSING),
        (~recognised, Reason.UNPARSEABLE_DATE),
        (~month.try_cast("int").between(1, 12), Reason.INVALID_DATE),
        (year.try_cast("int") < EARLIEST_YEAR, Reason.OUT_OF_RANGE),
    ], repaired=value != delivered_period.raw)


STANDARDS = {"date": date, "timestamp": timestamp, "tax_period": tax_period}
