"""Events grid workers report (环境卫生, 治安隐患, ...): where, when reported, when closed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citylake.synthetic import vocab
from citylake.synthetic.events import DAY_SECONDS, DailyCounts
from citylake.synthetic.layout import CityLayout
from citylake.synthetic.model import CityModel
from citylake.synthetic.rng import Rand, cumulative

HISTORY_DAYS = 30      # the initial extract holds the events of the month before the start
LONGEST_DAYS = 60      # the longest an event stays open
_TYPE_CUM = cumulative([w for _, w in vocab.GRID_EVENT_TYPES])


@dataclass
class GridEventFrame:
    index: np.ndarray
    reported: np.ndarray           # seconds since the start (negative: before)
    closed: np.ndarray
    kind: np.ndarray
    building: np.ndarray


class GridEvents:
    def __init__(self, layout: CityLayout, rand: Rand, model: CityModel, days: int) -> None:
        self.layout, self.rand = layout, rand
        self.counts = DailyCounts(layout.persons * model.grid_event_rate / 365, HISTORY_DAYS + days, rand, "grid.event")
        self.total = self.counts.total

    def numbers_reported(self, first_day: int, last_day: int) -> np.ndarray:
        """Events reported on days first_day <= day < last_day (day 0 is the start, history negative)."""
        return self.counts.numbers_in(first_day + HISTORY_DAYS, last_day + HISTORY_DAYS)

    def frame(self, index: np.ndarray) -> GridEventFrame:
        rand = self.rand
        index = np.asarray(index, dtype=np.int64)
        day = self.counts.day_of(index) - HISTORY_DAYS
        reported = day * DAY_SECONDS + 7 * 3600 + rand.integers("grid.reported", 14 * 3600, index)
        long_running = rand.uniform("grid.long", index) < 0.15
        duration = np.where(long_running, 10 * DAY_SECONDS + rand.integers("grid.long-duration", 50 * DAY_SECONDS, index),
                            2 * 3600 + rand.integers("grid.duration", 5 * DAY_SECONDS, index))
        kind = rand.weighted("grid.type", _TYPE_CUM, index)
        building = rand.integers("grid.building", self.layout.buildings, index)
        return GridEventFrame(index, reported, reported + duration, kind, building)
