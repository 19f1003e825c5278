"""A generated city follows the delivery contract, is consistent across departments, and records
every fault it injected."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric, uscc

from citylake.catalog import load_catalog
from synthetic.faults import OUTCOMES
from tests.synthetic.packages import manifests, rows

CONTRACT_KEYS = {"department", "resource", "batch_id", "sequence", "mode", "extracted_at", "format", "files"}
ROW_FAULTS_WITH_COLUMN = {"legacy_15_digit_id", "fullwidth_digits", "stray_spaces", "date_format", "gender_variant",
                          "ethnicity_variant", "name_mismatch", "invalid_check_digit", "unknown_division_code",
                          "missing_required"}


@pytest.fixture(scope="module")
def city(small_city):
    return small_city[0]


@pytest.fixture(scope="module")
def faults(city):
    return pq.read_table(city / "truth" / "faults.parquet").to_pylist()


@pytest.fixture(scope="module")
def packages(city):
    return pq.read_table(city / "truth" / "packages.parquet").to_pylist()


@pytest.fixture(scope="module")
def inbox_rows(city):
    """Every row of the inbox's packages except the truncated file's, by package."""
    out = defaultdict(list)
    for folder, manifest in manifests(city):
        if _truncated(city, manifest):
            continue
        out[(manifest["department"], manifest["resource"])].extend(rows(folder, manifest))
    return out


def _truncated(city, manifest) -> bool:
    for entry in manifest["files"]:
        folder = city / "inbox" / manifest["department"] / manifest["resource"] / manifest["batch_id"]
        if hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() != entry["sha256"]:
            return True
    return False


def _faulted(faults) -> tuple[set, set]:
    """(batch, file, line, column) of value faults; (batch, file, line) of whole-row faults."""
    cells = {(f["batch_id"], f["file"], f["line"], f["column"]) for f in faults if f["column"] and f["line"]}
    whole = {(f["batch_id"], f["file"], f["line"]) for f in faults
             if f["kind"] in ("unparseable_row", "duplicate_row", "late_row") and f["line"]}
    return cells, whole


def test_the_output_layout(city, small_city):
    summary = small_city[1]
    assert (city / "inbox").is_dir() and (city / "late_inbox").is_dir()
    for table in ("persons", "enterprises", "units", "buildings", "streets", "grid_events", "licences", "penalties", "tax"):
        assert list((city / "truth" / table).glob("part-*.parquet")), table
    notes = json.loads((city / "city.json").read_text(encoding="utf-8"))
    assert notes["seed"] == summary.seed and notes["persons"] == summary.persons
    assert set(notes["resources"]) == {r.qualified_code for r in load_catalog()}


def test_manifests_follow_the_contract_and_match_their_files(city, faults):
    truncated = {(f["batch_id"], f["file"]) for f in faults if f["kind"] == "truncated_file"}
    assert len(truncated) == 1
    sequences = defaultdict(set)
    for inbox in ("inbox", "late_inbox"):
        for folder, manifest in manifests(city, inbox):
            assert CONTRACT_KEYS <= set(manifest), folder
            assert folder.name == manifest["batch_id"] == f"{manifest['department']}-{manifest['resource']}-{manifest['sequence']:05d}"
            assert manifest["extracted_at"].endswith("+08:00")
            assert not list(folder.glob(".*"))  # no temporary manifest left behind
            sequences[(manifest["department"], manifest["resource"])].add(manifest["sequence"])
            for entry in manifest["files"]:
                data = (folder / entry["name"]).read_bytes()
                if (manifest["batch_id"], entry["name"]) in truncated and inbox == "inbox":
                    assert hashlib.sha256(data).hexdigest() != entry["sha256"]
                    continue
                assert hashlib.sha256(data).hexdigest() == entry["sha256"], folder
                assert sum(1 for _ in rows(folder, {**manifest, "files": [entry]})) == entry["rows"], folder
    for resource, seen in sequences.items():
        assert seen == set(range(1, max(seen) + 1)), resource


def test_every_fault_kind_is_injected_with_its_expected_outcome(faults):
    kinds = {f["kind"] for f in faults}
    assert kinds == set(OUTCOMES)
    for fault in faults:
        outcome, rule = OUTCOMES[fault["kind"]]
        assert fault["expected_outcome"] == outcome and fault["expected_rule"] == rule
        assert fault["batch_id"] and fault["sequence"]
        if fault["kind"] in ROW_FAULTS_WITH_COLUMN | {"unparseable_row", "duplicate_row", "late_row"}:
            assert fault["file"] and fault["line"] >= 1 and fault["key"], fault


def test_row_faults_point_at_the_faulty_value(faults, inbox_rows):
    by_place = {(r.batch_id, r.file, r.line): r for rs in inbox_rows.values() for r in rs}
    checked = 0
    for fault in faults:
        row = by_place.get((fault["batch_id"], fault["file"], fault["line"]))
        if row is None:
            continue  # in the truncated package
        if fault["kind"] == "unparseable_row":
            assert row.values is None and row.text == fault["delivered_value"]
        elif fault["kind"] == "duplicate_row":
            previous = by_place[(fault["batch_id"], fault["file"], fault["line"] - 1)]
            assert row.values == previous.values
        elif fault["kind"] in ROW_FAULTS_WITH_COLUMN | {"late_row"}:
            assert row.values[fault["column"]] == fault["delivered_value"], fault
            assert fault["true_value"] != fault["delivered_value"]
        checked += 1
    assert checked > 100


def test_ids_and_credit_codes_are_valid_unless_a_fault_says_otherwise(inbox_rows, faults):
    catalog = load_catalog()
    cells, whole = _faulted(faults)
    checked = 0
    for (department, resource_code), resource_rows in inbox_rows.items():
        resource = catalog.resource(department, resource_code)
        columns = [(c.source, c.element) for c in resource.columns if c.element in ("resident_id", "uscc", "party_id")]
        for row in resource_rows:
            if row.values is None or (row.batch_id, row.file, row.line) in whole:
                continue
            for column, element in columns:
                value = row.values.get(column)
                if (row.batch_id, row.file, row.line, column) in cells:
                    continue
                checked += 1
                assert value is not None, (row, column)
                assert _valid(value, element), (row.package, row.line, column, value)
    assert checked > 5000


def _valid(value: str, element: str) -> bool:
    if element == "uscc":
        return uscc.is_valid(value)
    if element == "party_id" and uscc.is_valid(value):  # an owner is a person or an organisation
        return True
    if value[:2] in ("81", "82", "83"):  # residence permits of Hong Kong, Macao, Taiwan residents
        return len(value) == 18 and ric.calc_check_digit(value) == value[-1]
    return ric.is_valid(value)


def _initial(inbox_rows, department, resource):
    return [r for r in inbox_rows[(department, resource)] if r.batch_id.endswith("-00001") and r.values]


def test_the_same_persons_and_enterprises_appear_in_every_department(city, inbox_rows, faults):
    cells, whole = _faulted(faults)

    def clean(row, column):
        return (row.batch_id, row.file, row.line) not in whole and (row.batch_id, row.file, row.line, column) not in cells

    persons = pq.read_table(city / "truth" / "persons").to_pylist()
    current = {p["id_number"]: p for p in persons if p["valid_to"] is None}
    at_start = {p["id_number"]: p for p in persons if p["valid_from"].date().isoformat() == "2026-01-01"
                and p["valid_from"].hour == 0}
    enterprises = {e["uscc"] for e in pq.read_table(city / "truth" / "enterprises").to_pylist()}
    true_key = {(f["batch_id"], f["file"], f["line"]): f["key"] for f in faults if f["line"]}

    def keys(department, resource, column):
        """The true keys of a resource's initial extract: delivered values, or the fault's record of it."""
        initial = [r for r in inbox_rows[(department, resource)] if r.batch_id.endswith("-00001")]
        return {true_key.get((r.batch_id, r.file, r.line)) or r.values[column] for r in initial}

    registered = keys("amr", "enterprise_registration", "uscc")
    units = keys("hcb", "housing_unit", "FWBM")
    streets = keys("nrp", "street", "street_code")
    assert registered == {e["uscc"] for e in pq.read_table(city / "truth" / "enterprises").to_pylist()
                          if e["valid_from"].hour == 0 and e["valid_from"].date().isoformat() == "2026-01-01"}

    registered_persons = _initial(inbox_rows, "psb", "household_registration")
    matched = [r for r in registered_persons if clean(r, "GMSFHM")]
    assert matched and all(r.values["GMSFHM"] in at_start for r in matched)
    assert all(r.values["XM"] == at_start[r.values["GMSFHM"]]["name"] for r in matched if clean(r, "XM"))
    assert all(at_start[r.values["GMSFHM"]]["residence_type"] == "户籍" for r in matched)

    insured = [r for r in _initial(inbox_rows, "hrss", "social_insurance") if clean(r, "身份证号")]
    assert insured and all(r.values["身份证号"] in current for r in insured)
    assert all(r.values["单位统一社会信用代码"] in registered for r in insured if clean(r, "单位统一社会信用代码"))

    # every person living in the city is seen by a grid worker (the register keeps the deceased)
    assert keys("grid", "actual_population", "id_no") == {k for k, p in at_start.items() if p["status"] == "alive"}
    seen = [r for r in _initial(inbox_rows, "grid", "actual_population") if clean(r, "id_no")]
    assert all(r.values["unit_code"] in units for r in seen if clean(r, "unit_code"))
    assert all(r.values["street_code"] in streets for r in seen if clean(r, "street_code"))
    assert all(r.values["unit_code"] == at_start[r.values["id_no"]]["residence_unit"] for r in seen if clean(r, "unit_code"))

    owners = [r for r in _initial(inbox_rows, "hcb", "property_registration") if clean(r, "QLR_ZJHM")]
    assert all(r.values["QLR_ZJHM"] in current or r.values["QLR_ZJHM"] in enterprises for r in owners)
    assert all(r.values["FWBM"] in units for r in owners)
    taxpayers = [r for r in _initial(inbox_rows, "tax", "tax_payment") if clean(r, "NSRSBH")]
    assert taxpayers and all(r.values["NSRSBH"] in enterprises for r in taxpayers)
    certified = [r for r in _initial(inbox_rows, "health", "vital_event") if clean(r, "ZJHM")]
    assert certified and all(r.values["ZJHM"] in current for r in certified)


def test_incremental_rows_carry_operations_and_change_times(inbox_rows):
    catalog = load_catalog()
    operations = defaultdict(set)
    for (department, code), resource_rows in inbox_rows.items():
        resource = catalog.resource(department, code)
        for row in resource_rows:
            if row.values is None:
                continue
            if row.mode == "incremental":
                operations[resource.qualified_code].add(row.values[resource.operation_column])
                assert row.values[resource.change_time_column]
            elif resource.operation_column:
                assert resource.operation_column not in row.values
    assert {"I", "U"} <= operations["psb.household_registration"] | operations["grid.actual_population"]
    assert "D" in operations["grid.actual_population"] | operations["psb.residence_permit"]
    assert all(ops <= {"I", "U", "D"} for ops in operations.values())


def test_truth_history_is_consistent(city):
    persons = pq.read_table(city / "truth" / "persons").to_pandas()
    current = persons[persons.valid_to.isna()]
    assert current.person_key.is_unique and current.id_number.is_unique
    assert (persons.valid_to.dropna() > persons.loc[persons.valid_to.notna(), "valid_from"]).all()
    assert {"alive", "deceased", "moved_out"} >= set(persons.status)
    assert (persons.groupby("person_key").size() > 1).any()  # some persons changed during the days
    assert {"户籍", "流动"} <= set(persons.residence_type) <= {"户籍", "流动", "境外"}
    enterprises = pq.read_table(city / "truth" / "enterprises").to_pandas()
    assert enterprises[enterprises.valid_to.isna()].uscc.is_unique
    units = pq.read_table(city / "truth" / "units").to_pandas()
    assert units[units.valid_to.isna()].unit_code.is_unique


def test_package_faults_and_expected_statuses(packages, faults):
    statuses = {p["expected_status"] for p in packages}
    assert statuses == {"landed", "held", "rejected", "replay"}
    assert [p["arrival"] for p in packages] == list(range(1, len(packages) + 1))
    late = [p for p in packages if p["inbox"] == "late_inbox"]
    assert {p["expected_status"] for p in late} == {"landed", "replay", "rejected"}
    assert packages.index(late[0]) == len(packages) - len(late)  # the late inbox arrives last
    gap = next(f for f in faults if f["kind"] == "sequence_gap")
    held = next(p for p in packages if p["batch_id"] == gap["batch_id"] and p["inbox"] == "inbox")
    assert held["expected_status"] == "held" and held["fault"] == "sequence_gap"
    missing = next(f for f in faults if f["kind"] == "district_missing")
    assert next(p for p in packages if p["batch_id"] == missing["batch_id"])["expected_status"] == "held"
