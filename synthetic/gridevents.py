"""Events grid workers report (环境卫生, 治安隐患, ...): where, when reported, when closed.

Events 0..natural-1 happen at the model's daily rate, anywhere in the city; the planted bursts
of scenarios.py (a street's surge of events on one day) follow them, burst by burst.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthetic import vocab
from synthetic.events import DAY_SECONDS, DailyCounts
from synthetic.layout import CityLayout
from synthetic.model import CityModel
from synthetic.rng import Rand, cumulative

HISTORY_DAYS = 30      # the initial extract holds the events of the month before the start
LONGEST_DAYS = 60      # the longest an event stays open
_TYPE_CUM = cumulative([w for _, w in vocab.GRID_EVENT_TYPES])


def _empty() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Bursts:
    """Planted surges: burst b is `size[b]` events on `day[b]` in `street[b]`, mostly of `kind[b]`."""

    street: np.ndarray = field(default_factory=_empty)
    day: np.ndarray = field(default_factory=_empty)
    size: np.ndarray = field(default_factory=_empty)
    kind: np.ndarray = field(default_factory=_empty)

    SAME_KIND = 0.8  # the share of a burst's events of its own kind

    @property
    def total(self) -> int:
        return int(self.size.sum())

    def first(self) -> np.ndarray:
        """The number of each burst's first event among all bursts' events."""
        return np.concatenate([[0], np.cumsum(self.size)[:-1]]).astype(np.int64)

    def earlier_the_same_day(self) -> np.ndarray:
        """Events of the bursts before each one that fall on its day."""
        same_day = self.day[:, None] == self.day[None, :]
        before = np.arange(self.size.size)[None, :] < np.arange(self.size.size)[:, None]
        return (same_day & before) @ self.size


@dataclass
class GridEventFrame:
    index: np.ndarray
    reported: np.ndarray           # seconds since the start (negative: before)
    closed: np.ndarray
    kind: np.ndarray
    building: np.ndarray
    rank: np.ndarray               # 0-based number of the event among those reported the same day


class GridEvents:
    def __init__(self, layout: CityLayout, rand: Rand, model: CityModel, days: int) -> None:
        self.layout, self.rand = layout, rand
        self.counts = DailyCounts(layout.persons * model.grid_event_rate / 365, HISTORY_DAYS + days, rand, "grid.event")
        self.natural = self.counts.total
        self.bursts = Bursts()  # set by the planted scenarios before any event is built

    @property
    def total(self) -> int:
        return self.natural + self.bursts.total

    def expected_per_street_day(self, street: np.ndarray) -> np.ndarray:
        """The mean number of events a street has per day (events fall on buildings uniformly)."""
        first = self.layout.street_first_building
        share = (first[street + 1] - first[street]) / self.layout.buildings
        return float(np.mean(self.counts.counts)) * share

    def numbers_reported(self, first_day: int, last_day: int) -> np.ndarray:
        """Events reported on days first_day <= day < last_day (day 0 is the start, history negative)."""
        natural = self.counts.numbers_in(first_day + HISTORY_DAYS, last_day + HISTORY_DAYS)
        bursts = self.bursts
        inside = np.flatnonzero((bursts.day >= first_day) & (bursts.day < last_day))
        if inside.size == 0:
            return natural
        first = self.natural + bursts.first()
        planted = [np.arange(first[b], first[b] + bursts.size[b], dtype=np.int64) for b in inside]
        return np.concatenate([natural, *planted])

    def frame(self, index: np.ndarray) -> GridEventFrame:
        rand = self.rand
        index = np.asarray(index, dtype=np.int64)
        planted = index >= self.natural
        day, kind, building, rank = self._natural_parts(np.where(planted, 0, index))
        if planted.any():
            rows = np.flatnonzero(planted)
            day[rows], kind[rows], building[rows], rank[rows] = self._burst_parts(index[rows])
        reported = day * DAY_SECONDS + 7 * 3600 + rand.integers("grid.reported", 14 * 3600, index)
        long_running = rand.uniform("grid.long", index) < 0.15
        duration = np.where(long_running, 10 * DAY_SECONDS + rand.integers("grid.long-duration", 50 * DAY_SECONDS, index),
                            2 * 3600 + rand.integers("grid.duration", 5 * DAY_SECONDS, index))
        return GridEventFrame(index, reported, reported + duration, kind, building, rank)

    def _natural_parts(self, index: np.ndarray):
        day = self.counts.day_of(index) - HISTORY_DAYS
        rank = index - self.counts.first[np.maximum(day + HISTORY_DAYS, 0)]
        return (day, self.rand.weighted("grid.type", _TYPE_CUM, index),
                self.rand.integers("grid.building", self.layout.buildings, index), rank)

    def _burst_parts(self, index: np.ndarray):
        """Day, kind, building and rank within the day of planted burst events."""
        bursts, layout, rand = self.bursts, self.layout, self.rand
        first = bursts.first()
        number = index - self.natural
        burst = np.searchsorted(first, number, side="right") - 1
        day = bursts.day[burst]
        street = bursts.street[burst]
        kind = np.where(rand.uniform("scenario.surge.same-kind", index) < Bursts.SAME_KIND, bursts.kind[burst],
                        rand.weighted("grid.type", _TYPE_CUM, index))
        start, end = layout.street_first_building[street], layout.street_first_building[street + 1]
        building = start + rand.integers("scenario.surge.building", np.maximum(end - start, 1), index)
        # after the day's natural events and the earlier bursts of the same day
        natural_that_day = self.counts.counts[day + HISTORY_DAYS]
        return day, kind, building, natural_that_day + bursts.earlier_the_same_day()[burst] + number - first[burst]
