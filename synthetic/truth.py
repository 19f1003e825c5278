"""Ground truth: the city as it really is, with history, and every fault injected into deliveries.

`<out>/truth/<table>/part-NNNNN.parquet`, written chunk by chunk like the deliveries. The lake
can be scored against these: did the population library find the true persons, did the
quarantine catch the faults it should have, did the ledger hold what it should have held, does
every thematic figure come out as the truth gives it. Times are timestamp[s, Asia/Shanghai].

Entities, with history (a version per change: valid_from, valid_to null while current):
    persons/      person_key, id_number, name, gender, birth_date, ethnicity, residence_type
                  (户籍/流动/境外), status (alive/deceased/moved_out), death_date,
                  domicile_division, domicile_unit, household_no, relation_to_head (registered
                  residents only), residence_unit, residence_street, residence_division,
                  employer_uscc (while insured: 参保缴费 or 暂停缴费), insurance_types,
                  insurance_status (参保缴费/暂停缴费/终止参保; null if never insured), phone.
                  The true world, changed when things happen: social insurance, delivered
                  monthly, knows a change only from its next extract (the state at its last
                  extraction time is what it knows).
    enterprises/  uscc, name, legal_rep_id, legal_rep_name, industry_code, registered_capital_10k,
                  established_on, status, division_code, address, has_insured_staff
    units/        unit_code, building_code, room_no, floor_area_m2, use, property_unit_no,
                  owner_kind, owner_id, owner_name, registered_on
Places, as they are:
    buildings/    building_code, name, type, division_code, street_code, grid_code, address,
                  year_built, floors, floor_area_m2, lng, lat
    streets/      street_code, name, district_code, district_name, area_km2, lng, lat, buildings,
                  persons_at_start (base persons living there at the start)
Facts as their deliveries give them in the end, once every package is applied (row faults aside:
faults.parquet says which rows the lake quarantines), so that a lake that landed and integrated
the whole city holds exactly these:
    grid_events/  event_id, event_type, street_code, grid_code, reported_at, closed_at (null while
                  open at grid.event's last extract), status (已办结/处置中), lng, lat
    licences/     case_no, uscc, party_name, license_name, license_no, decision_date, valid_from,
                  valid_to (renewals in), authority - only what amr delivered before it stopped
    penalties/    case_no, uscc, party_name, violation, penalty_type, amount (decimal(18,2), null
                  without money), decision_date, authority
    tax/          uscc, tax_period (YYYYMM), payable, paid, arrears (decimal(18,2)), changed_at:
                  every declaration filed before tax's last extract, corrections in
Births and deaths are in persons/ (birth_date of persons who appear during the days, death_date).
The generator adds faults.parquet, packages.parquet, conflicts.parquet (generator.py) and
scenarios.parquet (scenario_truth.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthetic import text, vocab
from synthetic.events import NO_DAY
from synthetic.layout import BUILDING_TYPES, FEMALE
from synthetic.population import INSURANCE_STATUS, INSURANCE_TYPES, LOCAL, RELATIONS, RESIDENCE_TYPES
from synthetic import resources
from synthetic.resources import (BuildingContext, EnterpriseContext, GridEventContext, LicenseContext,
                                          PenaltyContext, PersonContext, StreetContext, UnitContext, cut_seconds)
from synthetic.world import SyntheticCity

TIMESTAMP = pa.timestamp("s", tz="Asia/Shanghai")
AMOUNT = pa.decimal128(18, 2)
GRID_EVENT, LICENCE, PENALTY, TAX = ("grid.event", "amr.administrative_license", "amr.administrative_penalty",
                                     "tax.tax_payment")
CHINA_OFFSET = 8 * 3600
PERSON_CHANGES = ["death", "emigration", "move", "job_change", "job_loss"]
# the insurance types of a person's bit mask, e.g. 5 -> "110,310"
_INSURANCE_SETS = [",".join(t for bit, t in enumerate(INSURANCE_TYPES) if mask >> bit & 1) for mask in range(16)]


class TruthWriter:
    """One Parquet file per truth table, appended chunk by chunk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(self.folder / f"{name}.parquet", table.schema, compression="zstd")
            self.rows[name] = 0
        self._writers[name].write_table(table.cast(self._writers[name].schema))
        self.rows[name] += table.num_rows

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def _timestamps(city: SyntheticCity, seconds: np.ndarray) -> pa.Array:
    base = int(np.datetime64(city.start.isoformat(), "s").astype(np.int64)) - CHINA_OFFSET
    return pa.array(np.asarray(seconds, dtype=np.int64) + base, TIMESTAMP)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    values = pa.array(np.asarray(days, dtype=np.int64).astype(np.int32), pa.date32())
    return text.nulls_where(values, missing) if missing is not None else values


def _versions(first_seconds: np.ndarray, first_cut: np.ndarray, changes: list[tuple[np.ndarray, np.ndarray]]):
    """(entity position, cut, valid_from) of every version: the first, then one per change day."""
    positions = [np.arange(len(first_seconds))]
    cuts, starts = [first_cut], [first_seconds]
    for day, seconds in changes:
        rows = np.flatnonzero(day != NO_DAY)
        positions.append(rows)
        cuts.append(day[rows] + 1)
        starts.append(seconds[rows])
    position, cut, start = np.concatenate(positions), np.concatenate(cuts), np.concatenate(starts)
    order = np.lexsort((start, cut, position))
    position, cut, start = position[order], cut[order], start[order]
    keep = np.ones(len(position), dtype=bool)
    keep[1:] = (position[1:] != position[:-1]) | (cut[1:] != cut[:-1])
    position, cut, start = position[keep], cut[keep], start[keep]
    ends = np.full(len(position), -1, dtype=np.int64)
    same = position[1:] == position[:-1]
    ends[:-1][same] = start[1:][same]
    return position, cut, start, ends


def _valid_to(city: SyntheticCity, ends: np.ndarray) -> pa.Array:
    return text.nulls_where(_timestamps(city, np.maximum(ends, 0)), ends < 0)


def person_history(ctx: PersonContext) -> pa.Table:
    """One row per person and version: who the person truly is, where they live, whom they work
    for, alive or not - valid from a time until the next version (valid_to null: current)."""
    city, frame = ctx.city, ctx.frame
    population, layout, housing = city.population, city.layout, city.housing
    first_cut = np.where(frame.appear_day == NO_DAY, 0, frame.appear_day + 1)
    first_seconds = np.where(frame.appear_day == NO_DAY, 0, frame.appear_seconds)
    # a death before the start is part of the first version, not a change
    changes = [(np.where(frame.event_day[k] < 0, NO_DAY, frame.event_day[k]), frame.event_seconds[k])
               for k in PERSON_CHANGES]
    position, cut, start, ends = _versions(first_seconds, first_cut, changes)
    parts = []
    for value in np.unique(cut):
        rows = np.flatnonzero(cut == value)
        sub = frame.take(position[rows])
        state = population.state_at(sub, int(value))
        local = sub.residence_type == LOCAL
        domicile = np.maximum(state.domicile_unit, 0)
        street = layout.street_of_building(layout.building_of_unit(state.unit))
        dom_district = layout.street_district[layout.street_of_building(layout.building_of_unit(domicile))]
        employed = (state.employer >= 0) & (state.insurance_status < 2)
        uscc, _, _ = city.enterprises.identity(np.maximum(state.employer, 0))
        types = text.pick(_INSURANCE_SETS, sub.insurance)
        status = np.where(state.status == 1, "deceased", np.where(state.status == 2, "moved_out", "alive"))
        death_day = city.start_day + sub.event_day["death"]
        parts.append(pa.table({
            "person_key": pa.array(sub.index),
            "id_number": sub.id_number,
            "name": sub.name,
            "gender": pa.array(np.where(sub.gender == FEMALE, "2", "1")),
            "birth_date": _dates(sub.birth_day),
            "ethnicity": text.integers(sub.ethnicity, 2),
            "residence_type": text.pick(RESIDENCE_TYPES, sub.residence_type),
            "status": pa.array(status),
            "death_date": _dates(death_day, ~((state.status == 1) & (sub.event_day["death"] != NO_DAY))),
            "domicile_division": text.nulls_where(text.integers(layout.district_codes[dom_district]), ~local),
            "domicile_unit": text.nulls_where(housing.unit_codes(domicile), ~local),
            "household_no": text.nulls_where(text.integers(state.household_no, 15), ~local),
            "relation_to_head": text.nulls_where(text.pick(RELATIONS, state.relation), ~local),
            "residence_unit": housing.unit_codes(state.unit),
            "residence_street": text.pick(housing.street_code_text, street),
            "residence_division": text.integers(layout.district_codes[layout.street_district[street]]),
            "employer_uscc": text.nulls_where(uscc, ~employed),
            "insurance_types": text.nulls_where(types, sub.employer0 < 0),
            "insurance_status": text.nulls_where(text.pick(INSURANCE_STATUS, state.insurance_status), sub.employer0 < 0),
            "phone": sub.phone,
            "valid_from": _timestamps(city, start[rows]),
            "valid_to": _valid_to(city, ends[rows]),
        }))
    return pa.concat_tables(parts)


def enterprise_history(ctx: EnterpriseContext) -> pa.Table:
    city, frame = ctx.city, ctx.frame
    ent = city.enterprises
    first_cut = np.where(frame.appear_day == NO_DAY, 0, frame.appear_day + 1)
    first_seconds = np.where(frame.appear_day == NO_DAY, 0, frame.updated0)
    changes = [(frame.closure_day, ent.closures.seconds(frame.index, frame.closure_day)),
               (frame.change_day, ent.changes.seconds(frame.index, frame.change_day))]
    position, cut, start, ends = _versions(first_seconds, first_cut, changes)
    rep_id, rep_name = ctx.legal_rep
    parts = []
    for value in np.unique(cut):
        rows = position[cut == value]
        take = pa.array(rows)
        status = ent.status_at(frame, int(value))[rows]
        parts.append(pa.table({
            "uscc": frame.uscc.take(take), "name": frame.name.take(take),
            "legal_rep_id": rep_id.take(take), "legal_rep_name": rep_name.take(take),
            "industry_code": frame.industry.take(take),
            "registered_capital_10k": pa.array(ent.capital_at(frame, int(value))[rows]),
            "established_on": _dates(frame.est_day[rows]),
            "status": text.pick([s for s, _ in vocab.ENTERPRISE_STATUS], status),
            "division_code": text.integers(city.layout.district_codes[frame.district[rows]]),
            "address": frame.address.take(take),
            "has_insured_staff": pa.array(frame.staffed[rows]),
            "valid_from": _timestamps(city, start[cut == value]),
            "valid_to": _valid_to(city, ends[cut == value]),
        }))
    return pa.concat_tables(parts)


def unit_history(ctx: UnitContext) -> pa.Table:
    city, unit, frame = ctx.city, ctx.unit, ctx.frame
    housing = city.housing
    first = np.zeros(len(unit), dtype=np.int64)
    position, cut, start, ends = _versions(first, first, [(frame.transfer_day, frame.transfer_seconds)])
    parts = []
    for value in np.unique(cut):
        rows = position[cut == value]
        is_person, owner, registered, _ = city.properties.at(frame, int(value))
        is_person, owner, registered = is_person[rows], owner[rows], registered[rows]
        person_id, person_name = city.population.identity(np.where(is_person, owner, 0))
        ent_uscc, ent_name, _ = city.enterprises.identity(np.where(is_person, 0, owner))
        mask = pa.array(is_person)
        units = unit[rows]
        parts.append(pa.table({
            "unit_code": ctx.codes.take(pa.array(rows)),
            "building_code": housing.building_codes(city.layout.building_of_unit(units)),
            "room_no": housing.room_numbers(units),
            "floor_area_m2": pa.array(housing.unit_areas(units)),
            "use": housing.unit_uses(units),
            "property_unit_no": housing.property_unit_numbers(units),
            "owner_kind": pa.array(np.where(is_person, "person", "enterprise")),
            "owner_id": pc.if_else(mask, person_id, ent_uscc),
            "owner_name": pc.if_else(mask, person_name, ent_name),
            "registered_on": _dates(registered),
            "valid_from": _timestamps(city, start[cut == value]),
            "valid_to": _valid_to(city, ends[cut == value]),
        }))
    return pa.concat_tables(parts)


def buildings(ctx: BuildingContext) -> pa.Table:
    city, b = ctx.city, ctx.buildings
    labels = [t.label for t in BUILDING_TYPES]
    return pa.table({
        "building_code": b.code, "name": b.name, "type": text.pick(labels, city.layout.building_type(b.index)),
        "division_code": text.integers(city.layout.district_codes[b.district]),
        "street_code": text.pick(city.housing.street_code_text, b.street), "grid_code": b.grid_code,
        "address": b.address, "year_built": pa.array(b.year_built), "floors": pa.array(b.floors),
        "floor_area_m2": pa.array(b.floor_area), "lng": pa.array(b.lng), "lat": pa.array(b.lat),
    })


def streets(ctx: StreetContext) -> pa.Table:
    city = ctx.city
    layout = city.layout
    first = layout.street_first_building
    rows = [layout.streets[i] for i in ctx.index]
    return pa.table({
        "street_code": pa.array([s.code for s in rows], pa.string()),
        "name": pa.array([s.name for s in rows], pa.string()),
        "district_code": pa.array([s.code[:6] for s in rows], pa.string()),
        "district_name": pa.array([layout.divisions.district(s.code[:6]).name for s in rows], pa.string()),
        "area_km2": pa.array([s.area_km2 for s in rows]), "lng": pa.array([s.lng for s in rows]),
        "lat": pa.array([s.lat for s in rows]),
        "buildings": pa.array(first[ctx.index + 1] - first[ctx.index]),
        "persons_at_start": pa.array(_persons_at_start(city, ctx.index)),
    })


def _persons_at_start(city: SyntheticCity, street: np.ndarray) -> np.ndarray:
    """Persons living in each street at the start: the layout's, and the households the planted
    scenarios moved in or out."""
    layout = city.layout
    persons = layout.street_first_person[street + 1] - layout.street_first_person[street]
    moved = getattr(city.scenarios, "street_persons", None)
    return persons + moved[street] if moved is not None else persons


# ---------------------------------------------------------------------------- facts as delivered


def _amounts(values: np.ndarray) -> pa.Array:
    """Yuan as the deliveries write them (two decimals), typed as the lake types them."""
    return text.fixed(values, 2).cast(AMOUNT)


def grid_events(ctx: GridEventContext) -> pa.Table:
    """One row per grid event in grid.event's final state: reported before its last extract, with
    the handling status and closing time that extract gives."""
    city, f = ctx.city, ctx.frame
    cut = city.cuts[GRID_EVENT]
    rows = resources.grid_event(ctx, cut)
    closed = f.closed < cut_seconds(cut)
    table = pa.table({
        "event_id": rows.column("event_id"), "event_type": rows.column("event_type"),
        "street_code": rows.column("street_code"), "grid_code": rows.column("grid_code"),
        "reported_at": _timestamps(city, f.reported),
        "closed_at": text.nulls_where(_timestamps(city, f.closed), ~closed),
        "status": rows.column("status"),
        "lng": rows.column("lng").cast(pa.float64()), "lat": rows.column("lat").cast(pa.float64()),
    })
    return table.filter(rows.column("_present"))


def licences(ctx: LicenseContext) -> pa.Table:
    """One row per administrative licence in amr.administrative_license's final state (renewals
    in its valid_to)."""
    city, f = ctx.city, ctx.frame
    cut = city.cuts[LICENCE]
    rows = resources.administrative_license(ctx, cut)
    table = pa.table({
        "case_no": rows.column("case_no"), "uscc": rows.column("uscc"), "party_name": rows.column("party_name"),
        "license_name": rows.column("license_name"), "license_no": rows.column("license_no"),
        "decision_date": _dates(f.decision_day), "valid_from": _dates(f.decision_day),
        "valid_to": _dates(city.licences.valid_to_at(f, cut)), "authority": rows.column("authority"),
    })
    return table.filter(rows.column("_present"))


def penalties(ctx: PenaltyContext) -> pa.Table:
    """One row per administrative penalty in amr.administrative_penalty's final state."""
    city, f = ctx.city, ctx.frame
    rows = resources.administrative_penalty(ctx, city.cuts[PENALTY])
    table = pa.table({
        "case_no": rows.column("case_no"), "uscc": rows.column("uscc"), "party_name": rows.column("party_name"),
        "violation": rows.column("violation"), "penalty_type": rows.column("penalty_type"),
        "amount": rows.column("amount").cast(AMOUNT), "decision_date": _dates(f.decision_day),
        "authority": rows.column("authority"),
    })
    return table.filter(rows.column("_present"))


def tax(ctx: EnterpriseContext) -> pa.Table:
    """One row per taxpayer and tax period in tax.tax_payment's final state: every declaration
    filed before its last extract, corrected where a correction came before it."""
    city = ctx.city
    cut = city.cuts[TAX]
    rows = city.tax.rows(ctx.frame, (-(1 << 62), cut_seconds(cut)), cut, True)
    position = pa.array(np.searchsorted(ctx.frame.index, rows.enterprise), pa.int64())
    return pa.table({
        "uscc": ctx.frame.uscc.take(position), "tax_period": text.integers(rows.period),
        "payable": _amounts(rows.payable), "paid": _amounts(rows.paid), "arrears": _amounts(rows.payable - rows.paid),
        "changed_at": _timestamps(city, rows.changed),
    })
