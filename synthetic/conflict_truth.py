"""The ground truth of cross-department conflicts: every disagreement between departments that the
deliveries hold once every package is applied - the injected ones and any the generator's own
timing or logic makes - one row per source record (truth/conflicts.parquet).

It is found the way a lake would find it, from the rows as delivered: each resource's rows at its
final cut (conflicts.py applied, row faults not: rows of a conflict carry none that matter), one
chunk of entities at a time. Person resources are aligned by person, so a chunk compares them
among themselves; owners of property and legal representatives are looked up in the registers
as a set of persons, employers in enterprise registration as a set of enterprises.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from synthetic import vocab
from synthetic.conflicts import (AMR, CONFLICTS_SCHEMA, DEREGISTERED, GRID, HEALTH, HRSS, PERMIT, PROPERTY,
                                          PSB, TAX, UNIT, ConflictPlan)
from synthetic.population import INSURANCE_STATUS
from synthetic.resources import (EnterpriseContext, PersonContext, UnitContext, builder_for, cut_seconds,
                                          present_rows)

ACTIVE = INSURANCE_STATUS[0]
_STATUS_NAMES = np.array([s for s, _ in vocab.ENTERPRISE_STATUS], dtype=object)


class _Collector:
    """Conflict rows gathered as column arrays (scalars are broadcast)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, mask: np.ndarray, **columns) -> None:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        part = {}
        for name in CONFLICTS_SCHEMA.names:
            value = columns[name]
            part[name] = (np.asarray(value, dtype=object)[rows] if isinstance(value, (np.ndarray, list))
                          else np.full(rows.size, value, dtype=object))
        self.parts.append(part)

    def table(self) -> pa.Table:
        if not self.parts:
            return CONFLICTS_SCHEMA.empty_table()
        return pa.table({name: pa.array(np.concatenate([p[name] for p in self.parts]).tolist(), pa.string())
                         for name in CONFLICTS_SCHEMA.names}, schema=CONFLICTS_SCHEMA)


def _values(table: pa.Table, column: str) -> np.ndarray:
    return np.asarray(table.column(column).to_pylist(), dtype=object)


def _positions(index: np.ndarray, table: pa.Table) -> np.ndarray:
    return np.searchsorted(index, table.column("_entity").to_numpy())


def _final_rows(plan: ConflictPlan, code: str, ctx) -> pa.Table:
    department, name = code.split(".")
    builder = builder_for(plan.city.catalog.resource(department, name))
    cut = plan.cuts[code]
    if builder.potential_rows:
        return present_rows(builder.rows(ctx, cut))
    return builder.rows(ctx, (-(1 << 62), cut_seconds(cut)), cut, True)


def _registers(plan: ConflictPlan, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(persons, owner resource, name) of each distinct person from the registers' final rows
    (None where no register holds the person: overseas residents, migrants who left)."""
    unique = np.unique(np.asarray(persons, dtype=np.int64))
    source = np.full(unique.size, None, dtype=object)
    name = np.full(unique.size, None, dtype=object)
    if unique.size == 0:
        return unique, source, name
    ctx = PersonContext(plan.city, unique)
    for code in (PSB, PERMIT):
        rows = _final_rows(plan, code, ctx)
        at = _positions(unique, rows)
        source[at], name[at] = code, _values(rows, "XM")
    return unique, source, name


def _lookup(unique: np.ndarray, values: np.ndarray, persons: np.ndarray) -> np.ndarray:
    return values[np.searchsorted(unique, persons)] if unique.size else np.full(len(persons), None, dtype=object)


def person_conflicts(plan: ConflictPlan, ctx: PersonContext) -> pa.Table:
    """Conflicts of a chunk of persons: names, birth dates, deaths, insurance, residence units."""
    city, f, cuts = plan.city, ctx.frame, plan.cuts
    draws = plan.person_draws(ctx)
    out = _Collector()
    n = len(f)
    ids = np.asarray(f.id_number.to_pylist(), dtype=object)
    owner = np.full(n, None, dtype=object)
    owner_name, owner_birth, owner_status = (np.full(n, None, dtype=object) for _ in range(3))
    for code in (PSB, PERMIT):
        rows = _final_rows(plan, code, ctx)
        at = _positions(f.index, rows)
        owner[at], owner_name[at] = code, _values(rows, "XM")
        if code == PSB:
            owner_birth[at], owner_status[at] = _values(rows, "CSRQ"), _values(rows, "RYZT")
    death = f.event_day["death"]
    tables = {code: _final_rows(plan, code, ctx) for code in (HRSS, GRID, HEALTH)}
    for code, column in ((HRSS, "姓名"), (GRID, "name"), (HEALTH, "XM")):
        rows = tables[code]
        at = _positions(f.index, rows)
        names = _values(rows, column)
        out.add((owner[at] != None) & (names != owner_name[at]), entity="person", key=ids[at],  # noqa: E711
                kind="name_mismatch", attribute="name", source_a=owner[at], value_a=owner_name[at], source_b=code,
                value_b=names, cause=np.where(draws.name[code][at], "injected", "generator"),
                record=_values(rows, "_key"))
    health = tables[HEALTH]
    at = _positions(f.index, health)
    event, event_date, certificate = _values(health, "SJLX"), _values(health, "SJRQ"), _values(health, "ZMBH")
    birth = (event == "出生") & (owner[at] == PSB)
    out.add(birth & (event_date != owner_birth[at]), entity="person", key=ids[at], kind="birth_date_mismatch",
            attribute="birth_date", source_a=PSB, value_a=owner_birth[at], source_b=HEALTH, value_b=event_date,
            cause=np.where(draws.birth_shift[at] > 0, "injected", "generator"), record=certificate)
    dead = event == "死亡"
    lagging = np.where(death[at] >= cuts[PSB], "lag", "generator")
    out.add(dead & (owner[at] == PSB) & (owner_status[at] == "0"), entity="person", key=ids[at],
            kind="deceased_not_registered", attribute="status", source_a=PSB, value_a=owner_status[at],
            source_b=HEALTH, value_b=event, cause=np.where(draws.unregistered_death[at], "injected", lagging),
            record=certificate)
    dead_in_health = np.zeros(n, dtype=bool)
    dead_in_health[at[dead]] = True
    _insurance_conflicts(plan, ctx, tables[HRSS], ids, dead_in_health, out)
    grid = tables[GRID]
    at = _positions(f.index, grid)
    units = _values(grid, "unit_code")
    real = np.asarray(city.housing.unit_codes(ctx.state(cuts[GRID]).unit[at]).to_pylist(), dtype=object)
    # every real unit is in each housing-unit extract (residential ones are never quarantined)
    out.add(units != real, entity="person", key=ids[at], kind="unknown_residence_unit", attribute="unit_code",
            source_a=UNIT, value_a=None, source_b=GRID, value_b=units,
            cause=np.where(draws.phantom_unit[at] > 0, "injected", "generator"), record=_values(grid, "_key"))
    return out.table()


def _insurance_conflicts(plan: ConflictPlan, ctx: PersonContext, hrss: pa.Table, ids: np.ndarray,
                         dead_in_health: np.ndarray, out: _Collector) -> None:
    f, cuts = ctx.frame, plan.cuts
    draws = plan.person_draws(ctx)
    at = _positions(f.index, hrss)
    active = _values(hrss, "参保状态") == ACTIVE
    record = _values(hrss, "_key")
    death = f.event_day["death"][at]
    lagging = np.where(death >= cuts[HRSS], "lag", "generator")
    out.add(active & dead_in_health[at], entity="person", key=ids[at], kind="insured_after_death",
            attribute="insurance_status", source_a=HEALTH, value_a="死亡", source_b=HRSS, value_b=ACTIVE,
            cause=np.where(draws.insured_after_death[at], "injected", lagging), record=record)
    employer = np.where(draws.stale_employer[at] >= 0, draws.stale_employer[at], ctx.state(cuts[HRSS]).employer[at])
    employer_status = np.zeros(len(at), dtype=np.int64)
    registered = np.zeros(len(at), dtype=bool)
    known = employer >= 0
    if known.any():
        unique, inverse = np.unique(employer[known], return_inverse=True)
        present, status = plan.city.enterprises.registration_at(unique, cuts[AMR])
        registered[known], employer_status[known] = present[inverse], status[inverse]
    deregistered = registered & np.isin(employer_status, DEREGISTERED)
    out.add(active & deregistered, entity="person", key=ids[at], kind="employer_deregistered",
            attribute="employer_status", source_a=AMR, value_a=_STATUS_NAMES[employer_status], source_b=HRSS,
            value_b=ACTIVE, cause=np.where(draws.stale_employer[at] >= 0, "injected", "generator"), record=record)


def unit_conflicts(plan: ConflictPlan, ctx: UnitContext) -> pa.Table:
    """Names of property owners (persons) that differ from the register's."""
    out = _Collector()
    rows = _final_rows(plan, PROPERTY, ctx)
    at = _positions(ctx.unit, rows)
    is_person, owner, _, _ = plan.city.properties.at(ctx.frame, plan.cuts[PROPERTY])
    persons = owner[at][is_person[at]]
    unique, source, name = _registers(plan, persons)
    owner_source = np.full(rows.num_rows, None, dtype=object)
    owner_name = np.full(rows.num_rows, None, dtype=object)
    owner_source[is_person[at]] = _lookup(unique, source, persons)
    owner_name[is_person[at]] = _lookup(unique, name, persons)
    names = _values(rows, "QLRMC")
    _, wrong = plan._property_owners(ctx, plan.cuts[PROPERTY])
    out.add((owner_source != None) & (names != owner_name), entity="person", key=_values(rows, "QLR_ZJHM"),  # noqa: E711
            kind="name_mismatch", attribute="name", source_a=owner_source, value_a=owner_name, source_b=PROPERTY,
            value_b=names, cause=np.where(wrong[at], "injected", "generator"), record=_values(rows, "_key"))
    return out.table()


def enterprise_conflicts(plan: ConflictPlan, ctx: EnterpriseContext) -> pa.Table:
    """Taxpayer names and legal representatives' names that differ from their owners'."""
    out = _Collector()
    f = ctx.frame
    amr = _final_rows(plan, AMR, ctx)
    at = _positions(f.index, amr)
    uscc = _values(amr, "_key")
    reps = f.legal_rep[at]
    unique, source, name = _registers(plan, reps)
    rep_source, rep_name = _lookup(unique, source, reps), _lookup(unique, name, reps)
    delivered = _values(amr, "legal_rep_name")
    out.add((rep_source != None) & (delivered != rep_name), entity="enterprise", key=uscc,  # noqa: E711
            kind="legal_rep_name_mismatch", attribute="legal_rep_name", source_a=rep_source, value_a=rep_name,
            source_b=AMR, value_b=delivered, cause=np.where(plan.legal_rep_drawn(ctx)[at], "injected", "generator"),
            record=uscc)
    tax = _final_rows(plan, TAX, ctx)
    if tax.num_rows:
        latest = _latest_periods(tax)
        tax = tax.take(pa.array(latest))
        taxpayer = _positions(f.index, tax)
        registered_name = np.full(len(f.index), None, dtype=object)
        registered_name[at] = _values(amr, "ent_name")
        names = _values(tax, "NSRMC")
        owner_name = registered_name[taxpayer]
        out.add((owner_name != None) & (names != owner_name), entity="enterprise",  # noqa: E711
                key=_values(tax, "NSRSBH"), kind="taxpayer_name_mismatch", attribute="name", source_a=AMR,
                value_a=owner_name, source_b=TAX, value_b=names,
                cause=np.where(plan.taxpayer_drawn(ctx)[taxpayer], "injected", "generator"),
                record=_values(tax, "_key"))
    return out.table()


def _latest_periods(tax: pa.Table) -> np.ndarray:
    """Row positions of each taxpayer's latest tax period."""
    entity = tax.column("_entity").to_numpy()
    period = np.asarray(tax.column("SSQ").to_pylist(), dtype=np.int64)
    order = np.lexsort((-period, entity))
    first = np.ones(order.size, dtype=bool)
    first[1:] = entity[order][1:] != entity[order][:-1]
    return np.sort(order[first])


def conflict_tables(plan: ConflictPlan, chunks: dict[str, list[tuple[int, int]]]) -> Iterator[pa.Table]:
    """The conflicts of the whole city, chunk by chunk of persons, units and enterprises."""
    city = plan.city
    makers = {"person": (PersonContext, person_conflicts), "unit": (UnitContext, unit_conflicts),
              "enterprise": (EnterpriseContext, enterprise_conflicts)}
    for family, (context, conflicts) in makers.items():
        for first, last in chunks[family]:
            table = conflicts(plan, context(city, np.arange(first, last, dtype=np.int64)))
            if table.num_rows:
                yield table

