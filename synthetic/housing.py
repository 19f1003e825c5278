"""Buildings and housing units: codes, names, addresses, sizes and places, all from their index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import text, vocab
from synthetic.layout import BLOCK, BUILDING_TYPES, BUILDINGS_PER_BLOCK, UNITS_PER_BLOCK, USE_NAMES, CityLayout
from synthetic.rng import Rand

_KIND = np.array([["estate", "village", "office"].index(t.kind) for t in BUILDING_TYPES])
_FLOORS = np.array([t.floors for t in BUILDING_TYPES], dtype=np.int64)
_UNITS = np.array([t.floors * t.units_per_floor for t in BUILDING_TYPES], dtype=np.int64)
_ESTATE_NUMBER = np.array([sum(1 for u in BUILDING_TYPES[:k] if u.kind == "estate") + 1 for k in range(len(BUILDING_TYPES))])
# area range (low, high) per building type and unit use
_AREA_LOW = np.zeros((len(BUILDING_TYPES), len(USE_NAMES)))
_AREA_HIGH = np.zeros((len(BUILDING_TYPES), len(USE_NAMES)))
for _k, _t in enumerate(BUILDING_TYPES):
    for _use, (_low, _high) in _t.area.items():
        _AREA_LOW[_k, _use], _AREA_HIGH[_k, _use] = _low, _high


@dataclass
class Buildings:
    """Attributes of a set of buildings (arrays aligned with `index`)."""

    index: np.ndarray
    street: np.ndarray
    district: np.ndarray
    code: pa.Array
    name: pa.Array
    address: pa.Array
    grid_code: pa.Array
    year_built: np.ndarray
    floors: np.ndarray
    floor_area: np.ndarray
    lng: np.ndarray
    lat: np.ndarray


class Housing:
    """The city's buildings and housing units."""

    def __init__(self, layout: CityLayout, rand: Rand) -> None:
        self.layout = layout
        self.rand = rand
        self.street_code_text = pa.array([s.code for s in layout.streets], pa.string())
        self.street_name = pa.array([s.name for s in layout.streets], pa.string())
        self.district_name_of_street = pa.array([layout.districts[d].name for d in layout.street_district], pa.string())
        self.street_lng = np.array([s.lng for s in layout.streets])
        self.street_lat = np.array([s.lat for s in layout.streets])
        self.street_radius_km = np.sqrt(np.array([s.area_km2 for s in layout.streets]) / np.pi)

    # ------------------------------------------------------------------ buildings

    def buildings(self, index: np.ndarray) -> Buildings:
        layout, rand = self.layout, self.rand
        index = np.asarray(index, dtype=np.int64)
        kind_of_type = index % BUILDINGS_PER_BLOCK
        block = index // BUILDINGS_PER_BLOCK
        street = layout.street_of_building(index)
        code = text.join(text.pick(self.street_code_text, street), text.integers(layout.building_number_in_street(index), 6))
        grid = text.join(text.pick(self.street_code_text, street), text.integers(layout.grid_of_building(index), 3))
        name = self._building_names(block, kind_of_type)
        road = text.pick(vocab.ROADS, rand.integers("building.road", len(vocab.ROADS), block))
        door = text.integers(1 + rand.integers("building.door", 398, block) + np.where(_KIND[kind_of_type] == 1, kind_of_type, 0))
        address = text.join(text.pick(self.district_name_of_street, street), text.pick(self.street_name, street),
                            road, door, "号", name)
        kind = _KIND[kind_of_type]
        built_estate = 1995 + rand.integers("building.year.estate", 29, block)
        built_village = 1980 + rand.integers("building.year.village", 36, index)
        year_built = np.where(kind == 1, built_village, built_estate)
        floors = _FLOORS[kind_of_type]
        typical = (_AREA_LOW[kind_of_type].max(axis=1) + _AREA_HIGH[kind_of_type].max(axis=1)) / 2
        floor_area = np.round(_UNITS[kind_of_type] * typical * (1.12 + 0.1 * rand.uniform("building.area", index)), 2)
        lng, lat = self._place(street, index)
        return Buildings(index, street, layout.street_district[street], code, name, address, grid, year_built,
                         floors, floor_area, lng, lat)

    def _building_names(self, block: np.ndarray, kind_of_type: np.ndarray) -> pa.Array:
        rand = self.rand
        estate = text.join(text.pick(vocab.ESTATE_WORDS, rand.integers("estate.word", len(vocab.ESTATE_WORDS), block)),
                           text.pick(vocab.ESTATE_SUFFIXES, rand.integers("estate.suffix", len(vocab.ESTATE_SUFFIXES), block)),
                           text.integers(_ESTATE_NUMBER[kind_of_type]), "栋")
        village = text.join(text.pick(vocab.VILLAGE_WORDS, rand.integers("village.word", len(vocab.VILLAGE_WORDS), block)),
                            "村", text.integers(1 + rand.integers("village.house", 300, block * 8 + kind_of_type)), "号")
        office = text.join(text.pick(vocab.ESTATE_WORDS, rand.integers("office.word", len(vocab.ESTATE_WORDS), block)),
                           text.pick(vocab.OFFICE_SUFFIXES, rand.integers("office.suffix", len(vocab.OFFICE_SUFFIXES), block)))
        kind = _KIND[kind_of_type]
        return pc.if_else(pa.array(kind == 0), estate, pc.if_else(pa.array(kind == 1), village, office))

    def _place(self, street: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A point within ~60 % of the street's radius around its centroid."""
        angle = 2 * np.pi * self.rand.uniform("place.angle", key)
        distance = 0.6 * self.street_radius_km[street] * np.sqrt(self.rand.uniform("place.distance", key))
        lat0 = self.street_lat[street]
        lat = lat0 + distance * np.sin(angle) / 111.0
        lng = self.street_lng[street] + distance * np.cos(angle) / (111.0 * np.cos(np.radians(lat0)))
        return np.round(lng, 6), np.round(lat, 6)

    def place_near_building(self, building: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A point near a building (for events reported on its doorstep)."""
        lng, lat = self._place(self.layout.street_of_building(building), building)
        jitter = self.rand.uniform("place.jitter", key, 0) - 0.5, self.rand.uniform("place.jitter", key, 1) - 0.5
        return np.round(lng + jitter[0] * 0.002, 6), np.round(lat + jitter[1] * 0.002, 6)

    # ------------------------------------------------------------------ housing units

    def unit_codes(self, unit: np.ndarray, buildings: Buildings | None = None) -> pa.Array:
        unit = np.asarray(unit, dtype=np.int64)
        building = self.layout.building_of_unit(unit)
        code = buildings.code if buildings is not None else self.building_codes(building)
        return text.join(code, text.integers(self.layout.unit_number_in_building(unit), 4))

    def building_codes(self, building: np.ndarray) -> pa.Array:
        street = self.layout.street_of_building(building)
        return text.join(text.pick(self.street_code_text, street), text.integers(self.layout.building_number_in_street(building), 6))

    def room_numbers(self, unit: np.ndarray) -> pa.Array:
        return text.join(text.integers(self.layout.unit_floor(unit)), text.integers(self.layout.unit_room(unit), 2))

    def unit_areas(self, unit: np.ndarray) -> np.ndarray:
        kind = BLOCK["building"][unit % UNITS_PER_BLOCK]
        use = self.layout.unit_use(unit)
        low, high = _AREA_LOW[kind, use], _AREA_HIGH[kind, use]
        return np.round(low + (high - low) * self.rand.uniform("unit.area", unit), 2)

    def unit_addresses(self, unit: np.ndarray) -> pa.Array:
        building = self.buildings(self.layout.building_of_unit(unit))
        return text.join(building.address, self.room_numbers(unit), "室")

    def unit_uses(self, unit: np.ndarray) -> pa.Array:
        return text.pick(USE_NAMES, self.layout.unit_use(unit))

    def property_unit_numbers(self, unit: np.ndarray) -> pa.Array:
        """不动产单元号: district, cadastral zone (street) and sub-zone, parcel GB#####, F + building + unit."""
        layout = self.layout
        building = layout.building_of_unit(unit)
        street = layout.street_of_building(building)
        number = layout.building_number_in_street(building) - 1
        parcel = number // BUILDINGS_PER_BLOCK + 1
        in_parcel = number % BUILDINGS_PER_BLOCK + 1
        return text.join(text.pick(self.street_code_text, street), "001", "GB", text.integers(parcel, 5), "F",
                         text.integers(in_parcel, 4), text.integers(layout.unit_number_in_building(unit), 4))
