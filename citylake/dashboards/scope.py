"""A dashboard's papermill parameters, checked: which district (None: the whole city) and up to
which day (None: the latest data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from citylake.catalog import District, Divisions, load_divisions
from citylake.settings import profile


@dataclass(frozen=True)
class Scope:
    """Where and when a dashboard looks: a district or the whole city, and an as-of day or the latest."""

    district: District | None = None
    as_of: date | None = None

    @property
    def where(self) -> str:
        """The scope's place, as a heading reads it."""
        return f"{self.district.name} {self.district.name_en}" if self.district else "全市 whole city"

    @property
    def until(self) -> datetime | None:
        """The first moment after the as-of day in the lake's time zone (an exclusive bound for
        business times), or None."""
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=lake_zone()) if self.as_of else None

    @property
    def folder(self) -> str:
        """The sub-folder of the dashboards for this scope: '' for the whole city at the latest data,
        else the district code and/or the as-of day (`350502`, `2026-03-05`, `350502_2026-03-05`)."""
        return "_".join(part for part in (self.district and self.district.code,
                                          self.as_of and self.as_of.isoformat()) if part)


def lake_zone() -> ZoneInfo:
    """The time zone the jobs' days are in (Spark's session time zone in the profile), for the
    as-of day's bounds and the times a dashboard shows."""
    return ZoneInfo(profile().spark.conf.get("spark.sql.session.timeZone", "UTC"))


def resolve_scope(district: str | None = None, as_of: str | date | None = None,
                  divisions: Divisions | None = None) -> Scope:
    """The scope named by the parameters; a clear ValueError for an unknown district or a bad day."""
    return Scope(district=resolve_district(district, divisions), as_of=parse_as_of(as_of))


def resolve_district(value: str | None, divisions: Divisions | None = None) -> District | None:
    """The district a code (`350502`), Chinese name (`鲤城区`) or English name (`Licheng`) names."""
    if value is None or not str(value).strip():
        return None
    wanted = str(value).strip()
    divisions = divisions or load_divisions()
    for district in divisions.districts:
        if wanted in (district.code, district.name) or wanted.lower() == district.name_en.lower():
            return district
    known = ", ".join(f"{district.code} {district.name} {district.name_en}" for district in divisions.districts)
    raise ValueError(f"district {wanted!r} is not a district of {divisions.city.name}; known: {known}")


def parse_as_of(value: str | date | None) -> date | None:
    """An as-of day from an ISO date (`2026-03-05`) or a date; None for the latest data."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of {text!r} is not an ISO date like 2026-03-05") from None
