"""Early-warning scenarios planted in the synthetic city, one kind per warning rule of
conf/warnings.yml, so that every rule has subjects to find and the ground truth names them.

Each scenario is built into the city's own machinery rather than written over its deliveries, so
that every department's packages agree about it:

- enterprise_distress: enterprises with 6 or more insured staff suspend (减员) a share of them
  effective the first day of the last month the days reach (00:00-00:30, before that day's
  monthly social insurance extract), and pay only part of their taxes from two periods before
  the start (`Layoffs`, `TaxDeclarations.distressed`). Needs a social insurance delivery on a
  month's first day within the days, so that the month before ends with the staff still insured.
- ageing_street: the smallest street with 40 or more residents swaps its young households (3 or
  4 persons, all under 60) with elderly ones (1 or 2 persons, all 66 or older) from elsewhere,
  until its 65+ share is over `Scenarios.ageing_share` (`HomeMoves`).
- overcrowded_unit: empty homes rented out to young migrants' households (群租) until 8-12 live
  in each (`HomeMoves`).
- empty_registered_unit: registered households living elsewhere since before the start, their
  registered home left empty (`HomeMoves`); the register keeps them at home (人户分离).
- event_surge: a street's burst of grid events on one day near the end (`Bursts`).
- delivery_stopped: a resource delivers nothing in its last `stop_days` days (schedule gaps).
- quality_drop: a daily resource pauses `pause_days` days before the last one, whose package
  holds the backlog: later than its cycle allows after the one before, so the lake's timeliness
  rule fails on the last day (schedule gaps).

Planning reads the city's persons and enterprises through the same pure functions the packages
are built from (a scan of every person's employer for the distress cohort, samples elsewhere), so
a city is planned the same in every process; the plan is made once and handed to the workers.
Home moves change where households live at the start, never who they are: ID numbers, names and
registrations stay those of the layout's home.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from citylake.catalog import Catalog
from synthetic import vocab
from synthetic.events import NO_DAY
from synthetic.gridevents import Bursts
from synthetic.layout import UNITS_PER_PATTERN
from synthetic.model import Scenarios
from synthetic.population import LOCAL, MIGRANT, VACANT_OFFSET, HomeMoves, Layoffs, PersonFrame
from synthetic.schedule import Delivery
from synthetic.world import SyntheticCity

SOCIAL_INSURANCE = "hrss.social_insurance"
MIN_STAFF = 6               # distressed enterprises have at least this many insured staff at the start
AGEING_MIN_RESIDENTS = 40   # streets that can lose young households and keep 20 residents or more
AGEING_KEEP_RESIDENTS = 25
YOUNG_AGE, OLD_AGE = 60, 66  # ages at the end of the days, kept clear of the rule's 65
CROWD_AGES = (18, 59)      # migrant workers of working age
SAMPLE = 256                 # candidates drawn at a time where a scenario samples the city


@dataclass(frozen=True)
class Planted:
    """One planted scenario: the rule it is for, its subject, and what was done."""

    rule: str
    subject_type: str        # enterprise | street | housing_unit | resource
    subject: str             # USCC, street code, housing unit code, department.resource
    name: str
    detail: str
    numbers: dict = field(default_factory=dict)


@dataclass
class ScenarioPlan:
    """Everything the city's builders need to plant the scenarios, and what was planted."""

    gaps: dict[str, frozenset[int]] = field(default_factory=dict)
    layoffs: Layoffs = field(default_factory=Layoffs)
    distressed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    arrears_from: int = 0
    home_moves: HomeMoves = field(default_factory=HomeMoves)
    bursts: Bursts = field(default_factory=Bursts)
    street_persons: np.ndarray | None = None   # change of the persons living in each street at the start
    planted: list[Planted] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def attach(self, city: SyntheticCity) -> None:
        """Make the city's builders plant the scenarios (before anything is built from it)."""
        city.population.home_moves = self.home_moves
        city.population.layoffs = self.layoffs
        city.tax.distressed, city.tax.arrears_from = self.distressed, self.arrears_from
        city.grid_events.bursts = self.bursts
        city.scenarios = self

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for planted in self.planted:
            out[planted.rule] = out.get(planted.rule, 0) + 1
        return dict(sorted(out.items()))


# ---------------------------------------------------------------------------- delivery gaps


def delivery_gaps(scenarios: Scenarios, catalog: Catalog, days: int) -> dict[str, frozenset[int]]:
    """The rounds the stopped and the late resource deliver nothing."""
    _check_resources(scenarios, catalog)
    gaps = {}
    if scenarios.stopped_resource and days >= scenarios.stop_days:
        gaps[scenarios.stopped_resource] = frozenset(range(days - scenarios.stop_days + 1, days + 1))
    if scenarios.late_resource and days >= scenarios.pause_days + 2:
        gaps[scenarios.late_resource] = frozenset(range(days - scenarios.pause_days, days))
    return gaps


def _check_resources(scenarios: Scenarios, catalog: Catalog) -> None:
    codes = {r.qualified_code: r for r in catalog}
    for what, code in (("stopped_resource", scenarios.stopped_resource), ("late_resource", scenarios.late_resource)):
        if code is not None and code not in codes:
            raise ValueError(f"Scenarios.{what} {code!r} is no resource of the catalog")
    if scenarios.late_resource is not None and codes[scenarios.late_resource].cycle.get("incremental") != "daily":
        raise ValueError(f"Scenarios.late_resource {scenarios.late_resource!r} must be delivered daily "
                         "(incremental): a pause of a few days is late only for a daily resource")
    if scenarios.stopped_resource is not None and scenarios.stopped_resource == scenarios.late_resource:
        raise ValueError("Scenarios.stopped_resource and late_resource must be different resources")


# ---------------------------------------------------------------------------- the plan


def plan_scenarios(city: SyntheticCity, scenarios: Scenarios, schedule: list[Delivery]) -> ScenarioPlan:
    """Where each scenario goes in this city (before the plan is attached to it)."""
    plan = ScenarioPlan(gaps=delivery_gaps(scenarios, city.catalog, city.days),
                        street_persons=np.zeros(len(city.layout.streets), dtype=np.int64))
    _plan_deliveries(plan, city, scenarios, schedule)
    _plan_distress(plan, city, scenarios, schedule)
    homes = _HomePlanner(city, plan)
    ageing = homes.ageing_streets(scenarios)
    homes.crowded_units(scenarios)
    homes.empty_registered_units(scenarios)
    homes.name_units()
    plan.home_moves = homes.moves()
    _plan_bursts(plan, city, scenarios, exclude=ageing)
    return plan


def _plan_deliveries(plan: ScenarioPlan, city: SyntheticCity, scenarios: Scenarios, schedule: list[Delivery]) -> None:
    catalog, days = city.catalog, city.days
    if scenarios.stopped_resource:
        code = scenarios.stopped_resource
        if code in plan.gaps:
            last = max(d.extracted_at for d in schedule if d.resource.qualified_code == code)
            plan.planted.append(Planted(
                "delivery_stopped", "resource", code, _resource_name(catalog, code),
                f"delivers nothing after {last:%Y-%m-%d %H:%M}: its last {scenarios.stop_days} days are silent",
                {"last_extracted_at": last.isoformat(), "silent_days": scenarios.stop_days}))
        else:
            plan.skipped.append(f"delivery_stopped: {days} days are fewer than the {scenarios.stop_days} "
                                f"{code} would stop before the end")
    if scenarios.late_resource:
        code = scenarios.late_resource
        if code in plan.gaps:
            mine = [d for d in schedule if d.resource.qualified_code == code and d.mode == "incremental"]
            late, before = mine[-1], mine[-2]
            plan.planted.append(Planted(
                "quality_drop", "resource", code, _resource_name(catalog, code),
                f"nothing delivered for {scenarios.pause_days} days; {late.batch_id} of "
                f"{late.extracted_at:%Y-%m-%d} holds the backlog, {(late.extracted_at - before.extracted_at).days} "
                f"days after {before.batch_id}: later than its daily cycle allows, so it fails timeliness",
                {"late_batch_id": late.batch_id, "late_extracted_at": late.extracted_at.isoformat(),
                 "previous_extracted_at": before.extracted_at.isoformat(), "paused_days": scenarios.pause_days}))
        else:
            plan.skipped.append(f"quality_drop: {days} days leave no daily delivery of {code} before a "
                                f"{scenarios.pause_days}-day pause")


def _resource_name(catalog: Catalog, code: str) -> str:
    resource = next(r for r in catalog if r.qualified_code == code)
    return f"{catalog.department(resource.department).name} {resource.name}"


# ---------------------------------------------------------------------------- enterprise distress


def _layoff_round(city: SyntheticCity, schedule: list[Delivery]) -> int | None:
    """The last round on a month's first day that social insurance delivers an increment on."""
    rounds = [d.round for d in schedule if d.resource.qualified_code == SOCIAL_INSURANCE and d.mode == "incremental"
              and d.round >= 1 and city.date_of(d.round).day == 1]
    return max(rounds) if rounds else None


def _staff_at_start(city: SyntheticCity, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every base person's employer at the start (-1: none, or dead before the start), and per
    enterprise the living staff and the staff who died before the start."""
    population, total = city.population, city.enterprises.total
    employer = np.full(population.base, -1, dtype=np.int32)
    living, dead = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.int64)
    for first in range(0, population.base, chunk):
        person = np.arange(first, min(population.base, first + chunk), dtype=np.int64)
        works, died = population.employment_at_start(person)
        alive = died == NO_DAY
        living += np.bincount(works[alive & (works >= 0)], minlength=total)
        dead += np.bincount(works[~alive & (works >= 0)], minlength=total)
        employer[person] = np.where(alive, works, -1)
    return employer, living, dead


def _plan_distress(plan: ScenarioPlan, city: SyntheticCity, scenarios: Scenarios, schedule: list[Delivery]) -> None:
    wanted = scenarios.distressed_enterprises.of(city.persons)
    if wanted == 0:
        return
    day = _layoff_round(city, schedule)
    if day is None:
        plan.skipped.append(f"enterprise_distress: {SOCIAL_INSURANCE} delivers no increment on a month's first "
                            f"day from {city.start} over {city.days} days, so no month ends with the staff insured")
        return
    ent, rand = city.enterprises, city.rand
    employer, living, dead = _staff_at_start(city)
    index = np.arange(ent.base, dtype=np.int64)
    eligible = (living[:ent.base] >= MIN_STAFF) & (dead[:ent.base] == 0) & (ent.est_day(index) < city.start_day - 400)
    candidates = index[eligible][np.argsort(rand.uniform("scenario.distress", index[eligible]), kind="stable")]
    by_employer = np.argsort(employer, kind="stable")
    bounds = np.searchsorted(employer[by_employer], np.stack([candidates, candidates + 1]))
    chosen, laid_off = [], []
    for at in range(0, candidates.size, SAMPLE):
        batch = candidates[at:at + SAMPLE]
        staff = [np.sort(by_employer[bounds[0, at + k]:bounds[1, at + k]]).astype(np.int64) for k in range(batch.size)]
        frame = city.population.frame(np.concatenate(staff))
        offset = 0
        for enterprise, persons in zip(batch, staff):
            part = slice(offset, offset + persons.size)
            offset += persons.size
            cut = _layoffs(city, scenarios, frame, part, day, int(enterprise))
            if cut is not None:
                chosen.append((int(enterprise), persons.size, cut))
                laid_off.append(cut)
            if len(chosen) == wanted:
                break
        if len(chosen) == wanted:
            break
    if len(chosen) < wanted:
        plan.skipped.append(f"enterprise_distress: {len(chosen)} of {wanted} enterprises planted: no more with "
                            f"{MIN_STAFF}+ insured staff, none of them dead, and a year of tax history")
    if not chosen:
        return
    start_month = city.start.year * 12 + city.start.month - 1
    plan.arrears_from = start_month - 2
    plan.distressed = np.sort(np.array([e for e, _, _ in chosen], dtype=np.int64))
    plan.layoffs = Layoffs(np.sort(np.concatenate(laid_off)), day)
    period = f"{plan.arrears_from // 12:04d}{plan.arrears_from % 12 + 1:02d}"
    uscc, names, _ = ent.identity(np.array([e for e, _, _ in chosen], dtype=np.int64))
    for (enterprise, staff, cut), code, name in zip(chosen, uscc.to_pylist(), names.to_pylist()):
        plan.planted.append(Planted(
            "enterprise_distress", "enterprise", code, name,
            f"{cut.size} of its {staff} insured staff suspended (减员) from {city.date_of(day)} 00:00; pays "
            f"10-50 % of the tax of the periods from {period} on",
            {"staff_at_start": staff, "laid_off": int(cut.size), "layoff_day": city.date_of(day).isoformat(),
             "arrears_from_period": period}))


def _layoffs(city: SyntheticCity, scenarios: Scenarios, frame: PersonFrame, part: slice, day: int,
             enterprise: int) -> np.ndarray | None:
    """The staff one enterprise lays off, or None when it is no candidate: a death among its staff
    (an insurance never terminated would hide the fall), or too few staff left at the month's end."""
    events = {kind: values[part] for kind, values in frame.event_day.items()}
    persons = frame.index[part]
    if (events["death"] != NO_DAY).any():
        return None
    leaving = (events["job_change"] != NO_DAY) | (events["job_loss"] != NO_DAY) | (events["emigration"] != NO_DAY)
    at_month_end = persons.size - int((leaving & (np.maximum.reduce([events["job_change"], events["job_loss"],
                                                                    events["emigration"]]) < day)).sum())
    quiet = persons[~leaving]
    low, high = scenarios.staff_lost
    share = low + (high - low) * float(city.rand.uniform("scenario.distress.share", enterprise))
    lost = math.ceil(share * at_month_end)
    if at_month_end < MIN_STAFF or quiet.size < lost:
        return None
    order = np.argsort(city.rand.uniform("scenario.distress.who", quiet), kind="stable")
    return np.sort(quiet[order[:lost]])


# ---------------------------------------------------------------------------- homes


def _age(birth_day: np.ndarray, day: int) -> np.ndarray:
    """Full years of age on a day (days since 1970), a year more from the birthday on."""
    born = np.asarray(birth_day, dtype=np.int64).astype("datetime64[D]")
    on = np.datetime64(int(day), "D")
    born_month, on_month = born.astype("datetime64[M]"), on.astype("datetime64[M]")
    months = on_month.astype(np.int64) - born_month.astype(np.int64)
    before_birthday = ((on_month.astype(np.int64) % 12 == born_month.astype(np.int64) % 12)
                       & ((on - on_month.astype("datetime64[D]")) < (born - born_month.astype("datetime64[D]"))))
    return (months - before_birthday.astype(np.int64)) // 12


@dataclass
class _UnitScenario:
    """A planted scenario about a housing unit; `detail` may name `{other}`, a second unit."""

    rule: str
    unit: int
    detail: str
    numbers: dict
    other: int | None = None


@dataclass
class _Household:
    ordinal: int
    persons: np.ndarray
    street: int


class _HomePlanner:
    """Home moves of whole households, none planned twice, no unit used twice."""

    def __init__(self, city: SyntheticCity, plan: ScenarioPlan) -> None:
        self.city, self.plan = city, plan
        self.layout, self.population, self.rand = city.layout, city.population, city.rand
        self.end_day = city.start_day + city.days
        self.patterns = self.layout.occupied_range // UNITS_PER_PATTERN
        self.moved: dict[int, int] = {}         # household ordinal -> unit it lives in
        self.used_units: set[int] = set()
        self.closed_streets: set[int] = set()   # streets no household moves into or out of
        self.unit_scenarios: list[_UnitScenario] = []   # named once planning is done

    def moves(self) -> HomeMoves:
        ordinals = np.array(sorted(self.moved), dtype=np.int64)
        return HomeMoves(ordinals, np.array([self.moved[o] for o in ordinals], dtype=np.int64))

    # ------------------------------------------------------------------ helpers

    def _street_of_ordinal(self, ordinal: np.ndarray) -> np.ndarray:
        layout = self.layout
        return layout.street_of_building(layout.building_of_unit(layout.unit_of_residential(ordinal)))

    def _members(self, ordinal: np.ndarray) -> list[np.ndarray]:
        first = self.layout.first_person_of_household(ordinal)
        size = self.layout.household_size(ordinal)
        return [np.arange(f, f + s, dtype=np.int64) for f, s in zip(first, size)]

    def _households(self, ordinals: np.ndarray) -> tuple[list[_Household], PersonFrame]:
        members = self._members(ordinals)
        streets = self._street_of_ordinal(ordinals)
        households = [_Household(int(o), m, int(s)) for o, m, s in zip(ordinals, members, streets) if m.size]
        persons = np.concatenate([h.persons for h in households]) if households else np.empty(0, dtype=np.int64)
        return households, self.population.frame(np.sort(persons))

    def _sample(self, stream: str, attempt: int, offsets: list[int]) -> np.ndarray:
        """Distinct random residential ordinals at the given pattern offsets, not yet moved."""
        pattern = self.rand.integers(f"{stream}#{attempt}", max(1, self.patterns), np.arange(SAMPLE))
        offset = np.asarray(offsets)[self.rand.integers(f"{stream}.offset#{attempt}", len(offsets), np.arange(SAMPLE))]
        ordinal = np.unique(pattern * UNITS_PER_PATTERN + offset)
        keep = [o for o in ordinal if o not in self.moved and o < self.layout.occupied_range
                and int(self._street_of_ordinal(np.array([o]))[0]) not in self.closed_streets]
        return np.array(keep, dtype=np.int64)

    def _quiet(self, frame: PersonFrame, persons: np.ndarray, kinds=("death", "emigration", "move")) -> bool:
        rows = np.searchsorted(frame.index, persons)
        return all((frame.event_day[k][rows] == NO_DAY).all() for k in kinds)

    def _ages(self, frame: PersonFrame, persons: np.ndarray) -> np.ndarray:
        return _age(frame.birth_day[np.searchsorted(frame.index, persons)], self.end_day)

    def _vacant_unit(self, stream: str, number: int) -> int | None:
        """An empty home (the pattern's vacant unit) in a street open to moves, not used yet."""
        for attempt in range(64):
            pattern = int(self.rand.integers(f"{stream}#{attempt}", max(1, self.patterns), number))
            ordinal = pattern * UNITS_PER_PATTERN + VACANT_OFFSET
            unit = int(self.layout.unit_of_residential(np.array([ordinal]))[0])
            street = int(self._street_of_ordinal(np.array([ordinal]))[0])
            if ordinal < self.layout.occupied_range and unit not in self.used_units and street not in self.closed_streets:
                self.used_units.add(unit)
                return unit
        return None

    def _move(self, ordinal: int, unit: int, persons: int, from_street: int) -> None:
        self.moved[ordinal] = unit
        to_street = int(self.layout.street_of_building(self.layout.building_of_unit(np.array([unit])))[0])
        self.plan.street_persons[from_street] -= persons
        self.plan.street_persons[to_street] += persons

    def name_units(self) -> None:
        """Add the unit scenarios to the plan with the units' codes and addresses (all at once)."""
        if not self.unit_scenarios:
            return
        housing = self.city.housing
        units = np.array(sorted({s.unit for s in self.unit_scenarios}
                                | {s.other for s in self.unit_scenarios if s.other is not None}), dtype=np.int64)
        codes = dict(zip(units.tolist(), housing.unit_codes(units).to_pylist()))
        addresses = dict(zip(units.tolist(), housing.unit_addresses(units).to_pylist()))
        for scenario in self.unit_scenarios:
            other = codes[scenario.other] if scenario.other is not None else None
            numbers = {**scenario.numbers, **({"living_in": other} if other else {})}
            self.plan.planted.append(Planted(scenario.rule, "housing_unit", codes[scenario.unit],
                                             addresses[scenario.unit], scenario.detail.format(other=other), numbers))

    # ------------------------------------------------------------------ ageing streets

    def ageing_streets(self, scenarios: Scenarios) -> list[int]:
        wanted = scenarios.ageing_streets.of(self.city.persons)
        if wanted == 0:
            return []
        persons = np.diff(self.layout.street_first_person)
        candidates = [int(s) for s in np.lexsort((np.arange(persons.size), persons)) if persons[s] >= AGEING_MIN_RESIDENTS]
        planted = []
        for street in candidates:
            if len(planted) == wanted:
                break
            if self._age_street(street, scenarios):
                planted.append(street)
        if len(planted) < wanted:
            self.plan.skipped.append(f"ageing_street: {len(planted)} of {wanted} streets planted: no more streets "
                                     f"of {AGEING_MIN_RESIDENTS}+ residents could be aged")
        return planted

    def _age_street(self, street: int, scenarios: Scenarios) -> bool:
        layout = self.layout
        first, last = layout.street_first_person[street], layout.street_first_person[street + 1]
        ordinals = np.unique(layout.residential_of_person(np.arange(first, last, dtype=np.int64)))
        households, frame = self._households(ordinals)
        staying = {}
        residents, old = 0, 0
        for household in households:
            rows = np.searchsorted(frame.index, household.persons)
            present = (frame.event_day["death"][rows] == NO_DAY) & (frame.event_day["emigration"][rows] == NO_DAY)
            ages = self._ages(frame, household.persons)
            residents += int(present.sum())
            old += int((present & (ages >= 65)).sum())
            staying[household.ordinal] = (int(present.sum()), bool((ages < YOUNG_AGE).all()))
        young = [h for h in households if h.persons.size >= 3 and staying[h.ordinal][1]]
        young.sort(key=lambda h: (-h.persons.size, float(self.rand.uniform("scenario.ageing.young", h.ordinal))))
        self.closed_streets.add(street)
        residents0, old0 = residents, old
        partners = self._elderly_households(street, len(young))
        swaps = []
        for household, partner in zip(young, partners):
            if old >= scenarios.ageing_share * residents:
                break
            after = residents - staying[household.ordinal][0] + partner.persons.size
            if after < AGEING_KEEP_RESIDENTS:
                break
            residents, old = after, old + partner.persons.size
            swaps.append((household, partner))
        if old < scenarios.ageing_share * residents:
            self.closed_streets.discard(street)
            return False
        unit_of = self.layout.unit_of_residential
        for household, partner in swaps:
            self._move(household.ordinal, int(unit_of(np.array([partner.ordinal]))[0]), household.persons.size, street)
            self._move(partner.ordinal, int(unit_of(np.array([household.ordinal]))[0]), partner.persons.size,
                       partner.street)
        code, name = layout.streets[street].code, layout.streets[street].name
        self.plan.planted.append(Planted(
            "ageing_street", "street", code, name,
            f"{len(swaps)} young households swapped homes with elderly ones from other streets: about "
            f"{old} of {residents} residents aged 65+ at the end of the days (from {old0} of {residents0})",
            {"swaps": len(swaps), "residents_planned": residents, "aged_65_plus_planned": old}))
        return True

    def _elderly_households(self, street: int, wanted: int) -> list[_Household]:
        """Households of one or two persons, all 66 or older at the end and staying put, elsewhere."""
        found: list[_Household] = []
        seen: set[int] = set()
        for attempt in range(64):
            if len(found) >= wanted:
                break
            ordinals = np.array([o for o in self._sample("scenario.ageing.partner", attempt, [1, 4, 7, 9])
                                 if o not in seen], dtype=np.int64)
            seen.update(int(o) for o in ordinals)
            if ordinals.size == 0:
                continue
            households, frame = self._households(ordinals)
            for household in households:
                if (household.persons.size <= 2 and household.street != street and self._quiet(frame, household.persons)
                        and (self._ages(frame, household.persons) >= OLD_AGE).all()):
                    found.append(household)
        return found[:wanted]

    # ------------------------------------------------------------------ 群租

    def crowded_units(self, scenarios: Scenarios) -> None:
        wanted = scenarios.overcrowded_units.of(self.city.persons)
        if wanted == 0:
            return
        low, high = scenarios.crowd_size
        tenants = self._young_migrant_households(wanted * high)
        planted = 0
        for number in range(wanted):
            target = low + int(self.rand.integers("scenario.crowd.size", max(1, high - low), number))
            group, count = [], 0
            while count < target and tenants:
                household = tenants.pop()
                group.append(household)
                count += household.persons.size
            if count < target:
                break
            unit = self._vacant_unit("scenario.crowd.unit", number)
            if unit is None:
                break
            for household in group:
                self._move(household.ordinal, unit, household.persons.size, household.street)
            self.unit_scenarios.append(_UnitScenario(
                "overcrowded_unit", unit, f"{count} migrant workers of {len(group)} households rent the empty home "
                "together (群租) from before the start", {"residents_at_start": count, "households": len(group)}))
            planted += 1
        if planted < wanted:
            self.plan.skipped.append(f"overcrowded_unit: {planted} of {wanted} units planted: too few young "
                                     "migrants' households or empty homes")

    def _young_migrant_households(self, persons: int) -> list[_Household]:
        """Migrants' households of one or two persons, all of working age and staying put, in random
        order: enough for `persons` persons if the city has them."""
        found: list[_Household] = []
        seen: set[int] = set()
        for attempt in range(16 + 16 * persons // SAMPLE):
            if sum(h.persons.size for h in found) >= persons:
                break
            ordinals = np.array([o for o in self._sample("scenario.crowd.tenants", attempt, [1, 4, 7, 9])
                                 if o not in seen], dtype=np.int64)
            seen.update(int(o) for o in ordinals)
            ordinals = ordinals[self.population.household_type(ordinals) == MIGRANT] if ordinals.size else ordinals
            if ordinals.size == 0:
                continue
            households, frame = self._households(ordinals)
            for household in households:
                ages = self._ages(frame, household.persons)
                if ((ages >= CROWD_AGES[0]) & (ages <= CROWD_AGES[1])).all() and self._quiet(frame, household.persons):
                    found.append(household)
        return found[::-1]  # popped from the end: first found first

    # ------------------------------------------------------------------ 人户分离

    def empty_registered_units(self, scenarios: Scenarios) -> None:
        wanted = scenarios.empty_registered_units.of(self.city.persons)
        model, planted = self.city.model, 0
        for attempt in range(64):
            if planted == wanted:
                break
            ordinals = self._sample("scenario.empty-home", attempt, [0, 1, 2, 5, 7, 8, 9])
            if ordinals.size == 0:
                continue
            registered_at_home = ((self.population.household_type(ordinals) == LOCAL)
                                  & (self.rand.uniform("household.separated", ordinals) >= model.separated_share))
            ordinals = ordinals[registered_at_home]
            units = self.layout.unit_of_residential(ordinals)
            ordinals = np.array([o for o, u in zip(ordinals, units) if int(u) not in self.used_units], dtype=np.int64)
            if ordinals.size == 0:
                continue
            households, frame = self._households(ordinals)
            for household in households:
                if planted == wanted:
                    break
                if household.persons.size < 2 or not self._quiet(frame, household.persons):
                    continue
                home = int(self.layout.unit_of_residential(np.array([household.ordinal]))[0])
                unit = self._vacant_unit("scenario.empty-home.unit", planted)
                if unit is None:
                    break
                self.used_units.add(home)
                self._move(household.ordinal, unit, household.persons.size, household.street)
                self.unit_scenarios.append(_UnitScenario(
                    "empty_registered_unit", home, f"its household of {household.persons.size} registered residents "
                    "lives in {other} since before the start, the register keeping them at home (人户分离)",
                    {"registered_residents": int(household.persons.size)}, other=unit))
                planted += 1
        if planted < wanted:
            self.plan.skipped.append(f"empty_registered_unit: {planted} of {wanted} units planted: too few "
                                     "registered households or empty homes")


# ---------------------------------------------------------------------------- surges


def _plan_bursts(plan: ScenarioPlan, city: SyntheticCity, scenarios: Scenarios, exclude: list[int]) -> None:
    wanted = scenarios.surge_streets.of(city.persons)
    if wanted == 0:
        return
    layout, rand, events = city.layout, city.rand, city.grid_events
    streets = np.flatnonzero(np.diff(layout.street_first_building) > 0)
    streets = np.array([s for s in streets if s not in exclude], dtype=np.int64)
    streets = streets[np.argsort(rand.uniform("scenario.surge.street", streets), kind="stable")][:wanted]
    if streets.size < wanted:
        plan.skipped.append(f"event_surge: {streets.size} of {wanted} streets planted: too few streets with buildings")
    if streets.size == 0:
        return
    day = city.days - scenarios.surge_days_before_end
    low, high = scenarios.surge_events
    base = low + rand.integers("scenario.surge.size", high - low + 1, streets)
    # far above what the street has on an ordinary day, however big the city
    size = base + np.round(3 * events.expected_per_street_day(streets)).astype(np.int64)
    kind = rand.weighted("scenario.surge.kind", np.cumsum([w for _, w in vocab.GRID_EVENT_TYPES]), streets)
    plan.bursts = Bursts(streets, np.full(streets.size, day, dtype=np.int64), size.astype(np.int64), kind)
    on = date.fromordinal(city.start.toordinal() + day)
    for street, count, k in zip(streets, size, kind):
        plan.planted.append(Planted(
            "event_surge", "street", layout.streets[street].code, layout.streets[street].name,
            f"{count} grid events reported on {on}, most of them {vocab.GRID_EVENT_TYPES[k][0]}",
            {"day": on.isoformat(), "planted_events": int(count)}))

