"""The whole synthetic city: layout, housing, persons, enterprises and what they do, wired once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from citylake.catalog import Catalog, Divisions
from synthetic import text
from synthetic.events import DAY_SECONDS, NO_DAY, EventStream
from synthetic.firms import Enterprises, Licences, Penalties, TaxDeclarations
from synthetic.gridevents import GridEvents
from synthetic.housing import Housing
from synthetic.identity import IdNumbers
from synthetic.layout import RESIDENTIAL, CityLayout
from synthetic.model import CityModel
from synthetic.population import LOCAL, Population
from synthetic.rng import Rand


@dataclass
class PropertyFrame:
    unit: np.ndarray
    owner_is_person0: np.ndarray
    owner0: np.ndarray             # person or enterprise index
    registered_day0: np.ndarray    # days since 1970
    changed0: np.ndarray           # seconds since the start
    transfer_day: np.ndarray
    transfer_seconds: np.ndarray
    buyer: np.ndarray              # person index


class Properties:
    """Who holds the right to each housing unit (不动产登记), and sales during the simulated days."""

    def __init__(self, layout: CityLayout, population: Population, enterprises: Enterprises, rand: Rand,
                 model: CityModel, start: date, days: int) -> None:
        self.layout, self.population, self.enterprises, self.rand, self.model = layout, population, enterprises, rand, model
        self.start_day = text.epoch_day(start)
        self.transfers = EventStream("property.transfer", layout.units, model.property_transfer_rate, days, rand)

    def frame(self, unit: np.ndarray) -> PropertyFrame:
        layout, rand = self.layout, self.rand
        unit = np.asarray(unit, dtype=np.int64)
        residential = layout.unit_use(unit) == RESIDENTIAL
        # (only meaningful for residential units; clipped so that others look up a real home)
        ordinal = np.minimum(layout.residential_before_unit(unit), layout.residential_units - 1)
        occupied = residential & (layout.household_size(ordinal) > 0)
        own_home = occupied & (self.population.household_type(ordinal) == LOCAL) & (
            rand.uniform("property.owner-occupied", unit) < self.model.owner_occupied_share)
        u = rand.uniform("property.owner-kind", unit)
        by_enterprise = ~own_home & np.where(residential, ~occupied & (u >= 0.7), u < 0.6)
        owner = layout.first_person_of_household(ordinal)
        # landlords and buyers are drawn only for the units that have one
        let = np.flatnonzero(~own_home & ~by_enterprise)
        owner[let] = self.population.draw_adults(unit[let], "property.landlord")
        held = np.flatnonzero(by_enterprise)
        owner[held] = self.enterprises.draw_active(unit[held], "property.enterprise")
        earliest = np.maximum(text.epoch_day(date(1998, 1, 1)),
                              self.start_day - 365 * 25 + rand.integers("property.earliest", 365 * 10, unit))
        registered = earliest + rand.integers("property.registered", np.maximum(1, self.start_day - 1 - earliest), unit)
        changed0 = (registered - self.start_day) * DAY_SECONDS + 9 * 3600 + rand.integers("property.time", 8 * 3600, unit)
        transfer_day = self.transfers.day_of(unit)
        buyer = np.zeros(len(unit), dtype=np.int64)
        sold = np.flatnonzero(transfer_day != NO_DAY)
        buyer[sold] = self.population.draw_adults(unit[sold], "property.buyer")
        return PropertyFrame(unit, ~by_enterprise, owner, registered, changed0, transfer_day,
                             self.transfers.seconds(unit, transfer_day), buyer)

    def at(self, frame: PropertyFrame, cut: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Owner is a person?, owner index, registration day and change time at the cut."""
        sold = (frame.transfer_day != NO_DAY) & (frame.transfer_day < cut)
        return (np.where(sold, True, frame.owner_is_person0), np.where(sold, frame.buyer, frame.owner0),
                np.where(sold, self.start_day + frame.transfer_day, frame.registered_day0),
                np.where(sold, frame.transfer_seconds, frame.changed0))


class SyntheticCity:
    """Every part of one synthetic city for a seed, a size and a span of days."""

    def __init__(self, catalog: Catalog, divisions: Divisions, persons: int, days: int, seed: int, start: date,
                 model: CityModel) -> None:
        self.catalog, self.divisions = catalog, divisions
        self.persons, self.days, self.seed, self.start, self.model = persons, days, seed, start, model
        self.start_day = text.epoch_day(start)
        self.rand = Rand(seed)
        self.layout = CityLayout(divisions, persons)
        self.housing = Housing(self.layout, self.rand)
        self.ids = IdNumbers(divisions, start, seed)
        self.enterprises = Enterprises(self.layout, self.housing, self.rand, model, start, days)
        self.population = Population(self.layout, self.ids, self.enterprises, self.rand, model, start, days)
        self.ids.check_capacity(self.layout, extra_migrant_heads=self.population.arrivals.total,
                                overseas=self.population.overseas_persons_of_class())
        self.enterprises.bind(self.population)
        self.licences = Licences(self.enterprises, self.rand, model, days)
        self.penalties = Penalties(self.enterprises, self.rand, model, days)
        self.tax = TaxDeclarations(self.enterprises, self.rand, model, start)
        self.grid_events = GridEvents(self.layout, self.rand, model, days)
        self.properties = Properties(self.layout, self.population, self.enterprises, self.rand, model, start, days)
        # cross-department conflicts (a conflicts.ConflictPlan), each resource's state cut once
        # every package is applied, and the planted scenarios (a scenarios.ScenarioPlan):
        # attached by the generator
        self.conflicts = None
        self.cuts: dict[str, int] = {}
        self.scenarios = None

    def date_of(self, day: int) -> date:
        return date.fromordinal(self.start.toordinal() + day)
