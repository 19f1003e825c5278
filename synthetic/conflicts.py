"""Cross-department conflicts (关联比对): records one department holds differently from the
department that owns the attribute, injected at known rates, and the ground truth of every
disagreement the deliveries hold once every package is applied.

An injected conflict is persistent: the department's record is wrong in its own system, so the
wrong value is in that record in every delivery of it - the first full extract, each incremental
row and each later full extract. That is why conflicts are applied to the resources' rows as
they are built (`apply`), before a delivery is cut from them, and not as a fault of one package.
Like the row faults, every choice is a pure function of the seed and the entity's index, so a
city has the same conflicts however it is chunked.

Who owns what (一数一源): psb.household_registration owns the names, birth dates and status of
registered residents, psb.residence_permit the names of migrants; hcb.housing_unit owns the unit
codes; amr.enterprise_registration owns enterprises' names and status; health.vital_event records
deaths. The conflict kinds (entity, kind: what disagrees):

    person      name_mismatch            a name in hrss.social_insurance, grid.actual_population,
                                         health.vital_event or hcb.property_registration (person
                                         owners) differs from the register's
    person      birth_date_mismatch      a birth certificate's date differs from the register's CSRQ
    person      deceased_not_registered  health has a death, the household register still says 0
    person      insured_after_death      health has a death, a social insurance row is still 参保缴费
    person      employer_deregistered    an active insurance row's employer is 注销 or 吊销 in amr
    person      unknown_residence_unit   grid's unit_code is not a unit of hcb.housing_unit
    enterprise  taxpayer_name_mismatch   tax's NSRMC (latest period) differs from amr's ent_name
    enterprise  legal_rep_name_mismatch  amr's legal_rep_name differs from the register's name for
                                         legal_rep_id (the enterprise-side view: a legal
                                         representative's name in amr is this kind, never
                                         name_mismatch)

Rows taking part in a conflict (both sides) are protected: they get no quarantining row fault
and no fault on an identifying column, so that they reach the lake's integrated layer. So are
the rows of every deceased person and of every enterprise that is or becomes deregistered, and
the residential units of hcb.housing_unit, whose quarantine would otherwise make conflicts out
of a lost update or a lost unit.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import text, vocab
from synthetic.events import NO_DAY
from synthetic.faults import FaultRecord
from synthetic.layout import RESIDENTIAL
from synthetic.model import FaultRates
from synthetic.population import BASE, INSURANCE_STATUS, LOCAL, MIGRANT, PersonState
from synthetic.resources import KEY_SEPARATOR, EnterpriseContext, PersonContext, UnitContext, birth_certified
from synthetic.world import SyntheticCity

KINDS = ["name_mismatch", "birth_date_mismatch", "deceased_not_registered", "insured_after_death",
         "employer_deregistered", "unknown_residence_unit", "taxpayer_name_mismatch", "legal_rep_name_mismatch"]
CONFLICT_META = ["_protected", "_conflict", "_conflict_column", "_conflict_true", "_conflict_record"]
PSB, PERMIT, HRSS = "psb.household_registration", "psb.residence_permit", "hrss.social_insurance"
GRID, HEALTH, PROPERTY = "grid.actual_population", "health.vital_event", "hcb.property_registration"
UNIT, AMR, TAX = "hcb.housing_unit", "amr.enterprise_registration", "tax.tax_payment"
PERSON_RESOURCES = [PSB, PERMIT, HRSS, GRID, HEALTH]
CONFLICTS_SCHEMA = pa.schema([(name, pa.string()) for name in (
    "entity", "key", "kind", "attribute", "source_a", "value_a", "source_b", "value_b", "cause", "record")])
DEREGISTERED = (2, 3)  # 注销, 吊销 in vocab.ENTERPRISE_STATUS
_ORG_FORM_SWAPS = [("股份有限公司", "有限公司"), ("有限责任公司", "有限公司"), ("有限公司", "有限责任公司")]


# ---------------------------------------------------------------------------- wrong values


def other_name(name: str, choice: int) -> str:
    """Another plausible name for a person: a homophone or look-alike character, else another
    given-name character."""
    for position in range(len(name) - 1, -1, -1):
        if name[position] in vocab.NAME_VARIANTS:
            return name[:position] + vocab.NAME_VARIANTS[name[position]] + name[position + 1:]
    replacement = vocab.GIVEN_MALE[choice % len(vocab.GIVEN_MALE)]
    if replacement == name[-1]:
        replacement = vocab.GIVEN_FEMALE[choice % len(vocab.GIVEN_FEMALE)]
    return name[:-1] + replacement


def other_org_name(name: str, choice: int) -> str:
    """Another plausible name for an enterprise: its legal form as another register has it, else
    another brand character."""
    for suffix, replacement in _ORG_FORM_SWAPS:
        if name.endswith(suffix):
            return name[: -len(suffix)] + replacement
    brand = vocab.BRAND_CHARS[choice % len(vocab.BRAND_CHARS)]
    return name[:-1] + (brand if brand != name[-1] else vocab.BRAND_CHARS[(choice + 1) % len(vocab.BRAND_CHARS)])


def _replace(table: pa.Table, column: str, rows: np.ndarray, values: pa.Array | list) -> pa.Table:
    """The table with `values` in `column` at `rows` (ascending, as np.flatnonzero gives them)."""
    if rows.size == 0:
        return table
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    kind = table.schema.field(column).type
    replacement = values if isinstance(values, pa.Array) else pa.array(list(values), kind)
    column_values = pc.replace_with_mask(table.column(column).combine_chunks(), pa.array(mask), replacement.cast(kind))
    return table.set_column(table.schema.get_field_index(column), column, column_values)


# ---------------------------------------------------------------------------- choices per entity


@dataclass
class PersonDraws:
    """The conflicts of a set of persons (arrays aligned with the frame)."""

    name: dict[str, np.ndarray]     # resource -> its records of the person hold another name
    wrong_name: np.ndarray          # object array: the other name (where any name conflict is drawn)
    birth_shift: np.ndarray         # days the birth certificate is dated early (0: none)
    unregistered_death: np.ndarray
    insured_after_death: np.ndarray
    stale_employer: np.ndarray      # enterprise index hrss holds as employer (-1: none)
    phantom_unit: np.ndarray        # 4-digit unit number that the building does not have (0: none)
    protected: np.ndarray


class ConflictPlan:
    """Which records of a city carry which conflicts, how the rows are changed, and the truth."""

    def __init__(self, city: SyntheticCity, rates: FaultRates, cuts: dict[str, int]) -> None:
        self.city, self.rates, self.cuts = city, rates, cuts

    def _draw(self, kind: str, index: np.ndarray, rate: float, source: str = "") -> np.ndarray:
        if rate <= 0:
            return np.zeros(len(index), dtype=bool)
        return self.city.rand.uniform(f"conflict/{kind}/{source}", np.asarray(index, dtype=np.int64)) < rate

    # ------------------------------------------------------------------ persons

    def owner_drawn(self, source: str, person: np.ndarray) -> np.ndarray:
        """Persons whose name `source` (hcb as owner, amr as legal representative) holds wrong:
        registered residents only, whose register row is always there to compare with."""
        person = np.asarray(person, dtype=np.int64)
        population = self.city.population
        rate = self.rates.legal_rep_name_mismatch if source == "amr" else self.rates.name_mismatch
        base = person < population.base
        local = population.household_type(self.city.layout.residential_of_person(np.where(base, person, 0))) == LOCAL
        return self._draw("name", person, rate, source) & base & local

    def person_draws(self, ctx: PersonContext) -> PersonDraws:
        cached = getattr(ctx, "_conflict_draws", None)
        if cached is None:
            cached = self._person_draws(ctx)
            ctx._conflict_draws = cached  # type: ignore[attr-defined]
        return cached

    def _person_draws(self, ctx: PersonContext) -> PersonDraws:
        city, f, rates, cuts = self.city, ctx.frame, self.rates, self.cuts
        n = len(f)
        local, migrant = f.residence_type == LOCAL, f.residence_type == MIGRANT
        psb, permit, hrss = ctx.state(cuts[PSB]), ctx.state(cuts[PERMIT]), ctx.state(cuts[HRSS])
        grid, health = ctx.state(cuts[GRID]), ctx.state(cuts[HEALTH])
        registered = (local & psb.appeared) | (migrant & permit.present)
        insured = (f.employer0 >= 0) & hrss.appeared
        certified = birth_certified(city, f) & health.appeared
        death = f.event_day["death"]
        died = death != NO_DAY

        def died_by(cut: int) -> np.ndarray:
            return died & (death < cut)

        quiet = {k: f.event_day[k] == NO_DAY for k in ("emigration", "job_change", "job_loss", "move")}
        # one conflict per row: kinds that change the same resource's rows are drawn in turn
        insured_after_death = (self._draw("insured_after_death", f.index, rates.insured_after_death) & insured
                               & died_by(cuts[HRSS]) & died_by(cuts[HEALTH]) & quiet["job_loss"] & quiet["emigration"])
        stale = self._stale_employers(f.index, self._draw("employer_deregistered", f.index, rates.employer_deregistered)
                                      & insured & (f.kind == BASE) & ~died & quiet["emigration"]
                                      & quiet["job_change"] & quiet["job_loss"])
        hrss_name = (self._draw("name", f.index, rates.name_mismatch, "hrss") & registered & insured
                     & ~insured_after_death & (stale < 0))
        birth_drawn = (self._draw("birth_date_mismatch", f.index, rates.birth_date_mismatch) & certified
                       & local & psb.appeared)
        health_rows = certified | died_by(cuts[HEALTH])
        health_name = self._draw("name", f.index, rates.name_mismatch, "health") & registered & health_rows & ~birth_drawn
        phantom_drawn = (self._draw("unknown_residence_unit", f.index, rates.unknown_residence_unit) & grid.present
                         & quiet["move"])
        grid_name = self._draw("name", f.index, rates.name_mismatch, "grid") & registered & grid.present & ~phantom_drawn
        unregistered = (self._draw("deceased_not_registered", f.index, rates.deceased_not_registered) & local
                        & psb.appeared & died_by(min(cuts[PSB], cuts[HEALTH])) & quiet["emigration"])
        names = {HRSS: hrss_name, GRID: grid_name, HEALTH: health_name}
        owners = self.owner_drawn("hcb", f.index) | self.owner_drawn("amr", f.index)
        wrong = np.array(f.name.to_pylist(), dtype=object)
        choices = city.rand.integers("conflict/name-variant", 1 << 30, f.index)
        for position in np.flatnonzero(hrss_name | grid_name | health_name | owners):
            wrong[position] = other_name(wrong[position], int(choices[position]))
        shift = np.where(birth_drawn, 1 + city.rand.integers("conflict/birth-shift", 75, f.index), 0)
        phantom = np.zeros(n, dtype=np.int64)
        if phantom_drawn.any():
            _, count = city.layout.units_of_building(city.layout.building_of_unit(f.unit0))
            phantom = np.where(phantom_drawn, count + 1 + city.rand.integers("conflict/phantom-unit", 8, f.index), 0)
        protected = (hrss_name | grid_name | health_name | owners | birth_drawn | unregistered | insured_after_death
                     | (stale >= 0) | phantom_drawn | died)
        return PersonDraws(names, wrong, shift, unregistered, insured_after_death, stale, phantom, protected)

    def _stale_employers(self, person: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        """A deregistered enterprise for each drawn person: the employer hrss still holds."""
        enterprises = self.city.enterprises
        stale = np.full(len(person), -1, dtype=np.int64)
        pending = np.flatnonzero(drawn)
        for attempt in range(24):
            if pending.size == 0:
                break
            candidate = self.city.rand.integers(f"conflict/stale-employer#{attempt}", enterprises.base, person[pending])
            ok = np.isin(enterprises.status0(candidate), DEREGISTERED)
            stale[pending[ok]] = candidate[ok]
            pending = pending[~ok]
        return stale

    # ------------------------------------------------------------------ enterprises

    def taxpayer_drawn(self, ctx: EnterpriseContext) -> np.ndarray:
        f, ent = ctx.frame, self.city.enterprises
        # active at the start and old enough to have declared a period before it
        eligible = (f.index < ent.base) & (f.status0 <= 1) & (f.est_day < ent.start_day - 120)
        return self._draw("taxpayer_name_mismatch", f.index, self.rates.taxpayer_name_mismatch) & eligible

    def legal_rep_drawn(self, ctx: EnterpriseContext) -> np.ndarray:
        return self.owner_drawn("amr", ctx.frame.legal_rep) & (ctx.frame.index < self.city.enterprises.base)

    def enterprise_protected(self, ctx: EnterpriseContext) -> np.ndarray:
        f = ctx.frame
        return (self.taxpayer_drawn(ctx) | self.legal_rep_drawn(ctx) | np.isin(f.status0, DEREGISTERED)
                | (f.closure_day != NO_DAY))

    # ------------------------------------------------------------------ rows as delivered

    def apply(self, code: str, ctx, table: pa.Table, cut: int, full: bool = True) -> pa.Table:
        """The resource's rows with the conflicts of their records, and the conflict columns."""
        table = _with_conflict_columns(table)
        if code in PERSON_RESOURCES:
            return self._apply_person(code, ctx, table, cut)
        if code == PROPERTY:
            return self._apply_property(ctx, table, cut)
        if code == UNIT:
            residential = self.city.layout.unit_use(ctx.unit) == RESIDENTIAL
            return _set_meta(table, "_protected", residential[_positions(ctx.unit, table)])
        if code == AMR:
            return self._apply_amr(ctx, table)
        if code == TAX:
            return self._apply_tax(ctx, table, full)
        return table

    def _apply_person(self, code: str, ctx: PersonContext, table: pa.Table, cut: int) -> pa.Table:
        draws, f = self.person_draws(ctx), ctx.frame
        pos = _positions(f.index, table)
        table = _set_meta(table, "_protected", draws.protected[pos])
        if table.num_rows == 0:
            return table
        state = ctx.state(cut)
        death = f.event_day["death"][pos]
        died = (death != NO_DAY) & (death < cut)
        before_start = death < 0
        if code == PSB:
            rows = np.flatnonzero(draws.unregistered_death[pos] & died)
            table = _change(table, rows, "RYZT", ["0"] * rows.size)
            changed = state.registered_changed_unless_death[pos[rows]]
            table = _change(table, rows, "BGSJ", text.timestamps(changed, self.city.start), changed)
            table = _mark(table, rows, "deceased_not_registered", "RYZT", ["1"] * rows.size, before_start[rows])
        elif code == HRSS:
            table = self._apply_insurance(table, pos, state, draws, died, before_start)
        elif code == GRID:
            rows = np.flatnonzero(draws.phantom_unit[pos] > 0)
            if rows.size:
                building = self.city.layout.building_of_unit(state.unit[pos[rows]])
                codes = text.join(self.city.housing.building_codes(building), text.integers(draws.phantom_unit[pos[rows]], 4))
                true_codes = table.column("unit_code").take(pa.array(rows)).to_pylist()
                table = _change(table, rows, "unit_code", codes)
                table = _mark(table, rows, "unknown_residence_unit", "unit_code", true_codes, np.ones(rows.size, bool))
            table = self._apply_name(table, pos, draws, GRID, "name")
        elif code == HEALTH:
            is_birth = table.column("SJLX").to_numpy(zero_copy_only=False) == "出生"
            rows = np.flatnonzero(is_birth & (draws.birth_shift[pos] > 0))
            if rows.size:
                true_dates = table.column("SJRQ").take(pa.array(rows)).to_pylist()
                table = _change(table, rows, "SJRQ", text.dates(f.birth_day[pos[rows]] - draws.birth_shift[pos[rows]]))
                table = _mark(table, rows, "birth_date_mismatch", "SJRQ", true_dates, np.ones(rows.size, bool))
            table = self._apply_name(table, pos, draws, HEALTH, "XM")
        return table

    def _apply_insurance(self, table: pa.Table, pos: np.ndarray, state: PersonState, draws: PersonDraws,
                         died: np.ndarray, before_start: np.ndarray) -> pa.Table:
        rows = np.flatnonzero(draws.insured_after_death[pos] & died)
        status = text.pick(INSURANCE_STATUS, state.insurance_status_unless_death[pos[rows]])
        changed = state.insurance_changed_unless_death[pos[rows]]
        table = _change(table, rows, "参保状态", status)
        table = _change(table, rows, "更新时间", text.timestamps(changed, self.city.start), changed)
        table = _mark(table, rows, "insured_after_death", "参保状态", [INSURANCE_STATUS[2]] * rows.size, before_start[rows])
        rows = np.flatnonzero(draws.stale_employer[pos] >= 0)
        if rows.size:
            uscc, name, _ = self.city.enterprises.identity(draws.stale_employer[pos[rows]])
            true_uscc = table.column("单位统一社会信用代码").take(pa.array(rows)).to_pylist()
            table = _change(table, rows, "单位统一社会信用代码", uscc)
            table = _change(table, rows, "单位名称", name)
            table = _mark(table, rows, "employer_deregistered", "单位统一社会信用代码", true_uscc, np.ones(rows.size, bool))
        return self._apply_name(table, pos, draws, HRSS, "姓名")

    @staticmethod
    def _apply_name(table: pa.Table, pos: np.ndarray, draws: PersonDraws, code: str, column: str) -> pa.Table:
        rows = np.flatnonzero(draws.name[code][pos])
        if rows.size == 0:
            return table
        true_names = table.column(column).take(pa.array(rows)).to_pylist()
        table = _change(table, rows, column, list(draws.wrong_name[pos[rows]]))
        return _mark(table, rows, "name_mismatch", column, true_names, np.ones(rows.size, bool))

    def _property_owners(self, ctx: UnitContext, cut: int) -> tuple[np.ndarray, np.ndarray]:
        """Owner is a person?, owner index at the cut, and the units whose owner name hcb holds wrong."""
        is_person, owner, _, _ = self.city.properties.at(ctx.frame, cut)
        wrong = is_person & (ctx.frame.transfer_day == NO_DAY) & self.owner_drawn("hcb", np.where(is_person, owner, 0))
        return owner, wrong

    def _apply_property(self, ctx: UnitContext, table: pa.Table, cut: int) -> pa.Table:
        pos = _positions(ctx.unit, table)
        owner, wrong = self._property_owners(ctx, cut)
        table = _set_meta(table, "_protected", wrong[pos])
        rows = np.flatnonzero(wrong[pos])
        if rows.size == 0:
            return table
        true_names = table.column("QLRMC").take(pa.array(rows)).to_pylist()
        choices = self.city.rand.integers("conflict/name-variant", 1 << 30, owner[pos[rows]])
        names = [other_name(name, int(choice)) for name, choice in zip(true_names, choices)]
        table = _change(table, rows, "QLRMC", names)
        return _mark(table, rows, "name_mismatch", "QLRMC", true_names, np.ones(rows.size, bool))

    def _apply_amr(self, ctx: EnterpriseContext, table: pa.Table) -> pa.Table:
        pos = _positions(ctx.frame.index, table)
        table = _set_meta(table, "_protected", self.enterprise_protected(ctx)[pos])
        rows = np.flatnonzero(self.legal_rep_drawn(ctx)[pos])
        if rows.size == 0:
            return table
        true_names = table.column("legal_rep_name").take(pa.array(rows)).to_pylist()
        choices = self.city.rand.integers("conflict/name-variant", 1 << 30, ctx.frame.legal_rep[pos[rows]])
        names = [other_name(name, int(choice)) for name, choice in zip(true_names, choices)]
        table = _change(table, rows, "legal_rep_name", names)
        return _mark(table, rows, "legal_rep_name_mismatch", "legal_rep_name", true_names, np.ones(rows.size, bool))

    def _apply_tax(self, ctx: EnterpriseContext, table: pa.Table, full: bool) -> pa.Table:
        pos = _positions(ctx.frame.index, table)
        table = _set_meta(table, "_protected", self.enterprise_protected(ctx)[pos])
        rows = np.flatnonzero(self.taxpayer_drawn(ctx)[pos])
        if rows.size == 0:
            return table
        true_names = table.column("NSRMC").take(pa.array(rows)).to_pylist()
        choices = self.city.rand.integers("conflict/org-name-variant", 1 << 30, ctx.frame.index[pos[rows]])
        table = _change(table, rows, "NSRMC", [other_org_name(n, int(c)) for n, c in zip(true_names, choices)])
        # one fault record per taxpayer: its latest period in the first full extract
        periods = table.column("SSQ").take(pa.array(rows)).to_numpy(zero_copy_only=False).astype(np.int64)
        entity = pos[rows]
        latest = np.zeros(rows.size, dtype=bool)
        if full:
            order = np.lexsort((-periods, entity))
            first = np.ones(rows.size, dtype=bool)
            first[1:] = entity[order][1:] != entity[order][:-1]
            latest[order[first]] = True
        return _mark(table, rows, "taxpayer_name_mismatch", "NSRMC", true_names, latest)

    # ------------------------------------------------------------------ fault records

    def records(self, table: pa.Table, code: str, batch_id: str, sequence: int, first: bool) -> list[FaultRecord]:
        """A fault record for each row bringing an injected conflict into the lake for the first
        time: every marked row of a first full extract, the inserted ones of an incremental."""
        if "_conflict" not in table.column_names or table.num_rows == 0:
            return []
        marked = pc.fill_null(table.column("_conflict_record"), False).to_numpy(zero_copy_only=False)
        if not first:
            operation = _resource(self.city, code).operation_column
            marked &= table.column(operation).to_numpy(zero_copy_only=False) == "I"
        rows = np.flatnonzero(marked)
        if rows.size == 0:
            return []
        department, resource = code.split(".")
        picked = table.take(pa.array(rows))
        kinds, columns = picked.column("_conflict").to_pylist(), picked.column("_conflict_column").to_pylist()
        true_values, keys = picked.column("_conflict_true").to_pylist(), picked.column("_key").to_pylist()
        out = []
        for number, (row, kind, column, true_value, key) in enumerate(zip(rows.tolist(), kinds, columns, true_values,
                                                                          keys)):
            delivered = picked.column(column)[number].as_py()
            out.append(FaultRecord(kind, department, resource, batch_id, sequence, row, key, column, true_value,
                                   delivered, "persistent: the department's record holds this value in every delivery"))
        return out

    def suppressed_updates(self, code: str, ctx: PersonContext, previous_cut: int, cut: int, batch_id: str,
                           sequence: int) -> list[FaultRecord]:
        """Deaths in the window that psb or hrss never records (kinds whose wrong value is an
        update left out, not a row): one record per record left unchanged, without a line."""
        if code not in (PSB, HRSS):
            return []
        draws, f = self.person_draws(ctx), ctx.frame
        death = f.event_day["death"]
        in_window = (death != NO_DAY) & (death >= previous_cut) & (death < cut)
        department, resource = code.split(".")
        out = []
        if code == PSB:
            for position in np.flatnonzero(in_window & draws.unregistered_death).tolist():
                out.append(FaultRecord("deceased_not_registered", department, resource, batch_id, sequence, None,
                                       f.id_number[position].as_py(), "RYZT", "1", "0",
                                       "persistent: the death is never recorded in the household register"))
            return out
        state = ctx.state(cut)
        for position in np.flatnonzero(in_window & draws.insured_after_death).tolist():
            for bit, kind in enumerate(("110", "210", "310", "410")):
                if f.insurance[position] >> bit & 1:
                    out.append(FaultRecord("insured_after_death", department, resource, batch_id, sequence, None,
                                           f"{f.id_number[position].as_py()}{KEY_SEPARATOR}{kind}", "参保状态",
                                           INSURANCE_STATUS[2],
                                           INSURANCE_STATUS[int(state.insurance_status_unless_death[position])],
                                           "persistent: the insurance is never terminated after the death"))
        return out


def _resource(city: SyntheticCity, code: str):
    department, resource = code.split(".")
    return city.catalog.resource(department, resource)


def _positions(index: np.ndarray, table: pa.Table) -> np.ndarray:
    return np.searchsorted(index, table.column("_entity").to_numpy())


def _with_conflict_columns(table: pa.Table) -> pa.Table:
    n = table.num_rows
    defaults = {"_protected": pa.array(np.zeros(n, dtype=bool)), "_conflict": pa.nulls(n, pa.string()),
                "_conflict_column": pa.nulls(n, pa.string()), "_conflict_true": pa.nulls(n, pa.string()),
                "_conflict_record": pa.array(np.zeros(n, dtype=bool))}
    for name in CONFLICT_META:
        if name not in table.column_names:
            table = table.append_column(name, defaults[name])
    return table


def _set_meta(table: pa.Table, column: str, values: np.ndarray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, pa.array(np.asarray(values, dtype=bool)))


def _change(table: pa.Table, rows: np.ndarray, column: str, values, seconds: np.ndarray | None = None) -> pa.Table:
    """Rows with another value in a column (and, for a changed change time, in `_changed`)."""
    table = _replace(table, column, rows, values)
    if seconds is not None and rows.size:
        changed = table.column("_changed").to_numpy().copy()
        changed[rows] = seconds
        table = table.set_column(table.schema.get_field_index("_changed"), "_changed", pa.array(changed))
    return table


def _mark(table: pa.Table, rows: np.ndarray, kind: str, column: str, true_values: list, record: np.ndarray) -> pa.Table:
    if rows.size == 0:
        return table
    table = _replace(table, "_conflict", rows, [kind] * rows.size)
    table = _replace(table, "_conflict_column", rows, [column] * rows.size)
    table = _replace(table, "_conflict_true", rows, [None if v is None else str(v) for v in true_values])
    flags = table.column("_conflict_record").to_numpy(zero_copy_only=False).copy()
    flags[rows] = record
    return _set_meta(table, "_conflict_record", flags)
