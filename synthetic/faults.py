"""Faults real deliveries have, injected at known rates, each one recorded with the outcome the
lake is expected to reach.

Row faults change values in a batch's rows (or add rows); which rows and columns they hit
depends only on the seed, the resource, the batch's sequence and the row's own number, so a city
is faulted the same way however it is chunked and whichever process generates the chunk. Faults whose row must be
quarantined are capped per chunk well below the resource's quarantine limit, so that injected
faults never turn a landing batch into a rejected one by accident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citylake.catalog import Catalog, Resource
from synthetic import identity
from synthetic.model import FaultRates
from synthetic.rng import Rand

# the expected outcome of each fault kind in the lake, and the quality rule for quarantined rows
OUTCOMES: dict[str, tuple[str, str | None]] = {
    "legacy_15_digit_id": ("repaired", None),
    "fullwidth_digits": ("repaired", None),
    "stray_spaces": ("repaired", None),
    "date_format": ("repaired", None),
    "gender_variant": ("repaired", None),
    "ethnicity_variant": ("repaired", None),
    # cross-department conflicts (conflicts.py): persistent, found by cross-checking the base libraries
    "name_mismatch": ("conflict", None),
    "birth_date_mismatch": ("conflict", None),
    "deceased_not_registered": ("conflict", None),
    "insured_after_death": ("conflict", None),
    "employer_deregistered": ("conflict", None),
    "unknown_residence_unit": ("conflict", None),
    "taxpayer_name_mismatch": ("conflict", None),
    "legal_rep_name_mismatch": ("conflict", None),
    "invalid_check_digit": ("quarantined", "invalid_check_digit"),
    "unknown_division_code": ("quarantined", "unknown_division_code"),
    "missing_required": ("quarantined", "missing_required"),
    "unparseable_row": ("quarantined", "unparseable_row"),
    "duplicate_row": ("quarantined", "duplicate_key"),
    "late_row": ("late_ignored", None),
    "replay": ("replay", None),
    "conflicting_replay": ("rejected", "conflicting_replay"),
    "truncated_file": ("rejected", "file_mismatch"),
    "sequence_gap": ("held", "sequence_gap"),
    "district_missing": ("held", "delete_guard"),
}
ROW_FAULTS = ["unparseable_row", "duplicate_row", "missing_required", "invalid_check_digit", "unknown_division_code",
              "legacy_15_digit_id", "fullwidth_digits", "stray_spaces", "date_format", "gender_variant",
              "ethnicity_variant"]
QUARANTINING = {kind for kind, (outcome, _) in OUTCOMES.items() if outcome == "quarantined"}
UNKNOWN_DIVISIONS = ["350599", "350509", "350510", "350588", "350520"]
_MAINLAND_PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
                       "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
# which data elements each fault can hit
_ELEMENTS = {
    "invalid_check_digit": {"resident_id", "uscc", "party_id"},
    "legacy_15_digit_id": {"resident_id", "party_id"},
    "fullwidth_digits": {"resident_id", "party_id", "phone"},
    "stray_spaces": {"resident_id", "uscc", "party_id", "person_name", "org_name", "division_code", "street_code"},
    "date_format": {"date"},
    "gender_variant": {"gender"},
    "ethnicity_variant": {"ethnicity"},
    "unknown_division_code": {"division_code", "street_code"},
}


@dataclass
class FaultRecord:
    kind: str
    department: str
    resource: str
    batch_id: str | None
    sequence: int | None
    position: int | None           # 0-based row position in the package (file and line come from it)
    key: str | None
    column: str | None
    true_value: str | None
    delivered_value: str | None
    detail: str | None = None
    file: str | None = None
    line: int | None = None

    def as_row(self) -> tuple:
        """The record as a row of faults.parquet (see generator.FAULT_COLUMNS)."""
        outcome, rule = OUTCOMES[self.kind]
        return (self.kind, self.department, self.resource, self.batch_id, self.sequence, self.file, self.line,
                self.key, self.column, self.true_value, self.delivered_value, outcome, rule, self.detail)

    @property
    def expected_outcome(self) -> str:
        return OUTCOMES[self.kind][0]

    @property
    def expected_rule(self) -> str | None:
        return OUTCOMES[self.kind][1]


@dataclass
class Injected:
    table: pa.Table                # the rows to write (data and metadata columns)
    raw_lines: dict[int, str]      # row position in `table` -> text written instead of the row
    records: list[FaultRecord] = field(default_factory=list)


class RowFaults:
    """Injects row faults into the chunks of one package."""

    def __init__(self, catalog: Catalog, resource: Resource, rates: FaultRates, rand: Rand, batch_id: str,
                 sequence: int) -> None:
        self.resource, self.rates, self.rand = resource, rates, rand
        self.batch_id, self.sequence = batch_id, sequence
        self.elements = {c.source: c.element for c in resource.columns}
        ethnicity = catalog.elements.get("ethnicity")
        self.ethnicity_labels = {code: v.label for code, v in ((ethnicity.values or {}) if ethnicity else {}).items()}
        self.key_columns = set(resource.key)
        skip = {resource.operation_column, resource.change_time_column}
        self.columns_for = {
            kind: [c.source for c in resource.columns if c.element in elements and c.source not in skip]
            for kind, elements in _ELEMENTS.items()
        }
        # identifying columns: a conflict's rows are matched across departments by them
        self.identifying = self.key_columns | {c.source for c in resource.columns
                                               if c.element in ("resident_id", "uscc", "party_id", "unit_code")}
        self.columns_for["missing_required"] = [
            c.source for c in resource.columns
            if c.required and c.source not in self.key_columns and c.source not in skip]
        self.columns_for["duplicate_row"] = ["*"]
        self.columns_for["unparseable_row"] = ["*"] if resource.format in ("csv", "jsonl") else []

    def rate(self, kind: str) -> float:
        return float(getattr(self.rates, kind))

    def inject(self, table: pa.Table) -> Injected:
        """Fault a chunk of the package's rows; record positions are relative to the chunk."""
        n = table.num_rows
        if n == 0:
            return Injected(table, {})
        # faults are drawn by the row's own number, so that they do not depend on chunking or order
        rows_id = table.column("_row").to_numpy()
        stream_key = self.rand.bits("fault-row", np.int64(self.sequence), rows_id).view(np.int64)
        budget = int(np.floor(n * self.resource.quarantine_limit * self.rates.quarantine_budget))
        # a row carrying a conflict gets no fault at all; the other rows of a conflict (and the
        # protected ones, see conflicts.py) no quarantining fault and none on identifying columns
        carries = (pc.is_valid(table.column("_conflict")).to_numpy(zero_copy_only=False)
                   if "_conflict" in table.column_names else np.zeros(n, dtype=bool))
        protected = (table.column("_protected").to_numpy(zero_copy_only=False) | carries
                     if "_protected" in table.column_names else carries)
        taken = carries.copy()
        planned: list[tuple[str, int, str]] = []  # (kind, row, column)
        for kind in ROW_FAULTS:
            candidates = self.columns_for.get(kind, [])
            if not candidates or self.rate(kind) <= 0:
                continue
            hit = (self.rand.uniform(f"fault/{self.resource.qualified_code}/{kind}", stream_key) < self.rate(kind)) & ~taken
            if kind in QUARANTINING:
                hit &= ~protected
            rows = np.flatnonzero(hit)
            if rows.size == 0:
                continue
            which = self.rand.integers(f"fault-column/{kind}", len(candidates), stream_key[rows])
            values = self._values_at(table, candidates, rows, which)
            for row, column_index, value in zip(rows.tolist(), which.tolist(), values):
                if kind in QUARANTINING and budget <= 0:
                    break
                column = candidates[column_index]
                if column != "*" and not self._applies(kind, value):
                    continue
                if protected[row] and column in self.identifying:
                    continue
                planned.append((kind, row, column))
                taken[row] = True
                if kind in QUARANTINING:
                    budget -= 1
        if not planned:
            return Injected(table, {})
        return self._apply(table, planned, stream_key)

    def _apply(self, table: pa.Table, planned: list[tuple[str, int, str]], stream_key: np.ndarray) -> Injected:
        records: list[tuple[int, FaultRecord]] = []  # (row in the chunk, record)
        raw_rows: dict[int, str] = {}
        duplicated: list[int] = []
        changed: dict[str, dict[int, str | None]] = {}
        data_columns = [name for name in table.column_names if not name.startswith("_")]
        rows_planned = np.array([row for _, row, _ in planned], dtype=np.int64)
        choices = self.rand.integers("fault-variant", 1 << 30, stream_key[rows_planned]).tolist()
        keys = table.column("_key").take(pa.array(rows_planned)).to_pylist()
        whole_rows = [row for kind, row, _ in planned if kind == "unparseable_row"]
        row_values = (table.select(data_columns).take(pa.array(whole_rows, pa.int64())).to_pylist()
                      if whole_rows else [])
        row_values_at = dict(zip(whole_rows, row_values))
        cell_values = self._values_at(table, data_columns, rows_planned,
                                      np.array([data_columns.index(c) if c in data_columns else -1 for _, _, c in planned]))
        for (kind, row, column), choice, key, true_value in zip(planned, choices, keys, cell_values):
            if kind == "duplicate_row":
                duplicated.append(row)
                records.append((row, self._record(kind, key, None, None, None)))
            elif kind == "unparseable_row":
                raw_rows[row] = self._unparseable(row_values_at[row])
                records.append((row, self._record(kind, key, None, None, raw_rows[row])))
            else:
                delivered = self._faulty_value(kind, column, true_value, choice)
                changed.setdefault(column, {})[row] = delivered
                records.append((row, self._record(kind, key, column, true_value, delivered)))
        for column, values in changed.items():
            mask = np.zeros(table.num_rows, dtype=bool)
            rows = sorted(values)
            mask[rows] = True
            replaced = pc.replace_with_mask(table.column(column).combine_chunks(), pa.array(mask),
                                            pa.array([values[r] for r in rows], pa.string()))
            table = table.set_column(table.schema.get_field_index(column), column, replaced)
        # a duplicate follows right after the row it copies; rows after it move down by one
        order = np.sort(np.concatenate([np.arange(table.num_rows), np.array(duplicated, dtype=np.int64)]), kind="stable")
        if duplicated:
            table = table.take(pa.array(order))
        new_position = np.searchsorted(order, np.arange(len(order) - len(duplicated)), side="left")
        result = []
        for row, record in records:
            copy = 1 if record.kind == "duplicate_row" else 0
            record.position = int(new_position[row]) + copy
            result.append(record)
        raw_lines = {int(new_position[row]): line for row, line in raw_rows.items()}
        return Injected(table, raw_lines, result)

    @staticmethod
    def _values_at(table: pa.Table, candidates: list[str], rows: np.ndarray, which: np.ndarray) -> list:
        """The value of the chosen column at each row (None for whole-row faults), one take per column."""
        values: list = [None] * len(rows)
        for index, column in enumerate(candidates):
            if column == "*":
                continue
            picked = np.flatnonzero(which == index)
            if picked.size:
                taken = table.column(column).take(pa.array(rows[picked])).to_pylist()
                for position, value in zip(picked.tolist(), taken):
                    values[position] = value
        return values

    def _applies(self, kind: str, value: str | None) -> bool:
        if value is None or value == "":
            return False
        if kind == "legacy_15_digit_id":
            # mainland ID numbers of persons born before 1985 (a credit code never starts with a province)
            return (len(value) == 18 and value[:17].isdigit() and value[:2] in _MAINLAND_PROVINCES
                    and value[6:8] == "19" and value[6:10] < "1985")
        if kind in ("invalid_check_digit", "fullwidth_digits"):
            return len(value) >= 11
        return True

    def _record(self, kind, key, column, true_value, delivered) -> FaultRecord:
        return FaultRecord(kind, self.resource.department, self.resource.code, self.batch_id, self.sequence,
                           None, key, column, true_value, delivered)

    def _faulty_value(self, kind: str, column: str, value: str, choice: int) -> str:
        element = self.elements[column]
        if kind == "invalid_check_digit":
            return identity.wrong_check(value, element)
        if kind == "legacy_15_digit_id":
            return identity.legacy_id(value)
        if kind == "fullwidth_digits":
            return value.translate(_FULLWIDTH)
        if kind == "stray_spaces":
            if element == "person_name" and len(value) >= 2:
                return value[0] + " " + value[1:]
            return [" " + value, value + " ", " " + value + "  ", value + "\u3000"][choice % 4]
        if kind == "date_format":
            year, month, day = value[:4], int(value[5:7]), int(value[8:10])
            return [f"{year}/{month}/{day}", f"{year}{month:02d}{day:02d}", f"{year}年{month}月{day}日"][choice % 3]
        if kind == "gender_variant":
            return {"1": "男", "2": "女"}.get(value, value)
        if kind == "ethnicity_variant":
            label = self.ethnicity_labels.get(value, value)
            return label if choice % 2 else label.removesuffix("族") or label
        if kind == "unknown_division_code":
            if element == "street_code":
                return value[:6] + "9" + f"{choice % 100:02d}"
            return UNKNOWN_DIVISIONS[choice % len(UNKNOWN_DIVISIONS)]
        if kind == "missing_required":
            return None  # type: ignore[return-value]
        raise ValueError(f"unknown fault kind {kind}")

    def _unparseable(self, row: dict[str, str | None]) -> str:
        if self.resource.format == "jsonl":
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
            return line[: max(2, len(line) * 3 // 5)]
        values = ["" if value is None else str(value) for value in row.values()]
        delimiter = self.resource.delimiter or ","
        # a value with an unquoted delimiter in it: one field too many
        widest = max(range(len(values)), key=lambda i: len(values[i]))
        text = values[widest]
        values[widest] = text[: len(text) // 2] + delimiter + text[len(text) // 2:]
        return delimiter.join(v.replace('"', "") for v in values)
