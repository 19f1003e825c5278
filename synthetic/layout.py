"""Where everything is: streets, buildings, housing units, households and persons by arithmetic.

The city is laid out as a repeating pattern so that any entity's place follows from its index
without a lookup table: buildings come in blocks of eight (an estate of four apartment buildings,
three self-built houses, an office tower), a block's residential units are filled by households
following a fixed occupancy pattern, and buildings are dealt out to streets in proportion to the
districts' populations. Person i's household, unit, building, street, district and role in the
household are therefore a few integer operations on i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citylake.catalog import Divisions

RESIDENTIAL, COMMERCIAL, OFFICE, OTHER = 0, 1, 2, 3
USE_NAMES = ["住宅", "商业", "办公", "其他"]

HEAD, SPOUSE, CHILD, ELDER = 0, 1, 2, 3
ROLE_NAMES = ["head", "spouse", "child", "elder"]
MALE, FEMALE = 0, 1
# the age group a person's ID number is drawn for: heads and spouses of households with children
# are of parenting age, those without are young couples or empty nesters
ID_HEAD, ID_SPOUSE, ID_PARENT_HEAD, ID_PARENT_SPOUSE, ID_CHILD, ID_ELDER = range(6)
ID_ROLE_NAMES = ["head", "spouse", "parent_head", "parent_spouse", "child", "elder"]


@dataclass(frozen=True)
class BuildingType:
    kind: str            # estate | village | office
    label: str
    floors: int
    units_per_floor: int
    ground_use: int      # use of the ground floor's units
    upper_use: int       # use of the other floors' units
    area: dict[int, tuple[float, float]]  # m² range per use


BUILDING_TYPES = [
    BuildingType("estate", "高层住宅", 18, 4, COMMERCIAL, RESIDENTIAL, {RESIDENTIAL: (78, 143), COMMERCIAL: (60, 220)}),
    BuildingType("estate", "小高层住宅", 11, 2, RESIDENTIAL, RESIDENTIAL, {RESIDENTIAL: (88, 132)}),
    BuildingType("estate", "多层住宅", 6, 2, RESIDENTIAL, RESIDENTIAL, {RESIDENTIAL: (68, 112)}),
    BuildingType("estate", "多层住宅", 6, 2, RESIDENTIAL, RESIDENTIAL, {RESIDENTIAL: (68, 112)}),
    BuildingType("village", "自建房", 4, 1, COMMERCIAL, RESIDENTIAL, {RESIDENTIAL: (90, 150), COMMERCIAL: (40, 100)}),
    BuildingType("village", "自建房", 3, 1, RESIDENTIAL, RESIDENTIAL, {RESIDENTIAL: (90, 150)}),
    BuildingType("village", "自建房", 5, 1, OTHER, RESIDENTIAL, {RESIDENTIAL: (90, 150), OTHER: (60, 120)}),
    BuildingType("office", "办公楼", 12, 4, COMMERCIAL, OFFICE, {OFFICE: (60, 300), COMMERCIAL: (60, 220)}),
]
BUILDINGS_PER_BLOCK = len(BUILDING_TYPES)
BUILDINGS_PER_GRID = 20

# persons living in each of 10 consecutive residential units (0 = vacant): 25 persons per 10 units
OCCUPANCY = [3, 2, 4, 0, 1, 3, 5, 2, 3, 2]
PERSONS_PER_PATTERN = sum(OCCUPANCY)
UNITS_PER_PATTERN = len(OCCUPANCY)
# households of n persons: head, spouse, children, then an elderly parent
ROLES_BY_SIZE = {1: [HEAD], 2: [HEAD, SPOUSE], 3: [HEAD, SPOUSE, CHILD], 4: [HEAD, SPOUSE, CHILD, CHILD],
                 5: [HEAD, SPOUSE, CHILD, CHILD, ELDER]}
# genders repeat with this period (a multiple of the occupancy pattern), so that persons of each
# role and gender can be counted by arithmetic
GENDER_PERIOD = 500


def _block_tables() -> dict[str, np.ndarray]:
    building, floor, room, use = [], [], [], []
    first_unit = []
    for index, kind in enumerate(BUILDING_TYPES):
        first_unit.append(len(building))
        for f in range(1, kind.floors + 1):
            for r in range(1, kind.units_per_floor + 1):
                building.append(index)
                floor.append(f)
                room.append(r)
                use.append(kind.ground_use if f == 1 else kind.upper_use)
    use_array = np.array(use, dtype=np.int8)
    residential = np.flatnonzero(use_array == RESIDENTIAL)
    residential_before = np.concatenate([[0], np.cumsum(use_array == RESIDENTIAL)])
    return {
        "building": np.array(building, dtype=np.int64),
        "floor": np.array(floor, dtype=np.int64),
        "room": np.array(room, dtype=np.int64),
        "use": use_array,
        "first_unit": np.array(first_unit + [len(building)], dtype=np.int64),
        "residential": residential.astype(np.int64),
        "residential_before": residential_before.astype(np.int64),
    }


def _household_tables() -> dict[str, np.ndarray]:
    unit, member, role, id_role = [], [], [], []
    for offset, size in enumerate(OCCUPANCY):
        for m, r in enumerate(ROLES_BY_SIZE.get(size, [])):
            unit.append(offset)
            member.append(m)
            role.append(r)
            with_children = size >= 3
            id_role.append({HEAD: ID_PARENT_HEAD if with_children else ID_HEAD,
                            SPOUSE: ID_PARENT_SPOUSE if with_children else ID_SPOUSE,
                            CHILD: ID_CHILD, ELDER: ID_ELDER}[r])
    persons_before_unit = np.concatenate([[0], np.cumsum(OCCUPANCY)])
    return {"unit": np.array(unit, dtype=np.int64), "member": np.array(member, dtype=np.int64),
            "role": np.array(role, dtype=np.int64), "id_role": np.array(id_role, dtype=np.int64),
            "persons_before_unit": persons_before_unit.astype(np.int64)}


def _gender_table(roles: np.ndarray) -> np.ndarray:
    """Genders for one period of persons: heads mostly men, spouses the other gender of their head."""
    # a fixed generator, independent of the city seed: the layout is the same in every city
    rng = np.random.default_rng(20_250_101)
    period_roles = np.tile(roles, GENDER_PERIOD // len(roles))
    genders = np.empty(GENDER_PERIOD, dtype=np.int64)
    share_male = {HEAD: 0.72, CHILD: 0.52, ELDER: 0.42}
    for position, role in enumerate(period_roles):
        if role == SPOUSE:
            genders[position] = 1 - genders[position - 1]
        else:
            genders[position] = MALE if rng.random() < share_male[role] else FEMALE
    return genders


BLOCK = _block_tables()
UNITS_PER_BLOCK = len(BLOCK["building"])
RESIDENTIAL_PER_BLOCK = len(BLOCK["residential"])
HOUSEHOLD = _household_tables()
GENDERS = _gender_table(HOUSEHOLD["role"])
PERIOD_ROLES = np.tile(HOUSEHOLD["role"], GENDER_PERIOD // PERSONS_PER_PATTERN)
PERIOD_ID_ROLES = np.tile(HOUSEHOLD["id_role"], GENDER_PERIOD // PERSONS_PER_PATTERN)
N_CLASSES = len(ID_ROLE_NAMES) * 2  # ID number classes: ID role x gender


def person_class(id_role: np.ndarray, gender: np.ndarray) -> np.ndarray:
    """The ID number class of persons: which slot space their number comes from."""
    return id_role * 2 + gender


PERIOD_CLASSES = person_class(PERIOD_ID_ROLES, GENDERS)
# CLASS_PREFIX[c, p]: persons of class c among the first p positions of a period
CLASS_PREFIX = np.stack([np.concatenate([[0], np.cumsum(PERIOD_CLASSES == c)]) for c in range(N_CLASSES)])
# Households of Hong Kong, Macao and Taiwan residents fill whole patterns (a floor of a building),
# the one at this position of every `overseas_period` patterns: few enough to be counted by
# arithmetic, so that their ID numbers come from a slot space of their own size.
OVERSEAS_PHASE = 13
_PHASE_CLASSES = PERIOD_CLASSES[OVERSEAS_PHASE * PERSONS_PER_PATTERN:(OVERSEAS_PHASE + 1) * PERSONS_PER_PATTERN]
OVERSEAS_CLASS_PREFIX = np.stack([np.concatenate([[0], np.cumsum(_PHASE_CLASSES == c)]) for c in range(N_CLASSES)])


def overseas_period(share: float) -> int:
    """Every how many patterns one is overseas residents' (a multiple of the gender period's
    patterns, so that an overseas pattern always has the same persons); 0 for none."""
    patterns_per_period = GENDER_PERIOD // PERSONS_PER_PATTERN
    if share <= 0:
        return 0
    return max(patterns_per_period, round(1 / share / patterns_per_period) * patterns_per_period)


def _street_weight(street_code: str) -> float:
    # GB/T 10114: 001-099 are urban streets (街道), 100-199 towns (镇), 200-399 townships (乡)
    number = int(street_code[6:])
    return 2.0 if number < 100 else (1.0 if number < 200 else 0.5)


def _apportion(weights: list[float], total: int) -> np.ndarray:
    """Split `total` into integer parts proportional to `weights` (largest remainder), giving each
    part at least one when there are enough to go round."""
    weights_array = np.asarray(weights, dtype=np.float64)
    share = weights_array / weights_array.sum() * total
    counts = np.floor(share).astype(np.int64)
    if total >= len(counts):
        counts = np.maximum(counts, 1)
    while counts.sum() > total:  # the minimum of one overshot: take from the largest part
        counts[np.argmax(counts)] -= 1
    remainder = total - counts.sum()
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    counts[order[:remainder]] += 1
    return counts


class CityLayout:
    """The arithmetic of a city of `persons` residents over the given divisions."""

    def __init__(self, divisions: Divisions, persons: int) -> None:
        if persons <= 0:
            raise ValueError("a city needs at least one person")
        self.divisions = divisions
        self.persons = persons
        self.districts = divisions.districts
        self.streets = divisions.streets
        self.district_codes = np.array([int(d.code) for d in self.districts], dtype=np.int64)
        self.street_codes = np.array([int(s.code) for s in self.streets], dtype=np.int64)
        district_index = {d.code: n for n, d in enumerate(self.districts)}
        self.street_district = np.array([district_index[s.code[:6]] for s in self.streets], dtype=np.int64)

        patterns = -(-persons // PERSONS_PER_PATTERN)
        residential_needed = patterns * UNITS_PER_PATTERN
        self.blocks = -(-residential_needed // RESIDENTIAL_PER_BLOCK)
        self.buildings = self.blocks * BUILDINGS_PER_BLOCK
        self.units = self.blocks * UNITS_PER_BLOCK
        self.residential_units = self.blocks * RESIDENTIAL_PER_BLOCK
        # residential units that hold the city's persons (the rest of the last block stays empty)
        self.occupied_range = residential_needed
        self.street_first_building = self._deal_buildings_to_streets()
        self.street_first_person = self.first_person_of_building(self.street_first_building)
        district_first_street = np.searchsorted(self.street_district, np.arange(len(self.districts) + 1))
        self.district_first_person = self.street_first_person[district_first_street]

    # ----------------------------------------------------------------- streets and buildings

    def _deal_buildings_to_streets(self) -> np.ndarray:
        """First building index of each street (plus the total at the end), by population share.

        Every district gets a building before any gets a second, so that a small demo city still
        has people in every district; within a district, streets likewise.
        """
        district_counts = _apportion([d.population for d in self.districts], self.buildings)
        counts = []
        for district, total in zip(self.districts, district_counts):
            counts.extend(_apportion([_street_weight(s.code) for s in district.streets], int(total)))
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def street_of_building(self, building: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.street_first_building, building, side="right") - 1

    def building_type(self, building: np.ndarray) -> np.ndarray:
        return np.asarray(building) % BUILDINGS_PER_BLOCK

    def building_number_in_street(self, building: np.ndarray) -> np.ndarray:
        """1-based number of the building within its street (the last digits of its code)."""
        return building - self.street_first_building[self.street_of_building(building)] + 1

    def grid_of_building(self, building: np.ndarray) -> np.ndarray:
        """1-based number of the building's grid within its street."""
        return (self.building_number_in_street(building) - 1) // BUILDINGS_PER_GRID + 1

    def units_of_building(self, building: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First unit index and unit count of each building."""
        kind = self.building_type(building)
        block = building // BUILDINGS_PER_BLOCK
        first = block * UNITS_PER_BLOCK + BLOCK["first_unit"][kind]
        count = BLOCK["first_unit"][kind + 1] - BLOCK["first_unit"][kind]
        return first, count

    # ----------------------------------------------------------------- housing units

    def building_of_unit(self, unit: np.ndarray) -> np.ndarray:
        return (unit // UNITS_PER_BLOCK) * BUILDINGS_PER_BLOCK + BLOCK["building"][unit % UNITS_PER_BLOCK]

    def unit_floor(self, unit: np.ndarray) -> np.ndarray:
        return BLOCK["floor"][unit % UNITS_PER_BLOCK]

    def unit_room(self, unit: np.ndarray) -> np.ndarray:
        return BLOCK["room"][unit % UNITS_PER_BLOCK]

    def unit_use(self, unit: np.ndarray) -> np.ndarray:
        return BLOCK["use"][unit % UNITS_PER_BLOCK]

    def unit_number_in_building(self, unit: np.ndarray) -> np.ndarray:
        offset = unit % UNITS_PER_BLOCK
        return offset - BLOCK["first_unit"][BLOCK["building"][offset]] + 1

    def unit_of_residential(self, ordinal: np.ndarray) -> np.ndarray:
        """Unit index of the n-th residential unit of the city."""
        block = ordinal // RESIDENTIAL_PER_BLOCK
        return block * UNITS_PER_BLOCK + BLOCK["residential"][ordinal % RESIDENTIAL_PER_BLOCK]

    def residential_before_unit(self, unit: np.ndarray) -> np.ndarray:
        block = unit // UNITS_PER_BLOCK
        return block * RESIDENTIAL_PER_BLOCK + BLOCK["residential_before"][unit % UNITS_PER_BLOCK]

    def household_size(self, ordinal: np.ndarray) -> np.ndarray:
        """Persons living in a residential unit at the start (0 = vacant or beyond the city's persons)."""
        size = np.asarray(OCCUPANCY, dtype=np.int64)[ordinal % UNITS_PER_PATTERN]
        first = (ordinal // UNITS_PER_PATTERN) * PERSONS_PER_PATTERN + HOUSEHOLD["persons_before_unit"][ordinal % UNITS_PER_PATTERN]
        return np.where(first < self.persons, np.minimum(size, self.persons - first), 0)

    def first_person_of_household(self, ordinal: np.ndarray) -> np.ndarray:
        return (ordinal // UNITS_PER_PATTERN) * PERSONS_PER_PATTERN + HOUSEHOLD["persons_before_unit"][ordinal % UNITS_PER_PATTERN]

    # ----------------------------------------------------------------- persons

    def residential_of_person(self, person: np.ndarray) -> np.ndarray:
        return (person // PERSONS_PER_PATTERN) * UNITS_PER_PATTERN + HOUSEHOLD["unit"][person % PERSONS_PER_PATTERN]

    def member_of_person(self, person: np.ndarray) -> np.ndarray:
        """0 for the household head, 1 for the spouse, ..."""
        return HOUSEHOLD["member"][person % PERSONS_PER_PATTERN]

    def role_of_person(self, person: np.ndarray) -> np.ndarray:
        return HOUSEHOLD["role"][person % PERSONS_PER_PATTERN]

    def gender_of_person(self, person: np.ndarray) -> np.ndarray:
        return GENDERS[person % GENDER_PERIOD]

    def class_of_person(self, person: np.ndarray) -> np.ndarray:
        return PERIOD_CLASSES[person % GENDER_PERIOD]

    def persons_of_class_before(self, person_class: np.ndarray, person: np.ndarray) -> np.ndarray:
        """How many persons of the given class have an index below `person`."""
        return (person // GENDER_PERIOD) * CLASS_PREFIX[person_class, GENDER_PERIOD] + CLASS_PREFIX[
            person_class, person % GENDER_PERIOD]

    def first_person_of_building(self, building: np.ndarray) -> np.ndarray:
        first_unit, _ = self.units_of_building(np.asarray(building))
        ordinal = self.residential_before_unit(first_unit)
        first = (ordinal // UNITS_PER_PATTERN) * PERSONS_PER_PATTERN + HOUSEHOLD["persons_before_unit"][ordinal % UNITS_PER_PATTERN]
        return np.minimum(first, self.persons)

    def unit_of_person(self, person: np.ndarray) -> np.ndarray:
        return self.unit_of_residential(self.residential_of_person(person))

    def district_of_street(self, street: np.ndarray) -> np.ndarray:
        return self.street_district[street]

    def street_of_person(self, person: np.ndarray) -> np.ndarray:
        return self.street_of_building(self.building_of_unit(self.unit_of_person(person)))
