"""Legal entities and what market regulation and tax know about them: register, licences,
penalties, monthly tax declarations - all pure functions of the entity's index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import identity, text, vocab
from synthetic.events import DAY_SECONDS, NO_DAY, DailyCounts, EventStream
from synthetic.housing import Housing
from synthetic.layout import BUILDINGS_PER_BLOCK, CityLayout
from synthetic.model import CityModel
from synthetic.rng import Rand, cumulative

if TYPE_CHECKING:
    from synthetic.population import Population

USCC_REFORM_DAY = text.epoch_day(date(2015, 10, 1))  # organisation codes assigned as MA... from here on
_STATUS_CUM = cumulative([w for _, w in vocab.ENTERPRISE_STATUS])
_INDUSTRY_CUM = cumulative([w for *_, w in vocab.INDUSTRIES])
_FORM_CUM = cumulative([w for _, w in vocab.ORG_FORMS])
_LICENSE_CUM = cumulative([w for _, _, w, _ in vocab.LICENSES])
_PENALTY_CUM = cumulative([w for _, w, _ in vocab.PENALTIES])
_CAPITALS = np.array([10, 30, 50, 100, 200, 300, 500, 800, 1000, 2000, 3000, 5000, 10000], dtype=np.float64)
_CAPITAL_CUM = cumulative([8, 8, 14, 20, 12, 8, 10, 4, 7, 4, 2, 2, 1])
_SIZE_EXPONENT = 2.2  # employers are drawn as floor(E * u**2.2): a few large, many small


def authority_names(layout: CityLayout, district: np.ndarray) -> pa.Array:
    """市场监督管理局 of the district (urban districts under the city's name)."""
    names = []
    for d in layout.districts:
        county_level = d.name.endswith(("市", "县"))
        names.append(f"{d.name}市场监督管理局" if county_level else f"{layout.divisions.city.name}{d.name}市场监督管理局")
    return text.pick(names, district)


@dataclass
class EnterpriseFrame:
    index: np.ndarray
    uscc: pa.Array
    name: pa.Array
    industry: pa.Array
    capital: np.ndarray            # 10k yuan, at the start
    est_day: np.ndarray            # days since 1970
    status0: np.ndarray            # index into vocab.ENTERPRISE_STATUS at the start
    staffed: np.ndarray
    building: np.ndarray
    district: np.ndarray
    address: pa.Array
    legal_rep: np.ndarray          # person index
    updated0: np.ndarray           # seconds since the start (negative: before)
    closure_day: np.ndarray
    change_day: np.ndarray
    appear_day: np.ndarray         # NO_DAY for enterprises existing at the start


class Enterprises:
    def __init__(self, layout: CityLayout, housing: Housing, rand: Rand, model: CityModel, start: date,
                 days: int) -> None:
        self.layout, self.housing, self.rand, self.model = layout, housing, rand, model
        self.start, self.days = start, days
        self.start_day = text.epoch_day(start)
        self.base = max(10, round(layout.persons * model.enterprises_per_person))
        self.births = DailyCounts(self.base * model.enterprise_birth_rate / 365, days, rand, "enterprise.birth")
        self.total = self.base + self.births.total
        dormant_share = max(0.05, (1 - model.staffed_share) * 0.85)
        self.closures = EventStream("enterprise.closure", self.base, model.enterprise_closure_rate / dormant_share, days, rand)
        self.changes = EventStream("enterprise.change", self.base, model.enterprise_change_rate, days, rand)
        self.population: Population | None = None

    def bind(self, population: Population) -> None:
        """Legal representatives are persons of this population."""
        self.population = population

    # ------------------------------------------------------------------ cheap, used by others

    def status0(self, index: np.ndarray) -> np.ndarray:
        status = self.rand.weighted("enterprise.status", _STATUS_CUM, index)
        return np.where(index < self.base, status, 0)

    def active0(self, index: np.ndarray) -> np.ndarray:
        return self.status0(index) <= 1

    def staffed(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        return (index < self.base) & self.active0(index) & (self.rand.uniform("enterprise.staffed", index) < self.model.staffed_share)

    def size_factor(self, index: np.ndarray) -> np.ndarray:
        """Expected employees relative to the average staffed enterprise."""
        e = np.asarray(index, dtype=np.float64)
        n = float(self.base)
        a = 1 / _SIZE_EXPONENT
        return n * (((e + 1) / n) ** a - (e / n) ** a)

    def draw_employers(self, keys: np.ndarray, stream: str) -> np.ndarray:
        """An employer for each key (staffed enterprises, large ones more often); -1 if none found."""
        employer = np.full(len(keys), -1, dtype=np.int64)
        pending = np.arange(len(keys))
        for attempt in range(16):
            if pending.size == 0:
                break
            u = self.rand.uniform(f"{stream}#{attempt}", keys[pending])
            candidate = np.minimum((self.base * u ** _SIZE_EXPONENT).astype(np.int64), self.base - 1)
            ok = self.staffed(candidate)
            employer[pending[ok]] = candidate[ok]
            pending = pending[~ok]
        return employer

    def draw_active(self, keys: np.ndarray, stream: str) -> np.ndarray:
        """Any enterprise active at the start, uniformly (for licences, penalties, owners)."""
        chosen = np.zeros(len(keys), dtype=np.int64)
        pending = np.arange(len(keys))
        for attempt in range(16):
            if pending.size == 0:
                break
            candidate = self.rand.integers(f"{stream}#{attempt}", self.base, keys[pending])
            ok = self.active0(candidate)
            chosen[pending] = candidate
            pending = pending[~ok]
        return chosen

    def est_day(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        u = self.rand.uniform("enterprise.est", index)
        large = index < max(1, self.base // 50)
        years_ago = np.where(large, 10 + 25 * u, 0.05 + 34.95 * u ** 1.7)
        base_day = self.start_day - np.maximum(1, np.round(years_ago * 365.25)).astype(np.int64)
        new_day = self.start_day + self.births.day_of(index - self.base)
        return np.where(index < self.base, base_day, new_day)

    def identity(self, index: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """USCC, name and district of each enterprise."""
        index = np.asarray(index, dtype=np.int64)
        building = self._building(index)
        district = self.layout.street_district[self.layout.street_of_building(building)]
        est = self.est_day(index)
        organisation = identity.organisation_codes(index, est >= USCC_REFORM_DAY, self.rand.seed)
        uscc = identity.usccs(np.full(len(index), 91), self.layout.district_codes[district], organisation)
        return uscc, self._names(index, district), district

    def _building(self, index: np.ndarray) -> np.ndarray:
        in_office = self.rand.uniform("enterprise.in-office", index) < 0.5
        any_building = self.rand.integers("enterprise.building", self.layout.buildings, index)
        office = (self.rand.integers("enterprise.office", self.layout.blocks, index) * BUILDINGS_PER_BLOCK
                  + BUILDINGS_PER_BLOCK - 1)
        return np.where(in_office, office, any_building)

    def _industry(self, index: np.ndarray) -> np.ndarray:
        return self.rand.weighted("enterprise.industry", _INDUSTRY_CUM, index)

    def _names(self, index: np.ndarray, district: np.ndarray) -> pa.Array:
        rand = self.rand
        prefixes = [d.name if d.name.endswith(("市", "县")) else self.layout.divisions.city.name
                    for d in self.layout.districts]
        brand = text.join(text.pick(vocab.BRAND_CHARS, rand.integers("enterprise.brand1", len(vocab.BRAND_CHARS), index)),
                          text.pick(vocab.BRAND_CHARS, rand.integers("enterprise.brand2", len(vocab.BRAND_CHARS), index)))
        word = text.pick([w for _, _, w, _ in vocab.INDUSTRIES], self._industry(index))
        form = text.pick([f for f, _ in vocab.ORG_FORMS], rand.weighted("enterprise.form", _FORM_CUM, index))
        return text.join(text.pick(prefixes, district), brand, word, form)

    # ------------------------------------------------------------------ the full record

    def frame(self, index: np.ndarray) -> EnterpriseFrame:
        assert self.population is not None, "bind() the population first"
        index = np.asarray(index, dtype=np.int64)
        rand, layout = self.rand, self.layout
        uscc, name, district = self.identity(index)
        building = self._building(index)
        buildings = self.housing.buildings(building)
        office_room = text.join(text.integers(2 + rand.integers("enterprise.floor", 10, index)),
                                text.integers(1 + rand.integers("enterprise.room", 4, index), 2), "室")
        is_office = layout.building_type(building) == BUILDINGS_PER_BLOCK - 1
        address = pc.if_else(pa.array(is_office), text.join(buildings.address, office_room), buildings.address)
        est = self.est_day(index)
        capital = _CAPITALS[rand.weighted("enterprise.capital", _CAPITAL_CUM, index)]
        capital = np.where(index < max(1, self.base // 50), capital * 10, capital)
        status0 = self.status0(index)
        staffed = self.staffed(index)
        legal_rep = self.population.draw_adults(index, "enterprise.legal-rep")
        span = np.maximum(1, (self.start_day - est) * DAY_SECONDS)
        updated0 = -(rand.integers("enterprise.updated", span, index) + 3600)
        updated0 = np.maximum(updated0, (est - self.start_day) * DAY_SECONDS + 9 * 3600)
        base = index < self.base
        active0 = status0 <= 1
        closure = self._closure_day(index, status0, staffed)
        change = np.where(base & active0, self.changes.day_of(np.where(base, index, 0)), NO_DAY)
        appear = np.where(base, NO_DAY, self.births.day_of(index - self.base))
        updated0 = np.where(base, updated0, appear * DAY_SECONDS + 9 * 3600 + rand.integers("enterprise.reg-time", 8 * 3600, index))
        return EnterpriseFrame(index, uscc, name, text.pick([c for c, *_ in vocab.INDUSTRIES], self._industry(index)),
                               capital, est, status0, staffed, building, district, address, legal_rep, updated0,
                               closure, change, appear)

    def _closure_day(self, index: np.ndarray, status0: np.ndarray, staffed: np.ndarray) -> np.ndarray:
        # only enterprises without insured staff close: no employee is left insured with a closed one
        base = index < self.base
        return np.where(base & (status0 <= 1) & ~staffed, self.closures.day_of(np.where(base, index, 0)), NO_DAY)

    def registration_at(self, index: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
        """Registered by the cut?, and the status (index into vocab.ENTERPRISE_STATUS), without the
        whole record (for the employers of insured persons)."""
        index = np.asarray(index, dtype=np.int64)
        status0 = self.status0(index)
        closure = self._closure_day(index, status0, self.staffed(index))
        closed = (closure != NO_DAY) & (closure < cut)
        appear = np.where(index < self.base, NO_DAY, self.births.day_of(index - self.base))
        return (appear == NO_DAY) | (appear < cut), np.where(closed, 2, status0)

    def present(self, frame: EnterpriseFrame, cut: int) -> np.ndarray:
        """Registered by the cut (cut = round number: events of days < cut are in)."""
        return (frame.appear_day == NO_DAY) | (frame.appear_day < cut)

    def status_at(self, frame: EnterpriseFrame, cut: int) -> np.ndarray:
        closed = (frame.closure_day != NO_DAY) & (frame.closure_day < cut)
        return np.where(closed, 2, frame.status0)

    def capital_at(self, frame: EnterpriseFrame, cut: int) -> np.ndarray:
        changed = (frame.change_day != NO_DAY) & (frame.change_day < cut)
        return np.where(changed, frame.capital * 2, frame.capital)

    def updated_at(self, frame: EnterpriseFrame, cut: int) -> np.ndarray:
        updated = frame.updated0.copy()
        for stream, day in ((self.closures, frame.closure_day), (self.changes, frame.change_day)):
            happened = (day != NO_DAY) & (day < cut)
            updated = np.where(happened, np.maximum(updated, stream.seconds(frame.index, day)), updated)
        return updated


# ---------------------------------------------------------------------------- licences


@dataclass
class LicenseFrame:
    index: np.ndarray
    exists: np.ndarray
    enterprise: np.ndarray
    kind: np.ndarray
    decision_day: np.ndarray
    valid_to_day: np.ndarray
    changed0: np.ndarray
    renewal_day: np.ndarray
    appear_day: np.ndarray


class Licences:
    SLOTS = 2  # licence slots per enterprise in the history
    SLOT_SHARE = (0.55, 0.25)

    def __init__(self, enterprises: Enterprises, rand: Rand, model: CityModel, days: int) -> None:
        self.enterprises, self.rand = enterprises, rand
        self.base = enterprises.base * self.SLOTS
        self.new = DailyCounts(enterprises.base * model.license_rate / 365, days, rand, "license.new")
        self.total = self.base + self.new.total
        self.renewals = EventStream("license.renewal", self.base, model.license_renewal_rate, days, rand)
        self.start_day = enterprises.start_day

    def frame(self, index: np.ndarray) -> LicenseFrame:
        index = np.asarray(index, dtype=np.int64)
        rand, ent = self.rand, self.enterprises
        base = index < self.base
        enterprise = np.where(base, index // self.SLOTS, ent.draw_active(index, "license.enterprise"))
        est = ent.est_day(enterprise)
        share = np.where(index % self.SLOTS == 0, self.SLOT_SHARE[0], self.SLOT_SHARE[1])
        exists = ~base | ((rand.uniform("license.exists", index) < share) & (est < self.start_day - 30))
        earliest = np.maximum(est + 30, self.start_day - 6 * 365)
        span = np.maximum(1, self.start_day - earliest)
        appear = np.where(base, NO_DAY, self.new.day_of(index - self.base))
        decision = np.where(base, earliest + rand.integers("license.decided", span, index), self.start_day + appear)
        kind = rand.weighted("license.kind", _LICENSE_CUM, index)
        years = np.array([y for *_, y in vocab.LICENSES])[kind]
        valid_to = decision + years * 365 - 1
        changed0 = (decision - self.start_day) * DAY_SECONDS + 9 * 3600 + rand.integers("license.time", 8 * 3600, index)
        renewal = np.where(base & exists, self.renewals.day_of(np.where(base, index, 0)), NO_DAY)
        return LicenseFrame(index, exists, enterprise, kind, decision, valid_to, changed0, renewal, appear)

    def valid_to_at(self, frame: LicenseFrame, cut: int) -> np.ndarray:
        renewed = (frame.renewal_day != NO_DAY) & (frame.renewal_day < cut)
        years = np.array([y for *_, y in vocab.LICENSES])[frame.kind]
        return np.where(renewed, frame.valid_to_day + years * 365, frame.valid_to_day)

    def changed_at(self, frame: LicenseFrame, cut: int) -> np.ndarray:
        renewed = (frame.renewal_day != NO_DAY) & (frame.renewal_day < cut)
        return np.where(renewed, self.renewals.seconds(frame.index, frame.renewal_day), frame.changed0)


# ---------------------------------------------------------------------------- penalties


@dataclass
class PenaltyFrame:
    index: np.ndarray
    enterprise: np.ndarray
    kind: np.ndarray
    amount: np.ndarray             # yuan, NaN when no money is involved
    violation: np.ndarray
    decision_day: np.ndarray
    changed: np.ndarray
    appear_day: np.ndarray


class Penalties:
    HISTORY_YEARS = 3

    def __init__(self, enterprises: Enterprises, rand: Rand, model: CityModel, days: int) -> None:
        self.enterprises, self.rand = enterprises, rand
        self.base = round(enterprises.base * model.penalty_rate * self.HISTORY_YEARS)
        self.new = DailyCounts(enterprises.base * model.penalty_rate / 365, days, rand, "penalty.new")
        self.total = self.base + self.new.total
        self.start_day = enterprises.start_day

    def frame(self, index: np.ndarray) -> PenaltyFrame:
        index = np.asarray(index, dtype=np.int64)
        rand = self.rand
        base = index < self.base
        enterprise = self.enterprises.draw_active(index, "penalty.enterprise")
        appear = np.where(base, NO_DAY, self.new.day_of(index - self.base))
        decision = np.where(base, self.start_day - 1 - rand.integers("penalty.decided", self.HISTORY_YEARS * 365, index),
                            self.start_day + appear)
        kind = rand.weighted("penalty.kind", _PENALTY_CUM, index)
        low = np.array([r[0] if r else np.nan for *_, r in vocab.PENALTIES])[kind]
        high = np.array([r[1] if r else np.nan for *_, r in vocab.PENALTIES])[kind]
        amount = np.round(low * (high / low) ** rand.uniform("penalty.amount", index), -2)
        violation = rand.integers("penalty.violation", len(vocab.VIOLATIONS), index)
        changed = (decision - self.start_day) * DAY_SECONDS + 10 * 3600 + rand.integers("penalty.time", 7 * 3600, index)
        return PenaltyFrame(index, enterprise, kind, amount, violation, decision, changed, appear)


# ---------------------------------------------------------------------------- tax


@dataclass
class TaxRows:
    enterprise: np.ndarray
    period: np.ndarray             # YYYYMM
    payable: np.ndarray
    paid: np.ndarray
    changed: np.ndarray            # seconds since the start
    operation: np.ndarray          # "I" first declaration, "U" correction


class TaxDeclarations:
    """Monthly declarations, filed in the first half of the next month (some late), a few corrected."""

    def __init__(self, enterprises: Enterprises, rand: Rand, model: CityModel, start: date) -> None:
        self.enterprises, self.rand, self.model, self.start = enterprises, rand, model, start
        # planted distress (scenarios.py): these enterprises (sorted) pay only part of the tax of
        # the periods from month index `arrears_from` (year*12 + month-1) on
        self.distressed = np.empty(0, dtype=np.int64)
        self.arrears_from = 0

    @staticmethod
    def _month_index(day: date) -> int:
        return day.year * 12 + day.month - 1

    def _period_first_day(self, months: np.ndarray) -> np.ndarray:
        """Days since 1970 of the first day of month index m (year*12 + month-1)."""
        years, month0 = months // 12, months % 12
        return (np.array([f"{y:04d}-{m + 1:02d}" for y, m in zip(years, month0)], dtype="datetime64[M]")
                .astype("datetime64[D]").astype(np.int64))

    def rows(self, frame: EnterpriseFrame, window: tuple[int, int], cut: int, full: bool) -> TaxRows:
        """Declarations whose latest version falls in [window) seconds (full: everything before the
        window's end, latest version only; otherwise first filings and corrections in the window)."""
        ent, rand = self.enterprises, self.rand
        start_month = self._month_index(self.start)
        low, high = window
        # an incremental holds corrections too: up to 104 days after a period's end (a late
        # filing corrected late), so its periods reach back five months before the window
        first_month = start_month - self.model.tax_history_months if full else start_month + low // (31 * DAY_SECONDS) - 5
        last_month = start_month + high // (28 * DAY_SECONDS) + 1
        months = np.arange(first_month, last_month + 1)
        if months.size == 0 or frame.index.size == 0:
            return TaxRows(*(np.empty(0, dtype=np.int64) for _ in range(5)), np.empty(0, dtype="U1"))
        period_start = self._period_first_day(months)
        period_end = self._period_first_day(months + 1)
        e = np.repeat(np.arange(frame.index.size), months.size)
        m = np.tile(np.arange(months.size), frame.index.size)
        index = frame.index[e]
        key = index * 4096 + months[m]
        start_day = ent.start_day
        late = rand.uniform("tax.late", key) < 0.03 + 0.3 * (rand.uniform("tax.troubled", index) < self.model.troubled_share)
        filing_day = period_end[m] + np.where(late, 15 + rand.integers("tax.late-days", 30, key),
                                              rand.integers("tax.day", 15, key))
        filed = (filing_day - start_day) * DAY_SECONDS + 8 * 3600 + rand.integers("tax.time", 10 * 3600, key)
        closed = frame.closure_day[e]
        exists = ((frame.est_day[e] < period_end[m]) & (frame.status0[e] <= 1)
                  & ((closed == NO_DAY) | ((closed + start_day) >= period_start[m]))
                  & ((frame.appear_day[e] == NO_DAY) | ((frame.appear_day[e] + start_day) < period_end[m])))
        payable = self._payable(frame, e, key)
        troubled = rand.uniform("tax.troubled", index) < self.model.troubled_share
        paid = np.where(troubled, np.round(payable * rand.uniform("tax.paid-share", key) * 0.8, 2), payable)
        in_arrears = np.isin(index, self.distressed) & (months[m] >= self.arrears_from)
        paid = np.where(in_arrears, np.round(payable * (0.1 + 0.4 * rand.uniform("tax.distress-paid", key)), 2), paid)
        troubled = troubled | in_arrears
        corrected = rand.uniform("tax.corrected", key) < 0.01
        correction_time = filed + (20 + rand.integers("tax.correction-days", 40, key)) * DAY_SECONDS
        corrected_payable = np.round(payable * (0.8 + 0.4 * rand.uniform("tax.correction", key)), 2)
        if full:
            in_first = exists & (filed < high)
            use_correction = corrected & (correction_time < high)
            select = in_first
            payable = np.where(use_correction, corrected_payable, payable)
            paid = np.where(use_correction & ~troubled, payable, np.minimum(paid, payable))
            changed = np.where(use_correction, correction_time, filed)
            operation = np.full(select.sum(), "I")
            return TaxRows(index[select], self._yyyymm(months[m][select]), payable[select], paid[select],
                           changed[select], operation)
        first = exists & (filed >= low) & (filed < high)
        correction = exists & corrected & (correction_time >= low) & (correction_time < high) & (filed < correction_time)
        corrected_paid = np.where(troubled, np.minimum(paid, corrected_payable), corrected_payable)
        both = np.concatenate([np.flatnonzero(first), np.flatnonzero(correction)])
        is_correction = np.concatenate([np.zeros(first.sum(), bool), np.ones(correction.sum(), bool)])
        pay = np.where(is_correction, corrected_payable[both], payable[both])
        paid_out = np.where(is_correction, corrected_paid[both], paid[both])
        changed = np.where(is_correction, correction_time[both], filed[both])
        order = np.argsort(changed, kind="stable")
        return TaxRows(index[both][order], self._yyyymm(months[m][both][order]), pay[order], paid_out[order],
                       changed[order], np.where(is_correction, "U", "I")[order])

    def _payable(self, frame: EnterpriseFrame, e: np.ndarray, key: np.ndarray) -> np.ndarray:
        size = self.enterprises.size_factor(frame.index[e])
        typical = 1800.0 * size * np.exp(0.8 * (self.rand.uniform("tax.noise", key) - 0.5))
        return np.where(frame.staffed[e], np.round(np.maximum(typical, 35.0), 2), 0.0)

    @staticmethod
    def _yyyymm(months: np.ndarray) -> np.ndarray:
        return (months // 12) * 100 + months % 12 + 1
