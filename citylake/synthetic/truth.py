"""Ground truth: the city as it really is, with history, and every fault injected into deliveries.

`<out>/truth/*.parquet`, written chunk by chunk like the deliveries. The lake can be scored
against these: did the population library find the true persons, did the quarantine catch the
faults it should have, did the ledger hold what it should have held.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from citylake.synthetic import text, vocab
from citylake.synthetic.events import NO_DAY
from citylake.synthetic.layout import BUILDING_TYPES, FEMALE
from citylake.synthetic.population import INSURANCE_STATUS, INSURANCE_TYPES, LOCAL, RELATIONS, RESIDENCE_TYPES
from citylake.synthetic.resources import (BuildingContext, EnterpriseContext, PersonContext, StreetContext,
                                          UnitContext)
from citylake.synthetic.world import SyntheticCity

TIMESTAMP = pa.timestamp("s", tz="Asia/Shanghai")
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
        "persons_at_start": pa.array(layout.street_first_person[ctx.index + 1] - layout.street_first_person[ctx.index]),
    })
