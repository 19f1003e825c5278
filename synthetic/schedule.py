"""When each department cuts and delivers its extracts: the initial full extract of every resource,
then each resource's routine deliveries by the cycles in the catalog."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from citylake.catalog import Catalog, Resource

CHINA = timezone(timedelta(hours=8))
# a periodic full extract of one of these, the first in this order, is delivered with a district missing
DISTRICT_MISSING_CANDIDATES = ["amr.enterprise_registration", "hcb.building", "psb.household_registration"]
# cut times: the initial load at night, daily increments at 02:00, periodic full extracts after them
INITIAL_CUT, INCREMENTAL_CUT, FULL_CUT = time(1, 0), time(2, 0), time(3, 0)


@dataclass(frozen=True)
class Delivery:
    """One package as its source cuts it."""

    resource: Resource
    sequence: int
    round: int             # the day it is cut: 0 is the start date
    mode: str
    cut: int               # state cut: the events of the days before `cut` are in
    previous_cut: int      # incremental: the changes since this cut
    extracted_at: datetime

    @property
    def batch_id(self) -> str:
        return f"{self.resource.department}-{self.resource.code}-{self.sequence:05d}"

    @property
    def key(self) -> str:
        return f"{self.resource.qualified_code}#{self.sequence}"


def is_due(cycle: str, day: date) -> bool:
    return {"daily": True, "weekly": day.weekday() == 0, "monthly": day.day == 1,
            "yearly": day.month == 1 and day.day == 1}[cycle]


def _minutes_offset(resource: Resource) -> int:
    # departments do not all cut at the same minute
    return zlib.crc32(resource.qualified_code.encode()) % 40


def delivery_schedule(catalog: Catalog, start: date, days: int,
                      gaps: Mapping[str, Collection[int]] | None = None) -> list[Delivery]:
    """Every package of the simulated days, in the order their sources cut them; `gaps` holds
    the days (rounds) a resource delivers nothing, its next package taking all changes since its
    last one (sequence numbers stay without gaps)."""
    gaps = gaps or {}
    planned: list[tuple[int, time, str, Resource, str]] = []
    for resource in catalog:
        planned.append((0, INITIAL_CUT, resource.qualified_code, resource, "full"))
        silent = gaps.get(resource.qualified_code, ())
        for round_ in range(1, days + 1):
            if round_ in silent:
                continue
            day = start + timedelta(days=round_)
            for mode, cut_time in (("incremental", INCREMENTAL_CUT), ("full", FULL_CUT)):
                cycle = resource.cycle.get(mode)  # type: ignore[call-overload]
                if cycle is not None and is_due(cycle, day):
                    planned.append((round_, cut_time, resource.qualified_code, resource, mode))
    planned.sort(key=lambda item: (item[0], item[1], item[2]))
    sequences: dict[str, int] = {}
    last_incremental: dict[str, int] = {}
    deliveries = []
    for round_, cut_time, code, resource, mode in planned:
        sequences[code] = sequences.get(code, 0) + 1
        day = start + timedelta(days=round_)
        extracted = datetime.combine(day, cut_time, CHINA) + timedelta(minutes=_minutes_offset(resource))
        previous = last_incremental.get(code, 0)
        if mode == "incremental":
            last_incremental[code] = round_
        deliveries.append(Delivery(resource, sequences[code], round_, mode, round_, previous, extracted))
    return deliveries


def district_missing_target(schedule: list[Delivery]) -> Delivery | None:
    """The periodic full extract delivered with a district missing (held by the delete guard)."""
    periodic = [d for d in schedule if d.round > 0 and d.mode == "full"
                and d.resource.qualified_code in DISTRICT_MISSING_CANDIDATES]
    periodic.sort(key=lambda d: (DISTRICT_MISSING_CANDIDATES.index(d.resource.qualified_code), d.round))
    return periodic[0] if periodic else None


def final_cuts(schedule: list[Delivery], held: Delivery | None = None) -> dict[str, int]:
    """Each resource's state cut once every package is applied: the cut of its last delivery that
    is not `held` (a full extract the delete guard holds is never applied)."""
    cuts: dict[str, int] = {}
    for delivery in schedule:
        if held is None or delivery.key != held.key:
            cuts[delivery.resource.qualified_code] = max(cuts.get(delivery.resource.qualified_code, 0), delivery.cut)
    return cuts
