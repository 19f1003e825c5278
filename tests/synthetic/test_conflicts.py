"""Cross-department conflicts: injected at their rates in every kind, persistent, and listed in
truth/conflicts.parquet exactly as the applied deliveries hold them."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest

from citylake.catalog import load_catalog
from synthetic import FaultRates, generate_city
from synthetic.conflicts import CONFLICTS_SCHEMA, KINDS
from tests.synthetic.packages import final_state

GOLDEN = {"persons": 600, "days": 10, "seed": 23, "start": date(2026, 3, 1)}  # tests/conftest.py integrated_city
NAME_COLUMNS = {"hrss.social_insurance": "姓名", "grid.actual_population": "name", "health.vital_event": "XM",
                "hcb.property_registration": "QLRMC"}
PERSON_KEY = {"hrss.social_insurance": "身份证号", "grid.actual_population": "id_no", "health.vital_event": "ZJHM",
              "hcb.property_registration": "QLR_ZJHM"}


def _read(city, name):
    return pq.read_table(city / "truth" / name).to_pylist()


@pytest.fixture(scope="module")
def golden_city(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    generate_city(out, progress=False, **GOLDEN)
    return out


@pytest.fixture(scope="module")
def city(small_city):
    return small_city[0]


@pytest.fixture(scope="module")
def conflicts(city):
    return _read(city, "conflicts.parquet")


@pytest.fixture(scope="module")
def states(city):
    """The final state of every resource, as a lake that applied every package holds it."""
    catalog = load_catalog()
    packages, faults = _read(city, "packages.parquet"), _read(city, "faults.parquet")
    return {r.qualified_code: final_state(city, r, packages, faults) for r in catalog}


def test_every_kind_is_in_the_small_cities(golden_city, city, conflicts):
    assert pq.read_schema(city / "truth" / "conflicts.parquet").equals(CONFLICTS_SCHEMA)
    for kinds in (Counter(c["kind"] for c in _read(golden_city, "conflicts.parquet")), Counter(c["kind"] for c in conflicts)):
        assert all(kinds[kind] >= 2 for kind in KINDS), kinds


def test_each_injected_conflict_is_a_fault_with_the_conflict_outcome(city, conflicts):
    faults = [f for f in _read(city, "faults.parquet") if f["kind"] in KINDS]
    assert {f["expected_outcome"] for f in faults} == {"conflict"}
    injected = Counter(c["kind"] for c in conflicts if c["cause"] == "injected")
    assert Counter(f["kind"] for f in faults) == injected
    located = [f for f in faults if f["line"]]
    assert located and all(f["file"] and f["true_value"] != f["delivered_value"] for f in located)


def test_each_conflict_is_in_the_final_state_of_the_deliveries(conflicts, states):
    psb, permit = states["psb.household_registration"], states["psb.residence_permit"]
    amr, health = states["amr.enterprise_registration"], states["health.vital_event"]
    deaths = {row["ZJHM"] for row in health.values() if row["SJLX"] == "死亡"}
    units = set(states["hcb.housing_unit"])
    latest_period = {}
    for key in states["tax.tax_payment"]:
        uscc, period = key.split("|")
        latest_period[uscc] = max(latest_period.get(uscc, ""), period)
    wrong = []
    for c in conflicts:
        source_a = states[c["source_a"]] if c["source_a"] in states else None
        record = states[c["source_b"]].get(c["record"])
        kind = c["kind"]
        if record is None:
            wrong.append(("record not delivered", c))
            continue
        if kind == "name_mismatch":
            owner = source_a.get(c["key"])
            ok = record[NAME_COLUMNS[c["source_b"]]] == c["value_b"] and owner and owner["XM"] == c["value_a"]
        elif kind == "birth_date_mismatch":
            ok = record["SJRQ"] == c["value_b"] and psb[c["key"]]["CSRQ"] == c["value_a"]
        elif kind == "deceased_not_registered":
            ok = record["SJLX"] == c["value_b"] == "死亡" and psb[c["key"]]["RYZT"] == c["value_a"] == "0"
        elif kind == "insured_after_death":
            ok = record["参保状态"] == c["value_b"] == "参保缴费" and c["key"] in deaths
        elif kind == "employer_deregistered":
            employer = amr.get(record["单位统一社会信用代码"])
            ok = record["参保状态"] == c["value_b"] and employer and employer["status"] == c["value_a"] in ("注销", "吊销")
        elif kind == "unknown_residence_unit":
            ok = record["unit_code"] == c["value_b"] and c["value_b"] not in units and c["value_a"] is None
        elif kind == "taxpayer_name_mismatch":
            ok = (record["NSRMC"] == c["value_b"] and amr[c["key"]]["ent_name"] == c["value_a"]
                  and c["record"] == f"{c['key']}|{latest_period[c['key']]}")
        else:
            register = psb.get(record["legal_rep_id"]) or permit.get(record["legal_rep_id"])
            ok = record["legal_rep_name"] == c["value_b"] and register["XM"] == c["value_a"]
        if not ok:
            wrong.append((record, c))
    assert wrong == []


def test_every_name_that_differs_from_the_register_is_listed(conflicts, states):
    registers = {**states["psb.residence_permit"], **states["psb.household_registration"]}
    found = set()
    for code, column in NAME_COLUMNS.items():
        for key, row in states[code].items():
            owner = registers.get(row[PERSON_KEY[code]])
            if owner and row[column] != owner["XM"]:
                found.add(("name_mismatch", row[PERSON_KEY[code]], key))
    for key, row in states["amr.enterprise_registration"].items():
        owner = registers.get(row["legal_rep_id"])
        if owner and row["legal_rep_name"] != owner["XM"]:
            found.add(("legal_rep_name_mismatch", key, key))
    listed = {(c["kind"], c["key"], c["record"]) for c in conflicts
              if c["kind"] in ("name_mismatch", "legal_rep_name_mismatch")}
    assert found and found == listed


def test_conflicts_are_persistent_in_every_delivery_of_the_record(city, conflicts):
    """Every delivered row of a name conflict's record carries the wrong name, not only the last."""
    from tests.synthetic.packages import manifests, rows

    wrong = {(c["source_b"], c["record"]): c["value_b"] for c in conflicts
             if c["kind"] == "name_mismatch" and c["source_b"] in ("grid.actual_population", "hrss.social_insurance")}
    catalog = load_catalog()
    seen = Counter()
    for inbox in ("inbox", "late_inbox"):
        for folder, manifest in manifests(city, inbox):
            code = f"{manifest['department']}.{manifest['resource']}"
            if code not in ("grid.actual_population", "hrss.social_insurance"):
                continue
            resource = catalog.resource(manifest["department"], manifest["resource"])
            for row in rows(folder, manifest):
                if row.values is None:
                    continue
                key = "|".join(row.values[column] for column in resource.key)
                if (code, key) in wrong:
                    assert row.values[NAME_COLUMNS[code]] == wrong[code, key], (row.package, key)
                    seen[code, key] += 1
    assert set(seen) == set(wrong)


def test_rates_are_roughly_as_configured(tmp_path):
    rates = dataclasses.replace(FaultRates(), **{kind: 0.2 for kind in KINDS})
    out = tmp_path / "city"
    generate_city(out, persons=1500, days=5, seed=9, start=date(2026, 3, 1), faults=rates, progress=False)
    injected = [c for c in _read(out, "conflicts.parquet") if c["cause"] == "injected"]
    persons = [p for p in _read(out, "persons") if p["valid_to"] is None]
    enterprises = [e for e in _read(out, "enterprises") if e["valid_to"] is None]
    residents = {p["id_number"]: p for p in persons}

    def share(kind, eligible, source=None):
        keys = {c["key"] for c in injected if c["kind"] == kind and (source is None or c["source_b"] == source)}
        return len(keys) / len(eligible)

    deceased = [p for p in persons if p["status"] == "deceased"]
    alive = [p for p in persons if p["status"] == "alive"]
    registered_alive = [p for p in alive if p["residence_type"] in ("户籍", "流动")]
    represented = [e for e in enterprises if residents[e["legal_rep_id"]]["residence_type"] == "户籍"]
    observed = {
        "deceased_not_registered": share("deceased_not_registered", [p for p in deceased if p["residence_type"] == "户籍"]),
        "insured_after_death": share("insured_after_death", [p for p in deceased if p["insurance_types"]]),
        "employer_deregistered": share("employer_deregistered", [p for p in alive if p["insurance_types"]]),
        "unknown_residence_unit": share("unknown_residence_unit", alive),
        "name_mismatch": share("name_mismatch", registered_alive, "grid.actual_population"),
        "taxpayer_name_mismatch": share("taxpayer_name_mismatch", [e for e in enterprises if e["status"] in ("存续", "在业")]),
        "legal_rep_name_mismatch": len({c["key"] for c in injected if c["kind"] == "legal_rep_name_mismatch"}) / len(represented),
    }
    assert all(0.1 <= value <= 0.3 for value in observed.values()), observed


def test_every_unrecorded_death_and_insurance_after_death_is_listed(conflicts, states):
    psb, hrss = states["psb.household_registration"], states["hrss.social_insurance"]
    deaths = {row["ZJHM"]: key for key, row in states["health.vital_event"].items() if row["SJLX"] == "死亡"}
    unrecorded = {(person, certificate) for person, certificate in deaths.items()
                  if psb.get(person, {}).get("RYZT") == "0"}
    insured = {(row["身份证号"], key) for key, row in hrss.items() if row["参保状态"] == "参保缴费" and row["身份证号"] in deaths}
    assert unrecorded and unrecorded == {(c["key"], c["record"]) for c in conflicts if c["kind"] == "deceased_not_registered"}
    assert insured and insured == {(c["key"], c["record"]) for c in conflicts if c["kind"] == "insured_after_death"}
