"""The persons of the city: who they are, where they live, whom they work for, and what happens
to them over the simulated days - every attribute a pure function of the person's index.

Persons 0..N-1 live in the city at the start; newborns and arriving migrants get the indices
after them. A `PersonFrame` holds the attributes of any set of persons; `state_at` turns it into
what is true at a delivery cut (after the events of the days before the cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import identity, text, vocab
from synthetic.events import DAY_SECONDS, NO_DAY, DailyCounts, EventStream
from synthetic.firms import Enterprises
from synthetic.identity import IdNumbers
from synthetic.layout import (CHILD, ELDER, HEAD, ID_HEAD, MALE, N_CLASSES, OCCUPANCY,
                                       OVERSEAS_CLASS_PREFIX, OVERSEAS_PHASE, PERSONS_PER_PATTERN, SPOUSE,
                                       UNITS_PER_PATTERN, CityLayout, overseas_period, person_class)
from synthetic.model import CityModel
from synthetic.rng import Rand, cumulative

LOCAL, MIGRANT, OVERSEAS = 0, 1, 2
RESIDENCE_TYPES = ["户籍", "流动", "境外"]
BASE, NEWBORN, ARRIVAL = 0, 1, 2
RELATIONS = ["02", "11", "12", "20", "30", "41", "42", "51", "52", "70", "99"]
HEAD_REL, HUSBAND, WIFE, SON, DAUGHTER, GRANDSON, GRANDDAUGHTER, FATHER, MOTHER, SIBLING, OTHER = range(len(RELATIONS))
INSURANCE_TYPES = ["110", "210", "310", "410"]
INSURANCE_STATUS = ["参保缴费", "暂停缴费", "终止参保"]
PERSON_EVENTS = ["death", "emigration", "move", "job_change", "job_loss", "grid_visit", "permit_renewal"]
VACANT_OFFSET = OCCUPANCY.index(0)  # the residential unit of each pattern that starts empty
YEAR_DAYS = 365.25

_LOCAL_SURNAMES = pa.array([s for s, _ in vocab.LOCAL_SURNAMES])
_LOCAL_SURNAME_CUM = cumulative([w for _, w in vocab.LOCAL_SURNAMES])
_NATIONAL_SURNAMES = pa.array([s for s, _ in vocab.NATIONAL_SURNAMES])
_NATIONAL_SURNAME_CUM = cumulative([w for _, w in vocab.NATIONAL_SURNAMES])
_LOCAL_ETHNICITY = np.array([int(c) for c, _ in vocab.LOCAL_ETHNICITY])
_LOCAL_ETHNICITY_CUM = cumulative([w for _, w in vocab.LOCAL_ETHNICITY])
_COUNTY_CODES = np.array([int(c) for c, *_ in vocab.MIGRANT_COUNTIES])
_COUNTY_ETHNICITY = [(np.array([int(e) for e, _ in mix]), cumulative([w for _, w in mix]))
                     for *_, mix in vocab.MIGRANT_COUNTIES]


def _empty() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


def lookup(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which `values` are among the sorted `keys`, and where (positions clipped into range)."""
    values = np.asarray(values, dtype=np.int64)
    if keys.size == 0:
        return np.zeros(values.shape, dtype=bool), np.zeros(values.shape, dtype=np.int64)
    position = np.minimum(np.searchsorted(keys, values), keys.size - 1)
    return keys[position] == values, position


@dataclass(frozen=True)
class HomeMoves:
    """Households that live at the start in another unit than the layout's, their registration
    staying at the layout's home (planted scenarios: scenarios.py)."""

    household: np.ndarray = field(default_factory=_empty)   # residential ordinals, sorted
    unit: np.ndarray = field(default_factory=_empty)        # the unit each lives in

    def home(self, layout: CityLayout, household: np.ndarray) -> np.ndarray:
        unit = layout.unit_of_residential(household)
        if self.household.size == 0:
            return unit
        moved, position = lookup(self.household, household)
        return np.where(moved, self.unit[position], unit)


@dataclass(frozen=True)
class Layoffs:
    """Persons whose insurance their employer suspends (减员) effective the first of a month: at
    00:00-00:30 of round `day`, before that day's extracts are cut (scenarios.py)."""

    person: np.ndarray = field(default_factory=_empty)      # sorted
    day: int = NO_DAY

    SECONDS = 1800

    def of(self, person: np.ndarray) -> np.ndarray:
        return lookup(self.person, person)[0]


@dataclass
class PersonFrame:
    """Attributes of a set of persons; arrays aligned with `index`."""

    index: np.ndarray
    kind: np.ndarray               # BASE, NEWBORN, ARRIVAL
    residence_type: np.ndarray     # LOCAL, MIGRANT, OVERSEAS
    household: np.ndarray          # residential ordinal of the household's home at the start
    unit0: np.ndarray
    role: np.ndarray
    gender: np.ndarray             # MALE 0, FEMALE 1
    id_number: pa.Array
    name: pa.Array
    birth_day: np.ndarray          # days since 1970
    ethnicity: np.ndarray          # GB/T 3304 code as int
    domicile_unit0: np.ndarray     # -1 when not registered in the city
    relation0: np.ndarray          # index into RELATIONS
    phone: pa.Array
    employer0: np.ndarray          # -1 when not employed
    insurance: np.ndarray          # bit mask over INSURANCE_TYPES
    wage: np.ndarray
    enrol_day: np.ndarray
    registered0: np.ndarray        # seconds: last change in the household register before the start
    collected0: np.ndarray         # seconds: last grid visit before the start
    permit_until0: np.ndarray      # days since 1970, migrants only
    appear_day: np.ndarray         # NO_DAY for persons living in the city at the start
    appear_seconds: np.ndarray
    event_day: dict[str, np.ndarray]
    event_seconds: dict[str, np.ndarray]
    move_unit: np.ndarray          # unit moved to (move event)
    move_domicile: np.ndarray      # the move also transfers the household registration
    new_employer: np.ndarray       # employer after a job change

    def __len__(self) -> int:
        return len(self.index)

    def take(self, positions: np.ndarray) -> PersonFrame:
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                values[f.name] = {k: v[positions] for k, v in value.items()}
            elif isinstance(value, (pa.Array, pa.ChunkedArray)):
                values[f.name] = value.take(pa.array(positions, pa.int64()))
            else:
                values[f.name] = value[positions]
        return PersonFrame(**values)


def concat_frames(frames: list[PersonFrame]) -> PersonFrame:
    frames = [f for f in frames if len(f)]
    if len(frames) == 1:
        return frames[0]
    values = {}
    for f in fields(PersonFrame):
        parts = [getattr(frame, f.name) for frame in frames]
        if isinstance(parts[0], dict):
            values[f.name] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        elif isinstance(parts[0], (pa.Array, pa.ChunkedArray)):
            values[f.name] = pa.concat_arrays([p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts])
        else:
            values[f.name] = np.concatenate(parts)
    return PersonFrame(**values)


@dataclass
class PersonState:
    """What is true of persons at a cut (events of the days before the cut have happened)."""

    present: np.ndarray            # living in the city: appeared, alive, not moved away
    appeared: np.ndarray
    alive: np.ndarray
    status: np.ndarray             # household register status: 0 normal, 1 deceased, 2 moved out
    unit: np.ndarray
    domicile_unit: np.ndarray
    household_no: np.ndarray       # district code * 10**9 + household number
    relation: np.ndarray
    employer: np.ndarray
    insurance_status: np.ndarray   # index into INSURANCE_STATUS
    collected: np.ndarray
    permit_until: np.ndarray
    registered_changed: np.ndarray
    permit_changed: np.ndarray
    insurance_changed: np.ndarray
    grid_changed: np.ndarray
    # what the register and the insurance would say had the department never learned of a death
    registered_changed_unless_death: np.ndarray
    insurance_status_unless_death: np.ndarray
    insurance_changed_unless_death: np.ndarray


class Population:
    def __init__(self, layout: CityLayout, ids: IdNumbers, enterprises: Enterprises, rand: Rand,
                 model: CityModel, start: date, days: int) -> None:
        self.layout, self.ids, self.enterprises, self.rand, self.model = layout, ids, enterprises, rand, model
        self.start, self.days = start, days
        self.start_day = text.epoch_day(start)
        self.base = layout.persons
        self.migrant_share = np.array([d.migrant_share for d in layout.districts])
        self.overseas_period = overseas_period(model.overseas_share)
        self.events = {kind: EventStream(f"person.{kind}", self.base, self._candidate_rate(kind), days, rand)
                       for kind in PERSON_EVENTS}
        self.births = DailyCounts(self.base * model.birth_rate / 365, days, rand, "person.birth")
        mean_migrants = float(np.average(self.migrant_share, weights=[d.population for d in layout.districts]))
        self.arrivals = DailyCounts(self.base * mean_migrants * model.arrival_rate / 365, days, rand, "person.arrival")
        self.first_newborn = self.base
        self.first_arrival = self.base + self.births.total
        self.total = self.first_arrival + self.arrivals.total
        self._newborns = self._plan_newborns()
        # planted scenarios (scenarios.py) set these before any person is built
        self.home_moves = HomeMoves()
        self.layoffs = Layoffs()

    def _candidate_rate(self, kind: str) -> float:
        model = self.model
        # candidates are drawn from everyone; events that apply to a subset (the employed, migrants)
        # keep their per-member rate. Deaths are accepted mostly among the old, so their candidate
        # rate is raised by the expected acceptance to keep the city's overall death rate.
        return {"death": model.death_rate / 0.25, "emigration": model.emigration_rate, "move": model.move_rate,
                "job_change": model.job_change_rate, "job_loss": model.job_loss_rate,
                "grid_visit": model.grid_visit_rate, "permit_renewal": 1.0}[kind]

    # ------------------------------------------------------------------ cheap attributes

    def household_type(self, household: np.ndarray) -> np.ndarray:
        district = self.layout.street_district[self.layout.street_of_building(
            self.layout.building_of_unit(self.layout.unit_of_residential(household)))]
        u = self.rand.uniform("household.type", household)
        migrant = u < self.migrant_share[district]
        overseas = self._overseas_pattern(household // UNITS_PER_PATTERN)
        return np.where(overseas, OVERSEAS, np.where(migrant, MIGRANT, LOCAL))

    def _overseas_pattern(self, pattern: np.ndarray) -> np.ndarray:
        period = self.overseas_period
        return (pattern % period == OVERSEAS_PHASE) if period else np.zeros(np.shape(pattern), dtype=bool)

    def overseas_persons_of_class(self) -> np.ndarray:
        """How many persons of each class the overseas residents' households hold."""
        patterns = -(-self.base // PERSONS_PER_PATTERN)
        count = (patterns - OVERSEAS_PHASE + self.overseas_period - 1) // self.overseas_period if self.overseas_period else 0
        return max(count, 0) * OVERSEAS_CLASS_PREFIX[:, -1]

    def _id_parts(self, person: np.ndarray, household_type: np.ndarray, district: np.ndarray):
        """Region code, birth day and lane of base persons' ID numbers."""
        layout = self.layout
        person_cls = layout.class_of_person(person)
        code = np.zeros(len(person), dtype=np.int64)
        birth = np.zeros(len(person), dtype=np.int64)
        lane = np.zeros(len(person), dtype=np.int64)
        # one slot space per group (a district's own residents, migrants, overseas) and class:
        # sort once by (group, class) and hand each space its contiguous run of persons
        districts = len(layout.districts)
        group = np.where(household_type == MIGRANT, districts, np.where(household_type == OVERSEAS, districts + 1, district))
        space = group * N_CLASSES + person_cls
        order = np.argsort(space, kind="stable")
        bounds = np.flatnonzero(np.diff(space[order])) + 1
        before = layout.persons_of_class_before(person_cls, person)
        if self.overseas_period:
            # overseas residents are counted among themselves: whole patterns at a fixed phase
            pattern = person // PERSONS_PER_PATTERN
            before_overseas = ((pattern - OVERSEAS_PHASE) // self.overseas_period * OVERSEAS_CLASS_PREFIX[person_cls, -1]
                               + OVERSEAS_CLASS_PREFIX[person_cls, person % PERSONS_PER_PATTERN])
            before = np.where(household_type == OVERSEAS, before_overseas, before)
        for run in np.split(order, bounds):
            if run.size == 0:
                continue
            g, c = divmod(int(space[run[0]]), N_CLASSES)
            k = before[run]
            if g < districts:
                k = k - layout.persons_of_class_before(np.array([c]), np.array([layout.district_first_person[g]]))[0]
                name = layout.districts[g].code
            else:
                name = "migrant" if g == districts else "overseas"
            code[run], birth[run], lane[run] = self.ids.space(name, c).slots(k)
        return code, birth, lane

    def _surname(self, person: np.ndarray, role: np.ndarray, gender: np.ndarray, household: np.ndarray,
                 household_type: np.ndarray) -> pa.Array:
        layout, rand = self.layout, self.rand
        member = layout.member_of_person(person)
        head = person - member
        head_male = layout.gender_of_person(head) == MALE
        # the family name passes down the father's line: a child's father is the head or the spouse
        own_key = person
        family_key = np.where(role == CHILD, np.where(head_male, -1, head + 1), np.where(
            (role == HEAD) | ((role == ELDER) & (gender == MALE)), -1, own_key))
        uses_household = family_key == -1
        local = household_type == LOCAL
        local_pick = np.where(uses_household, rand.weighted("surname.household", _LOCAL_SURNAME_CUM, household),
                              rand.weighted("surname.own", _LOCAL_SURNAME_CUM, family_key))
        national_pick = np.where(uses_household, rand.weighted("surname.household", _NATIONAL_SURNAME_CUM, household),
                                 rand.weighted("surname.own", _NATIONAL_SURNAME_CUM, family_key))
        return pc.if_else(pa.array(local), text.pick(_LOCAL_SURNAMES, local_pick), text.pick(_NATIONAL_SURNAMES, national_pick))

    def given_names(self, key: np.ndarray, gender: np.ndarray) -> pa.Array:
        rand = self.rand
        male = pa.array(gender == MALE)
        first = pc.if_else(male, text.pick(vocab.GIVEN_MALE, rand.integers("given.1m", len(vocab.GIVEN_MALE), key)),
                           text.pick(vocab.GIVEN_FEMALE, rand.integers("given.1f", len(vocab.GIVEN_FEMALE), key)))
        second = pc.if_else(male, text.pick(vocab.GIVEN_MALE, rand.integers("given.2m", len(vocab.GIVEN_MALE), key)),
                            text.pick(vocab.GIVEN_FEMALE, rand.integers("given.2f", len(vocab.GIVEN_FEMALE), key)))
        two = rand.uniform("given.length", key) < 0.72
        return text.join(first, pc.if_else(pa.array(two), second, pa.scalar("", pa.string())))

    def _ethnicity(self, person: np.ndarray, household: np.ndarray, household_type: np.ndarray,
                   code: np.ndarray) -> np.ndarray:
        rand = self.rand
        out = _LOCAL_ETHNICITY[rand.weighted("ethnicity.household", _LOCAL_ETHNICITY_CUM, household)]
        out = np.where(household_type == OVERSEAS, 1, out)
        migrant = np.flatnonzero(household_type == MIGRANT)
        if migrant.size:
            county = np.searchsorted(_COUNTY_CODES, code[migrant])
            county = np.minimum(county, len(_COUNTY_CODES) - 1)
            for c in np.unique(county):
                rows = migrant[county == c]
                codes, cum = _COUNTY_ETHNICITY[c]
                out[rows] = codes[rand.weighted("ethnicity.migrant", cum, person[rows])]
        return out

    def _phones(self, key: np.ndarray, birth_day: np.ndarray) -> pa.Array:
        rand = self.rand
        number = text.join(text.pick(vocab.MOBILE_PREFIXES, rand.integers("phone.prefix", len(vocab.MOBILE_PREFIXES), key)),
                           text.integers(rand.integers("phone.number", 10 ** 8, key), 8))
        child = (self.start_day - birth_day) < 12 * YEAR_DAYS
        return text.nulls_where(number, child)

    def draw_adults(self, keys: np.ndarray, stream: str, attempts: int = 3) -> np.ndarray:
        """A person aged 22-80 who heads a household or is its spouse, for each key: the first of a
        few random candidates that is one, else the head of the first candidate's household."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0:
            return keys
        tries = np.stack([self.rand.integers(f"{stream}#{a}", self.base, keys) for a in range(attempts)], axis=1)
        candidate = tries.ravel()
        ok = self.layout.role_of_person(candidate) <= SPOUSE
        adults = np.flatnonzero(ok)
        household = self.layout.residential_of_person(candidate[adults])
        district = self._district_of_unit(self.layout.unit_of_residential(household))
        _, birth, _ = self._id_parts(candidate[adults], self.household_type(household), district)
        age = (self.start_day - birth) / YEAR_DAYS
        # the dead own nothing new and represent no enterprise
        ok[adults] = (age >= 22) & (age <= 80) & (self.death_before_start(candidate[adults], birth) == NO_DAY)
        ok = ok.reshape(tries.shape)
        head_of_first = tries[:, 0] - self.layout.member_of_person(tries[:, 0])
        chosen = tries[np.arange(len(keys)), ok.argmax(axis=1)]
        return np.where(ok.any(axis=1), chosen, head_of_first)

    def death_before_start(self, person: np.ndarray, birth: np.ndarray) -> np.ndarray:
        """The day (before the start, negative) base persons died whose records the departments
        still hold, or NO_DAY: at the death rate over the recorded years, tripled from age 60."""
        years = self.model.death_record_years
        if years <= 0 or len(person) == 0:
            return np.full(len(person), NO_DAY, dtype=np.int64)
        age = (self.start_day - birth) / YEAR_DAYS
        chance = self.model.death_rate * years * np.where(age >= 60, 3.0, 1.0)
        died = self.rand.uniform("death.before-start", person) < chance
        # day -1 would read as NO_DAY: the last possible day of death is the day before that
        day = -2 - self.rand.integers("death.before-start.day", max(1, int(years * 365) - 2), person)
        return np.where(died, day, NO_DAY)

    def _district_of_unit(self, unit: np.ndarray) -> np.ndarray:
        return self.layout.street_district[self.layout.street_of_building(self.layout.building_of_unit(unit))]

    def vacant_unit(self, key: np.ndarray, stream: str) -> np.ndarray:
        """A home that was empty at the start (for persons moving or arriving)."""
        patterns = max(1, self.layout.occupied_range // UNITS_PER_PATTERN)
        ordinal = self.rand.integers(stream, patterns, key) * UNITS_PER_PATTERN + VACANT_OFFSET
        return self.layout.unit_of_residential(ordinal)

    # ------------------------------------------------------------------ frames

    def frame(self, index: np.ndarray) -> PersonFrame:
        """Attributes of the persons with these (ascending) indices."""
        index = np.asarray(index, dtype=np.int64)
        parts = [self._base_frame(index[index < self.first_newborn]),
                 self._newborn_frame(index[(index >= self.first_newborn) & (index < self.first_arrival)]),
                 self._arrival_frame(index[index >= self.first_arrival])]
        non_empty = [p for p in parts if len(p)]
        return concat_frames(non_empty) if non_empty else parts[0]

    def _base_frame(self, person: np.ndarray) -> PersonFrame:
        layout, rand, model = self.layout, self.rand, self.model
        n = len(person)
        household = layout.residential_of_person(person)
        registered_home = layout.unit_of_residential(household)
        unit0 = self.home_moves.home(layout, household)
        district = self._district_of_unit(registered_home)
        role = layout.role_of_person(person)
        gender = layout.gender_of_person(person)
        htype = self.household_type(household)
        code, birth, lane = self._id_parts(person, htype, district)
        id_number = identity.resident_ids(code, birth, identity.sequence_numbers(lane, gender))
        name = text.join(self._surname(person, role, gender, household, htype), self.given_names(person, gender))
        ethnicity = self._ethnicity(person, household, htype, code)
        relation = self._relations(person, role, gender, birth, household, htype, district)
        separated = rand.uniform("household.separated", household) < model.separated_share
        elsewhere = layout.unit_of_residential(rand.integers("household.domicile", max(1, layout.occupied_range), household))
        domicile = np.where(htype == LOCAL, np.where(separated, elsewhere, registered_home), -1)
        employer = self._employers(person, htype, birth)
        insurance = (1 | 4 | np.where(rand.uniform("insurance.210", person) < 0.85, 2, 0)
                     | np.where(rand.uniform("insurance.410", person) < 0.9, 8, 0))
        wage = self._wages(person)
        died_before = self.death_before_start(person, birth)
        enrol = self._enrol_days(person, birth, employer)
        # nobody enrols after their death
        enrol = np.where(died_before != NO_DAY, np.minimum(enrol, self.start_day + died_before - 1), enrol)
        registered0 = self._past_seconds(person, "person.registered", np.maximum(birth, self.start_day - 15 * 365))
        collected0 = self._past_seconds(person, "person.collected", np.full(n, self.start_day - 730))
        permit_until0 = self._permit_until(person, htype)
        events, seconds, move_unit, move_domicile, new_employer = self._events(person, htype, birth, employer,
                                                                               died_before)
        return PersonFrame(
            index=person, kind=np.full(n, BASE), residence_type=htype, household=household, unit0=unit0, role=role,
            gender=gender, id_number=id_number, name=name, birth_day=birth, ethnicity=ethnicity,
            domicile_unit0=domicile, relation0=relation, phone=self._phones(person, birth), employer0=employer,
            insurance=insurance, wage=wage, enrol_day=enrol, registered0=registered0, collected0=collected0,
            permit_until0=permit_until0, appear_day=np.full(n, NO_DAY), appear_seconds=np.full(n, -1),
            event_day=events, event_seconds=seconds, move_unit=move_unit, move_domicile=move_domicile,
            new_employer=new_employer)

    def _employers(self, person: np.ndarray, htype: np.ndarray, birth: np.ndarray) -> np.ndarray:
        """The employer of base persons at the start (-1: none): of working age, employed at the
        rate of their kind of household, by an enterprise with insured staff."""
        age = (self.start_day - birth) / YEAR_DAYS
        employment_rate = np.where(htype == LOCAL, self.model.employment_local, self.model.employment_migrant)
        wants_work = (age >= 18) & (age < 60) & (self.rand.uniform("person.employed", person) < employment_rate)
        employer = np.full(len(person), -1, dtype=np.int64)
        employer[wants_work] = self.enterprises.draw_employers(person[wants_work], "person.employer")
        return employer

    def employment_at_start(self, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Employer (-1: none) and day of a death before the start (NO_DAY: none) of base persons,
        without building their whole frame."""
        layout = self.layout
        household = layout.residential_of_person(person)
        htype = self.household_type(household)
        _, birth, _ = self._id_parts(person, htype, self._district_of_unit(layout.unit_of_residential(household)))
        return self._employers(person, htype, birth), self.death_before_start(person, birth)

    def _relations(self, person, role, gender, birth, household, htype, district) -> np.ndarray:
        """Relation to the household head (GB/T 4761), consistent with the ages in the household."""
        relation = np.full(len(person), OTHER)
        relation[role == HEAD] = HEAD_REL
        relation[role == SPOUSE] = np.where(gender[role == SPOUSE] == MALE, HUSBAND, WIFE)
        kin = np.flatnonzero((role == CHILD) | (role == ELDER))
        if kin.size:
            head = person[kin] - self.layout.member_of_person(person[kin])
            _, head_birth, _ = self._id_parts(head, htype[kin], district[kin])
            gap_years = (birth[kin] - head_birth) / YEAR_DAYS  # positive: younger than the head
            male = gender[kin] == MALE
            child = (role[kin] == CHILD) & (gap_years >= 15) & (gap_years < 45)
            grandchild = (role[kin] == CHILD) & (gap_years >= 45)
            sibling = (role[kin] == CHILD) & (np.abs(gap_years) < 15)
            parent = (role[kin] == ELDER) & (gap_years <= -15)
            relation[kin] = np.select(
                [child, grandchild, sibling, parent],
                [np.where(male, SON, DAUGHTER), np.where(male, GRANDSON, GRANDDAUGHTER), SIBLING,
                 np.where(male, FATHER, MOTHER)], OTHER)
        return relation

    def _wages(self, key: np.ndarray) -> np.ndarray:
        u1 = np.maximum(self.rand.uniform("wage.u1", key), 1e-12)
        u2 = self.rand.uniform("wage.u2", key)
        z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
        return np.round(np.clip(6500 * np.exp(0.45 * z), 3800, 40000), 0)

    def _enrol_days(self, key: np.ndarray, birth: np.ndarray, employer: np.ndarray) -> np.ndarray:
        est = self.enterprises.est_day(np.maximum(employer, 0))
        earliest = np.maximum.reduce([birth + int(18 * YEAR_DAYS), est, np.full(len(key), text.epoch_day(date(2000, 1, 1)))])
        span = np.maximum(1, self.start_day - earliest)
        return np.minimum(earliest + self.rand.integers("person.enrolled", span, key), self.start_day - 1)

    def _past_seconds(self, key: np.ndarray, stream: str, earliest_day: np.ndarray) -> np.ndarray:
        span = np.maximum(1, self.start_day - earliest_day)
        day = earliest_day + self.rand.integers(stream, span, key) - self.start_day
        day = np.minimum(day, -1)
        return day * DAY_SECONDS + 8 * 3600 + self.rand.integers(f"{stream}.time", 10 * 3600, key)

    def _permit_until(self, person: np.ndarray, htype: np.ndarray) -> np.ndarray:
        renewal = self.events["permit_renewal"].day_of(person)
        horizon = max(1, 365 - self.days)
        later = self.start_day + self.days + self.rand.integers("permit.until", horizon, person)
        until = np.where(renewal != NO_DAY, self.start_day + renewal, later)
        return np.where(htype == MIGRANT, until, -1)

    def _events(self, person, htype, birth, employer, died_before):
        rand = self.rand
        day = {kind: stream.day_of(person) for kind, stream in self.events.items()}
        age_at_death = (self.start_day + day["death"] - birth) / YEAR_DAYS
        accepted = (age_at_death >= 60) | (rand.uniform("death.accept", person) < 0.02)
        day["death"] = np.where(died_before != NO_DAY, died_before, np.where(accepted, day["death"], NO_DAY))
        employed = employer >= 0
        new_employer = self.enterprises.draw_employers(person, "person.employer.new")
        day["job_change"] = np.where(employed & (new_employer >= 0) & (new_employer != employer), day["job_change"], NO_DAY)
        day["job_loss"] = np.where(employed, day["job_loss"], NO_DAY)
        both = (day["job_change"] != NO_DAY) & (day["job_loss"] != NO_DAY)
        change_first = day["job_change"] <= day["job_loss"]
        day["job_loss"] = np.where(both & change_first, NO_DAY, day["job_loss"])
        day["job_change"] = np.where(both & ~change_first, NO_DAY, day["job_change"])
        day["permit_renewal"] = np.where(htype == MIGRANT, day["permit_renewal"], NO_DAY)
        # a person who died or left has no later events; death wins over leaving on the same day
        died = day["death"] != NO_DAY
        day["emigration"] = np.where(died & (day["emigration"] >= day["death"]), NO_DAY, day["emigration"])
        gone = np.where(died, day["death"], np.where(day["emigration"] != NO_DAY, day["emigration"], np.iinfo(np.int64).max))
        for kind in ("move", "job_change", "job_loss", "grid_visit", "permit_renewal"):
            day[kind] = np.where(day[kind] >= gone, NO_DAY, day[kind])
        laid_off = self.layoffs.of(person)
        # planted layoffs fall on persons without events of their own (scenarios.py): the
        # suspension counts from the month's first day, a day's events from the day before
        day["job_loss"] = np.where(laid_off, self.layoffs.day - 1, day["job_loss"])
        seconds = {kind: self.events[kind].seconds(person, day[kind]) for kind in PERSON_EVENTS}
        seconds["job_loss"] = np.where(laid_off, self.layoffs.day * DAY_SECONDS + rand.integers(
            "scenario.layoff.time", Layoffs.SECONDS, person), seconds["job_loss"])
        # event streams time only the simulated days; a death before the start has its own time
        before = died_before != NO_DAY
        seconds["death"] = np.where(before, died_before * DAY_SECONDS + 8 * 3600
                                    + rand.integers("death.before-start.time", 12 * 3600, person), seconds["death"])
        move_unit = self.vacant_unit(person, "person.move.unit")
        move_domicile = (htype == LOCAL) & (rand.uniform("person.move.domicile", person) < self.model.domicile_follows_move)
        return day, seconds, move_unit, move_domicile, new_employer

    def _no_events(self, n: int) -> tuple[dict, dict]:
        return ({kind: np.full(n, NO_DAY) for kind in PERSON_EVENTS},
                {kind: np.full(n, -1) for kind in PERSON_EVENTS})

    # ------------------------------------------------------------------ newcomers

    def _plan_newborns(self) -> dict[str, np.ndarray]:
        """All newborns of the simulated days (few: about 0.8 % of the persons a year)."""
        layout, rand = self.layout, self.rand
        number = np.arange(self.births.total, dtype=np.int64)
        household = np.zeros(number.size, dtype=np.int64)
        pending = np.arange(number.size)
        for attempt in range(24):
            if pending.size == 0:
                break
            candidate = rand.integers(f"newborn.household#{attempt}", max(1, layout.occupied_range), number[pending])
            household[pending] = candidate
            ok = (self.household_type(candidate) == LOCAL) & (layout.household_size(candidate) >= 2)
            pending = pending[~ok]
        day = self.births.day_of(number)
        gender = (rand.uniform("newborn.gender", number) < 0.485).astype(np.int64)
        district = self._district_of_unit(layout.unit_of_residential(household))
        birth_day = self.start_day + day
        code = np.array([int(self.ids.divisions.districts[d].id_code_for_year(date.fromordinal(
            date(1970, 1, 1).toordinal() + int(b)).year)) for d, b in zip(district, birth_day)], dtype=np.int64)
        # the sequence lane: rank among the newborns of the same region code, date and gender
        order = np.lexsort((number, gender, birth_day, code))
        group_start = np.ones(number.size, dtype=bool)
        if number.size:
            keys = np.stack([code[order], birth_day[order], gender[order]])
            group_start[1:] = (keys[:, 1:] != keys[:, :-1]).any(axis=0)
        positions = np.arange(number.size)
        first_of_group = np.maximum.accumulate(np.where(group_start, positions, 0))
        rank = np.empty(number.size, dtype=np.int64)
        rank[order] = positions - first_of_group
        lane = identity.NEWBORN_LANES[0] + rank
        if number.size and lane.max() >= identity.NEWBORN_LANES[1]:
            raise ValueError("the city is too large for its ID numbers: more newborns on one day in one "
                             "district than ID sequence numbers")
        return {"household": household, "day": day, "gender": gender, "district": district, "code": code,
                "lane": lane}

    def _newborn_frame(self, person: np.ndarray) -> PersonFrame:
        n = len(person)
        if n == 0:
            return self._empty_frame()
        layout, rand = self.layout, self.rand
        j = person - self.first_newborn
        plan = {k: v[j] for k, v in self._newborns.items()}
        household, gender = plan["household"], plan["gender"]
        head = layout.first_person_of_household(household)
        father = np.where(layout.gender_of_person(head) == MALE, head, head + 1)
        birth = self.start_day + plan["day"]
        id_number = identity.resident_ids(plan["code"], birth, identity.sequence_numbers(plan["lane"], gender))
        father_frame_surname = self._surname(father, layout.role_of_person(father), np.full(n, MALE),
                                             layout.residential_of_person(father), np.full(n, LOCAL))
        name = text.join(father_frame_surname, self.given_names(person, gender))
        unit0 = self.home_moves.home(layout, household)
        seconds = plan["day"] * DAY_SECONDS + 3600 * (1 + rand.integers("newborn.hour", 22, person))
        events, event_seconds = self._no_events(n)
        return PersonFrame(
            index=person, kind=np.full(n, NEWBORN), residence_type=np.full(n, LOCAL), household=household, unit0=unit0,
            role=np.full(n, CHILD), gender=gender, id_number=id_number, name=name, birth_day=birth,
            ethnicity=_LOCAL_ETHNICITY[rand.weighted("ethnicity.household", _LOCAL_ETHNICITY_CUM, household)],
            domicile_unit0=layout.unit_of_residential(household), relation0=np.where(gender == MALE, SON, DAUGHTER),
            phone=pa.nulls(n, pa.string()), employer0=np.full(n, -1), insurance=np.zeros(n, dtype=np.int64),
            wage=np.zeros(n), enrol_day=np.full(n, -1), registered0=seconds + 2 * 3600, collected0=seconds + 4 * 3600,
            permit_until0=np.full(n, -1), appear_day=plan["day"], appear_seconds=seconds, event_day=events,
            event_seconds=event_seconds, move_unit=unit0, move_domicile=np.zeros(n, bool), new_employer=np.full(n, -1))

    def _arrival_frame(self, person: np.ndarray) -> PersonFrame:
        n = len(person)
        if n == 0:
            return self._empty_frame()
        layout, rand, model = self.layout, self.rand, self.model
        j = person - self.first_arrival
        gender = j % 2
        day = self.arrivals.day_of(j)
        # arrivals continue the migrants' head-of-household ID slots after those of the residents
        person_cls = person_class(np.full(n, ID_HEAD), gender)
        k = layout.persons_of_class_before(person_cls, np.full(n, self.base)) + j // 2
        code = np.zeros(n, dtype=np.int64)
        birth = np.zeros(n, dtype=np.int64)
        lane = np.zeros(n, dtype=np.int64)
        for c in np.unique(person_cls):
            mask = person_cls == c
            code[mask], birth[mask], lane[mask] = self.ids.space("migrant", int(c)).slots(k[mask])
        id_number = identity.resident_ids(code, birth, identity.sequence_numbers(lane, gender))
        surname = text.pick(_NATIONAL_SURNAMES, rand.weighted("surname.own", _NATIONAL_SURNAME_CUM, person))
        name = text.join(surname, self.given_names(person, gender))
        unit0 = self.vacant_unit(person, "arrival.unit")
        age = (self.start_day + day - birth) / YEAR_DAYS
        works = (age >= 18) & (age < 60) & (rand.uniform("person.employed", person) < model.employment_migrant)
        employer = np.where(works, self.enterprises.draw_employers(person, "person.employer"), -1)
        seconds = day * DAY_SECONDS + 8 * 3600 + rand.integers("arrival.time", 10 * 3600, person)
        events, event_seconds = self._no_events(n)
        htype = np.full(n, MIGRANT)
        return PersonFrame(
            index=person, kind=np.full(n, ARRIVAL), residence_type=htype, household=np.full(n, -1), unit0=unit0,
            role=np.full(n, HEAD), gender=gender, id_number=id_number, name=name, birth_day=birth,
            ethnicity=self._ethnicity(person, np.zeros(n, dtype=np.int64), htype, code), domicile_unit0=np.full(n, -1),
            relation0=np.full(n, HEAD_REL), phone=self._phones(person, birth), employer0=employer,
            insurance=np.where(employer >= 0, 1 | 2 | 4 | 8, 0), wage=self._wages(person),
            enrol_day=np.where(employer >= 0, self.start_day + day, -1), registered0=seconds, collected0=seconds + 3 * 3600,
            permit_until0=self.start_day + day + 365, appear_day=day, appear_seconds=seconds, event_day=events,
            event_seconds=event_seconds, move_unit=unit0, move_domicile=np.zeros(n, bool), new_employer=np.full(n, -1))

    def _empty_frame(self) -> PersonFrame:
        empty = np.empty(0, dtype=np.int64)
        events, seconds = self._no_events(0)
        return PersonFrame(
            index=empty, kind=empty, residence_type=empty, household=empty, unit0=empty, role=empty, gender=empty,
            id_number=pa.array([], pa.string()), name=pa.array([], pa.string()), birth_day=empty, ethnicity=empty,
            domicile_unit0=empty, relation0=empty, phone=pa.array([], pa.string()), employer0=empty, insurance=empty,
            wage=np.empty(0), enrol_day=empty, registered0=empty, collected0=empty, permit_until0=empty,
            appear_day=empty, appear_seconds=empty, event_day=events, event_seconds=seconds, move_unit=empty,
            move_domicile=np.empty(0, bool), new_employer=empty)

    # ------------------------------------------------------------------ identity of anyone

    def identity(self, person: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """ID number and name of base persons (legal representatives, owners, ...)."""
        layout = self.layout
        person = np.asarray(person, dtype=np.int64)
        household = layout.residential_of_person(person)
        district = self._district_of_unit(layout.unit_of_residential(household))
        htype = self.household_type(household)
        role, gender = layout.role_of_person(person), layout.gender_of_person(person)
        code, birth, lane = self._id_parts(person, htype, district)
        id_number = identity.resident_ids(code, birth, identity.sequence_numbers(lane, gender))
        name = text.join(self._surname(person, role, gender, household, htype), self.given_names(person, gender))
        return id_number, name

    # ------------------------------------------------------------------ change over time

    def affected(self, first_day: int, last_day: int) -> np.ndarray:
        """Persons with any event, birth or arrival on days first_day <= day < last_day (sorted)."""
        parts = [stream.entities_in(first_day, last_day) for stream in self.events.values()]
        parts.append(self.first_newborn + self.births.numbers_in(first_day, last_day))
        parts.append(self.first_arrival + self.arrivals.numbers_in(first_day, last_day))
        if first_day <= self.layoffs.day - 1 < last_day:
            parts.append(self.layoffs.person)
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def state_at(self, frame: PersonFrame, cut: int) -> PersonState:
        """The persons as the departments know them at a cut: events of days < cut have happened."""
        def happened(kind: str) -> np.ndarray:
            day = frame.event_day[kind]
            return (day != NO_DAY) & (day < cut)

        def latest(base: np.ndarray, kinds: list[str]) -> np.ndarray:
            out = base.copy()
            for kind in kinds:
                out = np.where(happened(kind), np.maximum(out, frame.event_seconds[kind]), out)
            return out

        appeared = (frame.appear_day == NO_DAY) | (frame.appear_day < cut)
        died, left, moved = happened("death"), happened("emigration"), happened("move")
        alive = appeared & ~died
        present = alive & ~left
        status = np.where(died, 1, np.where(left, 2, 0))
        unit = np.where(moved, frame.move_unit, frame.unit0)
        transfers = moved & frame.move_domicile
        domicile = np.where(transfers, frame.move_unit, frame.domicile_unit0)
        domicile_district = self._district_of_unit(np.maximum(domicile, 0))
        household = np.where(transfers, self.layout.residential_before_unit(frame.move_unit), frame.household)
        household_no = self.layout.district_codes[domicile_district] * 10 ** 9 + np.maximum(household, 0)
        relation = np.where(transfers, HEAD_REL, frame.relation0)
        employer = np.where(happened("job_change"), frame.new_employer, frame.employer0)
        insurance_status = np.where(~present, 2, np.where(happened("job_loss"), 1, 0))
        insurance_status_unless_death = np.where(~appeared | left, 2, np.where(happened("job_loss"), 1, 0))
        renewed = happened("permit_renewal")
        permit_until = np.where(renewed, frame.permit_until0 + 365, frame.permit_until0)
        collected = latest(frame.collected0, ["grid_visit", "move"])
        enrol_seconds = ((frame.enrol_day - self.start_day) * DAY_SECONDS + 8 * 3600
                         + self.rand.integers("person.enrolled.time", 9 * 3600, frame.index))
        enrol_seconds = np.where(frame.kind == ARRIVAL, frame.appear_seconds + 6 * 3600, enrol_seconds)
        registered_changed_unless_death = latest(frame.registered0, ["emigration"])
        registered_changed_unless_death = np.where(
            transfers, np.maximum(registered_changed_unless_death, frame.event_seconds["move"]),
            registered_changed_unless_death)
        registered_changed = latest(registered_changed_unless_death, ["death"])
        permit_changed0 = np.where(frame.kind == ARRIVAL, frame.registered0,
                                   (frame.permit_until0 - 365 - self.start_day) * DAY_SECONDS + 8 * 3600
                                   + self.rand.integers("permit.time", 9 * 3600, frame.index))
        return PersonState(
            present=present, appeared=appeared, alive=alive, status=status, unit=unit, domicile_unit=domicile,
            household_no=household_no, relation=relation, employer=employer, insurance_status=insurance_status,
            collected=collected, permit_until=permit_until, registered_changed=registered_changed,
            permit_changed=latest(permit_changed0, ["death", "emigration", "move", "permit_renewal"]),
            insurance_changed=latest(enrol_seconds, ["job_change", "job_loss", "death", "emigration"]),
            grid_changed=latest(frame.collected0, ["grid_visit", "move", "death", "emigration"]),
            registered_changed_unless_death=registered_changed_unless_death,
            insurance_status_unless_death=insurance_status_unless_death,
            insurance_changed_unless_death=latest(enrol_seconds, ["job_change", "job_loss", "emigration"]),
        )
