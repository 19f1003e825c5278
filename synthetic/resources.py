"""What each department delivers: the rows of every catalog resource, at any cut.

Every resource is built as *potential rows* aligned with a set of entities (one row per person,
per person and insurance type, per housing unit, ...), each with a `_present` flag. A full extract
is the present rows at a cut; an incremental one compares the same potential rows at the previous
cut and at this one: appeared rows are inserts, vanished rows deletes, changed rows updates.

Columns are the catalog's source columns, as the department writes them (text), plus metadata
columns starting with `_` that never reach a file: `_present`, `_key` (the true key), `_entity`,
`_row` (a number unique to the row within the resource, which faults are drawn by), `_district`
(index of the district the row belongs to, -1 if none) and `_changed` (seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citylake.catalog import Resource
from synthetic import text, vocab
from synthetic.events import DAY_SECONDS, NO_DAY
from synthetic.firms import EnterpriseFrame, LicenseFrame, PenaltyFrame, authority_names
from synthetic.gridevents import LONGEST_DAYS, GridEventFrame
from synthetic.layout import FEMALE
from synthetic.population import (INSURANCE_STATUS, INSURANCE_TYPES, LOCAL, MIGRANT, RELATIONS,
                                           RESIDENCE_TYPES, PersonFrame, PersonState)
from synthetic.rng import Permutation
from synthetic.world import PropertyFrame, SyntheticCity

# conflict columns (conflicts.py): rows kept clear of quarantining faults, and the injected conflict a row carries
META_COLUMNS = ["_present", "_key", "_row", "_entity", "_district", "_changed", "_newer",
                "_protected", "_conflict", "_conflict_column", "_conflict_true", "_conflict_record"]
CUT_SECONDS = 2 * 3600  # extracts are cut at 02:00 of the delivery day
KEY_SEPARATOR = "|"


def cut_seconds(cut: int) -> int:
    return cut * DAY_SECONDS + CUT_SECONDS


# ---------------------------------------------------------------------------- entity sets


class PersonContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.frame: PersonFrame = city.population.frame(index)
        self._states: dict[int, PersonState] = {}

    def state(self, cut: int) -> PersonState:
        if cut not in self._states:
            self._states[cut] = self.city.population.state_at(self.frame, cut)
        return self._states[cut]

    def employer_identity(self, employer: np.ndarray) -> tuple[pa.Array, pa.Array]:
        uscc, name, _ = self.city.enterprises.identity(np.maximum(employer, 0))
        return uscc, name


class EnterpriseContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.frame: EnterpriseFrame = city.enterprises.frame(index)

    @cached_property
    def legal_rep(self) -> tuple[pa.Array, pa.Array]:
        return self.city.population.identity(self.frame.legal_rep)


class LicenseContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.frame: LicenseFrame = city.licences.frame(index)


class PenaltyContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.frame: PenaltyFrame = city.penalties.frame(index)


class UnitContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.unit = np.asarray(index, dtype=np.int64)
        self.frame: PropertyFrame = city.properties.frame(self.unit)

    @cached_property
    def codes(self) -> pa.Array:
        return self.city.housing.unit_codes(self.unit)


class BuildingContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.buildings = city.housing.buildings(np.asarray(index, dtype=np.int64))


class GridEventContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.frame: GridEventFrame = city.grid_events.frame(index)


class StreetContext:
    def __init__(self, city: SyntheticCity, index: np.ndarray) -> None:
        self.city = city
        self.index = np.asarray(index, dtype=np.int64)


@dataclass(frozen=True)
class Family:
    """A kind of entity rows are built from: how many there are, and which change between cuts."""

    name: str
    context: Callable[[SyntheticCity, np.ndarray], object]
    size: Callable[[SyntheticCity], int]
    affected: Callable[[SyntheticCity, int, int], np.ndarray] | None = None


def _grid_events_changed(city: SyntheticCity, first_cut: int, cut: int) -> np.ndarray:
    events = city.grid_events
    window = (cut_seconds(first_cut), cut_seconds(cut))
    candidates = events.numbers_reported(first_cut - LONGEST_DAYS - 2, cut + 1)
    if candidates.size == 0:
        return candidates
    frame = events.frame(candidates)
    reported = (frame.reported >= window[0]) & (frame.reported < window[1])
    closed = (frame.closed >= window[0]) & (frame.closed < window[1])
    return candidates[reported | closed]


def _licences_changed(city: SyntheticCity, first_cut: int, cut: int) -> np.ndarray:
    licences = city.licences
    new = licences.base + licences.new.numbers_in(first_cut, cut)
    return np.unique(np.concatenate([new, licences.renewals.entities_in(first_cut, cut)]))


FAMILIES = {
    "person": Family("person", PersonContext, lambda c: c.population.total,
                     lambda c, a, b: c.population.affected(a, b)),
    "enterprise": Family("enterprise", EnterpriseContext, lambda c: c.enterprises.total),
    "license": Family("license", LicenseContext, lambda c: c.licences.total, _licences_changed),
    "penalty": Family("penalty", PenaltyContext, lambda c: c.penalties.total,
                      lambda c, a, b: c.penalties.base + c.penalties.new.numbers_in(a, b)),
    "unit": Family("unit", UnitContext, lambda c: c.layout.units,
                   lambda c, a, b: np.unique(c.properties.transfers.entities_in(a, b))),
    "building": Family("building", BuildingContext, lambda c: c.layout.buildings),
    "grid_event": Family("grid_event", GridEventContext, lambda c: c.grid_events.total, _grid_events_changed),
    "street": Family("street", StreetContext, lambda c: len(c.layout.streets)),
}


# ---------------------------------------------------------------------------- helpers


def _genders(gender: np.ndarray) -> pa.Array:
    return pa.array(np.where(gender == FEMALE, "2", "1"))


def _two_digits(values: np.ndarray) -> pa.Array:
    return text.integers(values, 2)


def _table(columns: dict[str, pa.Array], present: np.ndarray, key: pa.Array, entity: np.ndarray,
           district: np.ndarray, changed: np.ndarray, row: np.ndarray | None = None) -> pa.Table:
    data = dict(columns)
    data["_present"] = pa.array(np.asarray(present, dtype=bool))
    data["_key"] = key
    data["_row"] = pa.array(np.asarray(entity if row is None else row, dtype=np.int64))
    data["_entity"] = pa.array(np.asarray(entity, dtype=np.int64))
    data["_district"] = pa.array(np.asarray(district, dtype=np.int64))
    data["_changed"] = pa.array(np.asarray(changed, dtype=np.int64))
    return pa.table(data)


def _district_of_units(city: SyntheticCity, unit: np.ndarray) -> np.ndarray:
    layout = city.layout
    return layout.street_district[layout.street_of_building(layout.building_of_unit(unit))]


# ---------------------------------------------------------------------------- psb


def household_registration(ctx: PersonContext, cut: int) -> pa.Table:
    city, f, st = ctx.city, ctx.frame, ctx.state(cut)
    domicile = np.maximum(st.domicile_unit, 0)
    district = _district_of_units(city, domicile)
    start = city.start
    columns = {
        "GMSFHM": f.id_number, "XM": f.name, "XB": _genders(f.gender), "MZ": _two_digits(f.ethnicity),
        "CSRQ": text.dates(f.birth_day), "HJDZ_XZQH": text.integers(city.layout.district_codes[district]),
        "HJDZ": city.housing.unit_addresses(domicile), "HH": text.integers(st.household_no, 15),
        "YHZGX": text.pick(RELATIONS, st.relation), "RYZT": text.integers(st.status),
        "BGSJ": text.timestamps(st.registered_changed, start),
    }
    present = st.appeared & (f.residence_type == LOCAL)
    return _table(columns, present, f.id_number, f.index, district, st.registered_changed)


def residence_permit(ctx: PersonContext, cut: int) -> pa.Table:
    city, f, st = ctx.city, ctx.frame, ctx.state(cut)
    district = _district_of_units(city, st.unit)
    columns = {
        "GMSFHM": f.id_number, "XM": f.name, "XB": _genders(f.gender), "CSRQ": text.dates(f.birth_day),
        "JZDZ_XZQH": text.integers(city.layout.district_codes[district]), "JZDZ": city.housing.unit_addresses(st.unit),
        "YXQZ": text.dates(np.maximum(st.permit_until, 0)), "BGSJ": text.timestamps(st.permit_changed, city.start),
    }
    present = st.present & (f.residence_type == MIGRANT)
    return _table(columns, present, f.id_number, f.index, district, st.permit_changed)


# ---------------------------------------------------------------------------- hrss


def social_insurance(ctx: PersonContext, cut: int) -> pa.Table:
    city, f, st = ctx.city, ctx.frame, ctx.state(cut)
    types = len(INSURANCE_TYPES)
    n = len(f)
    person = np.repeat(np.arange(n), types)
    kind = np.tile(np.arange(types), n)
    take = pa.array(person)
    uscc, name = ctx.employer_identity(st.employer)
    insured = (f.employer0 >= 0)[person] & ((f.insurance[person] >> kind) & 1).astype(bool)
    id_number = f.id_number.take(take)
    type_code = text.pick(INSURANCE_TYPES, kind)
    columns = {
        "身份证号": id_number, "姓名": f.name.take(take), "单位统一社会信用代码": uscc.take(take),
        "单位名称": name.take(take), "险种": type_code, "参保状态": text.pick(INSURANCE_STATUS, st.insurance_status[person]),
        "缴费基数": text.fixed(f.wage[person], 2), "参保日期": text.dates(np.maximum(f.enrol_day, 0)[person]),
        "更新时间": text.timestamps(st.insurance_changed[person], city.start),
    }
    present = st.appeared[person] & insured
    key = text.join(id_number, KEY_SEPARATOR, type_code)
    district = _district_of_units(city, st.unit)[person]
    return _table(columns, present, key, f.index[person], district, st.insurance_changed[person],
                  row=f.index[person] * types + kind)


# ---------------------------------------------------------------------------- grid


def actual_population(ctx: PersonContext, cut: int) -> pa.Table:
    city, f, st = ctx.city, ctx.frame, ctx.state(cut)
    layout, housing = city.layout, city.housing
    building = layout.building_of_unit(st.unit)
    street = layout.street_of_building(building)
    columns = {
        "id_no": f.id_number, "name": f.name, "phone": f.phone, "unit_code": housing.unit_codes(st.unit),
        "street_code": text.pick(housing.street_code_text, street),
        "grid_code": text.join(text.pick(housing.street_code_text, street), text.integers(layout.grid_of_building(building), 3)),
        "residence_type": text.pick(RESIDENCE_TYPES, f.residence_type),
        "collected_at": text.timestamps(st.collected, city.start, iso_offset=True),
    }
    return _table(columns, st.present, f.id_number, f.index, layout.street_district[street], st.grid_changed)


def grid_event(ctx: GridEventContext, cut: int) -> pa.Table:
    city, f = ctx.city, ctx.frame
    layout, housing = city.layout, city.housing
    at = cut_seconds(cut)
    street = layout.street_of_building(f.building)
    closed = f.closed < at
    day = f.reported // DAY_SECONDS
    event_id = text.join("SJ", text.dates(city.start_day + day).cast(pa.string()), text.integers(f.rank + 1, 6))
    event_id = pc.replace_substring(event_id, "-", "")
    lng, lat = housing.place_near_building(f.building, f.index)
    columns = {
        "event_id": event_id, "event_type": text.pick([t for t, _ in vocab.GRID_EVENT_TYPES], f.kind),
        "street_code": text.pick(housing.street_code_text, street),
        "grid_code": text.join(text.pick(housing.street_code_text, street), text.integers(layout.grid_of_building(f.building), 3)),
        "reported_at": text.timestamps(f.reported, city.start, iso_offset=True),
        "closed_at": text.nulls_where(text.timestamps(f.closed, city.start, iso_offset=True), ~closed),
        "status": pa.array(np.where(closed, "已办结", "处置中")),
        "lng": text.fixed(lng, 6), "lat": text.fixed(lat, 6),
        "changed_at": text.timestamps(np.where(closed, f.closed, f.reported), city.start, iso_offset=True),
    }
    present = f.reported < at
    return _table(columns, present, event_id, f.index, layout.street_district[street], np.where(closed, f.closed, f.reported))


# ---------------------------------------------------------------------------- health


def birth_certified(city: SyntheticCity, f: PersonFrame) -> np.ndarray:
    """Persons whose birth certificate health delivers: registered residents born in the last ten years."""
    return (f.residence_type == LOCAL) & (f.birth_day >= city.start_day - 10 * 365)


def vital_event(ctx: PersonContext, cut: int) -> pa.Table:
    city, f, st = ctx.city, ctx.frame, ctx.state(cut)
    n = len(f)
    start_day = city.start_day
    births_certified = birth_certified(city, f)
    died = ~st.alive & st.appeared
    death_day = f.event_day["death"]
    death_seconds = f.event_seconds["death"]
    district = _district_of_units(city, f.unit0)
    birth_changed = np.where(f.appear_day >= 0, f.appear_seconds + 2 * 3600,
                             (f.birth_day - start_day + 1) * DAY_SECONDS + 8 * 3600
                             + city.rand.integers("birth-certificate.time", 9 * 3600, f.index))
    death_changed = death_seconds + 3 * 3600
    hospital = text.pick([vocab.HOSPITALS[d.code] for d in city.layout.districts], district)
    street = city.layout.street_of_building(city.layout.building_of_unit(st.unit))
    clinic = text.join(text.pick(city.housing.street_name, street),
                       pa.array(np.where(city.layout.street_codes[street] % 1000 < 100, "社区卫生服务中心", "卫生院")))
    at_hospital = city.rand.uniform("death.place", f.index) < 0.4
    numbers = Permutation(10 ** 9, city.seed, "certificate")
    both = np.concatenate
    columns = {
        "ZMBH": pa.concat_arrays([text.join("Q", text.integers(numbers.forward(2 * f.index), 9)),
                                  text.join("S", text.integers(numbers.forward(2 * f.index + 1), 9))]),
        "ZJHM": pa.concat_arrays([f.id_number, f.id_number]), "XM": pa.concat_arrays([f.name, f.name]),
        "SJLX": pa.array(["出生"] * n + ["死亡"] * n, pa.string()),
        "SJRQ": text.dates(both([f.birth_day, start_day + np.where(death_day == NO_DAY, 0, death_day)])),
        "JGMC": pa.concat_arrays([hospital, pc.if_else(pa.array(at_hospital), hospital, clinic)]),
        "BGSJ": text.timestamps(both([birth_changed, death_changed]), city.start),
    }
    present = both([st.appeared & births_certified, died])
    return _table(columns, present, columns["ZMBH"], both([f.index, f.index]), both([district, district]),
                  both([birth_changed, death_changed]), row=both([2 * f.index, 2 * f.index + 1]))


# ---------------------------------------------------------------------------- amr


def enterprise_registration(ctx: EnterpriseContext, cut: int) -> pa.Table:
    city, f = ctx.city, ctx.frame
    ent = city.enterprises
    rep_id, rep_name = ctx.legal_rep
    updated = ent.updated_at(f, cut)
    columns = {
        "uscc": f.uscc, "ent_name": f.name, "legal_rep_name": rep_name, "legal_rep_id": rep_id,
        "industry_code": f.industry, "reg_capital": text.fixed(ent.capital_at(f, cut), 4),
        "est_date": text.dates(f.est_day), "status": text.pick([s for s, _ in vocab.ENTERPRISE_STATUS], ent.status_at(f, cut)),
        "reg_district": text.integers(city.layout.district_codes[f.district]), "address": f.address,
        "updated_at": text.timestamps(updated, city.start),
    }
    return _table(columns, ent.present(f, cut), f.uscc, f.index, f.district, updated)


def administrative_license(ctx: LicenseContext, cut: int) -> pa.Table:
    city, f = ctx.city, ctx.frame
    uscc, name, district = city.enterprises.identity(f.enterprise)
    year = (f.decision_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    abbreviation = text.pick([vocab.AUTHORITY_ABBREVIATIONS[d.code] for d in city.layout.districts], district)
    case_no = text.join(abbreviation, "市监许〔", text.integers(year), "〕", text.integers(f.index + 1), "号")
    prefixes = [p for _, p, _, _ in vocab.LICENSES]
    license_no = text.join(text.pick(prefixes, f.kind), text.integers(city.layout.district_codes[district]),
                           text.integers(f.index + 1, 7))
    changed = city.licences.changed_at(f, cut)
    columns = {
        "case_no": case_no, "uscc": uscc, "party_name": name, "license_name": text.pick([n for n, *_ in vocab.LICENSES], f.kind),
        "license_no": license_no, "decision_date": text.dates(f.decision_day), "valid_from": text.dates(f.decision_day),
        "valid_to": text.dates(city.licences.valid_to_at(f, cut)), "authority": authority_names(city.layout, district),
        "changed_at": text.timestamps(changed, city.start),
    }
    present = f.exists & ((f.appear_day < 0) | (f.appear_day < cut))
    return _table(columns, present, case_no, f.index, district, changed)


def administrative_penalty(ctx: PenaltyContext, cut: int) -> pa.Table:
    city, f = ctx.city, ctx.frame
    uscc, name, district = city.enterprises.identity(f.enterprise)
    year = (f.decision_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    abbreviation = text.pick([vocab.AUTHORITY_ABBREVIATIONS[d.code] for d in city.layout.districts], district)
    case_no = text.join(abbreviation, "市监罚〔", text.integers(year), "〕", text.integers(f.index + 1), "号")
    columns = {
        "case_no": case_no, "uscc": uscc, "party_name": name, "violation": text.pick(vocab.VIOLATIONS, f.violation),
        "penalty_type": text.pick([p for p, _, _ in vocab.PENALTIES], f.kind),
        "amount": text.nulls_where(text.fixed(np.nan_to_num(f.amount), 2), np.isnan(f.amount)),
        "decision_date": text.dates(f.decision_day), "authority": authority_names(city.layout, district),
        "changed_at": text.timestamps(f.changed, city.start),
    }
    present = (f.appear_day < 0) | (f.appear_day < cut)
    return _table(columns, present, case_no, f.index, district, f.changed)


# ---------------------------------------------------------------------------- hcb


def building(ctx: BuildingContext, cut: int) -> pa.Table:
    city, b = ctx.city, ctx.buildings
    columns = {
        "LDBM": b.code, "LDMC": b.name, "XZQH": text.integers(city.layout.district_codes[b.district]),
        "JDBM": text.pick(city.housing.street_code_text, b.street), "DZ": b.address, "JZNF": text.integers(b.year_built),
        "DSCS": text.integers(b.floors), "JZMJ": text.fixed(b.floor_area, 2), "LNG": text.fixed(b.lng, 6),
        "LAT": text.fixed(b.lat, 6),
    }
    n = len(b.index)
    return _table(columns, np.ones(n, bool), b.code, b.index, b.district, np.full(n, -DAY_SECONDS))


def housing_unit(ctx: UnitContext, cut: int) -> pa.Table:
    city, unit = ctx.city, ctx.unit
    housing = city.housing
    columns = {
        "FWBM": ctx.codes, "LDBM": housing.building_codes(city.layout.building_of_unit(unit)),
        "SH": housing.room_numbers(unit), "JZMJ": text.fixed(housing.unit_areas(unit), 2), "FWYT": housing.unit_uses(unit),
    }
    n = len(unit)
    return _table(columns, np.ones(n, bool), ctx.codes, unit, _district_of_units(city, unit), np.full(n, -DAY_SECONDS))


def property_registration(ctx: UnitContext, cut: int) -> pa.Table:
    city, unit = ctx.city, ctx.unit
    is_person, owner, registered, changed = city.properties.at(ctx.frame, cut)
    person_id, person_name = city.population.identity(np.where(is_person, owner, 0))
    ent_uscc, ent_name, _ = city.enterprises.identity(np.where(is_person, 0, owner))
    mask = pa.array(is_person)
    number = city.housing.property_unit_numbers(unit)
    columns = {
        "BDCDYH": number, "FWBM": ctx.codes, "QLR_ZJHM": pc.if_else(mask, person_id, ent_uscc),
        "QLRMC": pc.if_else(mask, person_name, ent_name), "DJRQ": text.dates(registered),
        "QLZT": pa.array(np.full(len(unit), "现势")), "BGSJ": text.timestamps(changed, city.start),
    }
    return _table(columns, np.ones(len(unit), bool), number, unit, _district_of_units(city, unit), changed)


# ---------------------------------------------------------------------------- nrp


def street(ctx: StreetContext, cut: int) -> pa.Table:
    city = ctx.city
    streets = [city.layout.streets[i] for i in ctx.index]
    codes = pa.array([s.code for s in streets], pa.string())
    columns = {
        "street_code": codes, "street_name": pa.array([s.name for s in streets], pa.string()),
        "district_code": pa.array([s.code[:6] for s in streets], pa.string()),
        "area_km2": text.fixed(np.array([s.area_km2 for s in streets]), 2),
        "lng": text.fixed(np.array([s.lng for s in streets]), 6), "lat": text.fixed(np.array([s.lat for s in streets]), 6),
    }
    n = len(streets)
    return _table(columns, np.ones(n, bool), codes, ctx.index, city.layout.street_district[ctx.index],
                  np.full(n, -DAY_SECONDS))


# ---------------------------------------------------------------------------- tax


def tax_payment(ctx: EnterpriseContext, window: tuple[int, int], cut: int, full: bool) -> pa.Table:
    """Declarations filed (or corrected) in the window; not potential rows: tax builds I/U directly."""
    city = ctx.city
    rows = city.tax.rows(ctx.frame, window, cut, full)
    position = np.searchsorted(ctx.frame.index, rows.enterprise)
    uscc = ctx.frame.uscc.take(pa.array(position, pa.int64()))
    period = text.integers(rows.period)
    columns = {
        "NSRSBH": uscc, "NSRMC": ctx.frame.name.take(pa.array(position, pa.int64())), "SSQ": period,
        "YNSE": text.fixed(rows.payable, 2), "YJSE": text.fixed(rows.paid, 2),
        "QSE": text.fixed(rows.payable - rows.paid, 2),
        "CZLX": pa.array(rows.operation.astype(str), pa.string()),
        "GXSJ": text.timestamps(rows.changed, city.start),
    }
    key = text.join(uscc, KEY_SEPARATOR, period)
    return _table(columns, np.ones(len(rows.enterprise), bool), key, rows.enterprise, ctx.frame.district[position],
                  rows.changed, row=rows.enterprise * 1_000_000 + rows.period)


@dataclass(frozen=True)
class Builder:
    family: str
    rows: Callable
    potential_rows: bool = True     # False: builds change rows itself (tax)


BUILDERS: dict[str, Builder] = {
    "psb.household_registration": Builder("person", household_registration),
    "psb.residence_permit": Builder("person", residence_permit),
    "hrss.social_insurance": Builder("person", social_insurance),
    "grid.actual_population": Builder("person", actual_population),
    "health.vital_event": Builder("person", vital_event),
    "grid.event": Builder("grid_event", grid_event),
    "amr.enterprise_registration": Builder("enterprise", enterprise_registration),
    "amr.administrative_license": Builder("license", administrative_license),
    "amr.administrative_penalty": Builder("penalty", administrative_penalty),
    "tax.tax_payment": Builder("enterprise", tax_payment, potential_rows=False),
    "hcb.building": Builder("building", building),
    "hcb.housing_unit": Builder("unit", housing_unit),
    "hcb.property_registration": Builder("unit", property_registration),
    "nrp.street": Builder("street", street),
}


def _with_conflicts(code: str, rows: Callable) -> Callable:
    """The builder's rows with the city's cross-department conflicts in them (when it has any)."""
    def build(ctx, *args):
        table = rows(ctx, *args)
        plan = ctx.city.conflicts
        if plan is None:
            return table
        # potential rows take (ctx, cut); tax takes (ctx, window, cut, full)
        cut, full = (args[0], True) if len(args) == 1 else (args[1], args[2])
        return plan.apply(code, ctx, table, cut, full)
    return build


BUILDERS = {code: Builder(b.family, _with_conflicts(code, b.rows), b.potential_rows) for code, b in BUILDERS.items()}


def builder_for(resource: Resource) -> Builder:
    try:
        return BUILDERS[resource.qualified_code]
    except KeyError:
        raise KeyError(f"the synthetic city has no generator for {resource.qualified_code}") from None


# ---------------------------------------------------------------------------- changes


def present_rows(table: pa.Table) -> pa.Table:
    return table.filter(table.column("_present"))


def changes(before: pa.Table, after: pa.Table, resource: Resource) -> tuple[pa.Table, pa.Table]:
    """Rows that changed between two cuts (aligned potential rows) with their operation, ordered by
    change time; and, for the updated rows, the superseded versions (material for late rows)."""
    op_column, time_column = resource.operation_column, resource.change_time_column
    was, now = before.column("_present").to_numpy(zero_copy_only=False), after.column("_present").to_numpy(zero_copy_only=False)
    # the change time counts: a grid worker's re-visit changes nothing but the time of collection
    compared = [c for c in after.column_names if not c.startswith("_") and c != op_column]
    differs = np.zeros(after.num_rows, dtype=bool)
    for name in compared:
        equal = pc.fill_null(pc.equal(before.column(name), after.column(name)), False).to_numpy(zero_copy_only=False)
        both_null = (pc.is_null(before.column(name)).to_numpy(zero_copy_only=False)
                     & pc.is_null(after.column(name)).to_numpy(zero_copy_only=False))
        differs |= ~(equal | both_null)
    inserted, deleted, updated = now & ~was, was & ~now, now & was & differs
    # a delete carries the last known values and the time of the change that removed the row
    deleted_rows = before.filter(pa.array(deleted))
    if time_column is not None and deleted_rows.num_rows:
        position = deleted_rows.schema.get_field_index(time_column)
        deleted_rows = deleted_rows.set_column(position, time_column, after.column(time_column).filter(pa.array(deleted)))
        deleted_rows = deleted_rows.set_column(deleted_rows.schema.get_field_index("_changed"), "_changed",
                                               after.column("_changed").filter(pa.array(deleted)))
    parts = [(after.filter(pa.array(inserted)), "I"), (after.filter(pa.array(updated)), "U"), (deleted_rows, "D")]
    tables = [t.append_column(op_column, pa.array([op] * t.num_rows, pa.string())) for t, op in parts]
    rows = pa.concat_tables(tables)
    rows = rows.take(pa.array(np.argsort(rows.column("_changed").to_numpy(), kind="stable")))
    superseded = before.filter(pa.array(updated))
    if time_column is not None:
        superseded = superseded.append_column("_newer", after.column(time_column).filter(pa.array(updated)))
    return rows, superseded


def order_columns(table: pa.Table, resource: Resource, mode: str) -> pa.Table:
    """The catalog's columns in catalog order (no operation column in full extracts), then metadata."""
    names = [c.source for c in resource.columns
             if not (mode == "full" and c.source == resource.operation_column) and c.source in table.column_names]
    return table.select(names + [c for c in META_COLUMNS if c in table.column_names])
