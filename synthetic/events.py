"""When things happen: daily counts of new entities and of events that pick existing ones.

An event stream of a kind (deaths, moves, job changes, ...) numbers its candidates 0, 1, 2, ...
in day order; candidate j falls on the entity `permutation(j)`. Because the permutation is a
bijection, an entity meets each kind of event at most once, and "does entity i have the event,
and on which day" is answered from i alone through the inverse permutation - no list of who
died when is kept anywhere.
"""

from __future__ import annotations

import numpy as np

from synthetic.rng import Permutation, Rand

NO_DAY = -1
DAY_SECONDS = 86_400
WORKDAY_START = 8 * 3600
WORKDAY_LENGTH = 12 * 3600


class DailyCounts:
    """How many of something happen on each day, at an expected rate per day (fractional rates
    accumulate, so that a small city still sees an occasional event)."""

    def __init__(self, per_day: float, days: int, rand: Rand, name: str) -> None:
        phase = float(rand.uniform(f"counts/{name}", 0))
        steps = np.floor(per_day * np.arange(days + 1) + phase)
        self.counts = np.diff(steps).astype(np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.total = int(self.first[-1])

    def day_of(self, number: np.ndarray) -> np.ndarray:
        """The day of the n-th occurrence (NO_DAY beyond the last day)."""
        day = np.searchsorted(self.first, number, side="right") - 1
        return np.where(np.asarray(number) < self.total, day, NO_DAY)

    def numbers_in(self, first_day: int, last_day: int) -> np.ndarray:
        """Occurrence numbers on days first_day <= day < last_day."""
        first_day, last_day = max(first_day, 0), min(last_day, len(self.counts))
        if last_day <= first_day:
            return np.empty(0, dtype=np.int64)
        return np.arange(self.first[first_day], self.first[last_day], dtype=np.int64)


class EventStream:
    """Events of one kind over a pool of entities [0, pool), at `rate` per entity and year."""

    def __init__(self, kind: str, pool: int, rate_per_year: float, days: int, rand: Rand) -> None:
        self.kind = kind
        self.rand = rand
        # never more candidates than entities: each entity is picked at most once
        per_day = min(pool * rate_per_year / 365.0, pool / max(days, 1))
        self.daily = DailyCounts(per_day, days, rand, f"event/{kind}")
        self.permutation = Permutation(max(pool, 1), rand.seed, f"event/{kind}")
        self.pool = pool

    def day_of(self, entity: np.ndarray) -> np.ndarray:
        """Day of each entity's event, or NO_DAY if it has none within the simulated days."""
        entity = np.asarray(entity, dtype=np.int64)
        if self.pool == 0 or entity.size == 0:
            return np.full(entity.shape, NO_DAY, dtype=np.int64)
        return self.daily.day_of(self.permutation.inverse(entity))

    def entities_in(self, first_day: int, last_day: int) -> np.ndarray:
        """Entities with an event on days first_day <= day < last_day."""
        numbers = self.daily.numbers_in(first_day, last_day)
        return self.permutation.forward(numbers) if numbers.size else numbers

    def seconds(self, entity: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Time of the event in seconds since the start (working hours), NO_DAY days stay -1."""
        time_of_day = WORKDAY_START + self.rand.integers(f"event-time/{self.kind}", WORKDAY_LENGTH, entity)
        return np.where(day >= 0, day * DAY_SECONDS + time_of_day, -1)
