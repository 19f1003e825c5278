"""The early-warning scenarios: planted in the golden city for every rule, recorded in
truth/scenarios.parquet, true of the truth tables and of the delivered packages, the same for a
seed, and absent with Scenarios.none()."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from citylake.catalog import load_catalog
from synthetic import FaultRates, Scenarios, generate_city
from synthetic.scenario_truth import SCHEMA
from tests.synthetic.packages import final_state, manifests, rows

# the golden city of the thematic and warning tests (tests/conftest.py GOLDEN_THEME_CITY)
GOLDEN = {"persons": 600, "days": 10, "seed": 23, "start": date(2026, 2, 24)}
RULES = {"enterprise_distress", "ageing_street", "event_surge", "overcrowded_unit", "empty_registered_unit",
         "delivery_stopped", "quality_drop", "insured_after_death"}


def _golden_faults() -> FaultRates:
    return dataclasses.replace(FaultRates.none(), insured_after_death=FaultRates().insured_after_death)


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden-theme-city")
    summary = generate_city(out, faults=_golden_faults(), progress=False, **GOLDEN)
    return out, summary


@pytest.fixture(scope="module")
def city(golden):
    return golden[0]


@pytest.fixture(scope="module")
def scenarios(city):
    return pq.read_table(city / "truth" / "scenarios.parquet").to_pylist()


@pytest.fixture(scope="module")
def packages(city):
    return pq.read_table(city / "truth" / "packages.parquet").to_pylist()


@pytest.fixture(scope="module")
def as_of(packages):
    return max(datetime.fromisoformat(p["extracted_at"]) for p in packages if p["expected_status"] == "landed")


@pytest.fixture(scope="module")
def persons(city):
    return pq.read_table(city / "truth" / "persons").to_pylist()


def _planted(scenarios, rule):
    found = [s for s in scenarios if s["rule"] == rule and s["origin"] == "planted"]
    assert found, rule
    return found


def _at(persons, moment):
    """The person versions valid at a moment."""
    return [p for p in persons if p["valid_from"] <= moment and (p["valid_to"] is None or p["valid_to"] > moment)]


def _age(birth: date, moment: datetime) -> int:
    day = moment.date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_every_rule_has_a_planted_or_recorded_scenario_and_each_is_raised(golden, scenarios):
    summary = golden[1]
    assert pq.read_schema(golden[0] / "truth" / "scenarios.parquet").equals(SCHEMA)
    assert {s["rule"] for s in scenarios} == RULES
    planted = Counter(s["rule"] for s in scenarios if s["origin"] == "planted")
    assert planted == Counter(summary.scenarios) and set(planted) == RULES - {"insured_after_death"}
    assert 2 <= planted["enterprise_distress"] <= 3 and planted["overcrowded_unit"] >= 2
    assert summary.skipped_scenarios == []
    for scenario in scenarios:
        assert scenario["raised"] and scenario["severity"] in ("low", "medium", "high"), scenario
        assert json.loads(scenario["numbers"]) and scenario["detail"]
        assert (scenario["planted"] is not None) == (scenario["origin"] == "planted")
    assert len({(s["rule"], s["subject"]) for s in scenarios}) == len(scenarios)


def test_distressed_enterprises_lose_insured_staff_after_the_month_end_and_are_in_arrears(city, scenarios, persons,
                                                                                          packages):
    insurance = [p for p in packages if p["resource"] == "social_insurance"]
    known = max(datetime.fromisoformat(p["extracted_at"]) for p in insurance)   # social insurance's last extract
    month_end = datetime.fromisoformat("2026-02-28T23:59:59+08:00")
    tax = pq.read_table(city / "truth" / "tax").to_pylist()

    def headcount(uscc, moment):
        return len({p["person_key"] for p in _at(persons, moment)
                    if p["employer_uscc"] == uscc and p["insurance_status"] == "参保缴费"})

    for scenario in _planted(scenarios, "enterprise_distress"):
        uscc = scenario["subject"]
        peak, now = headcount(uscc, month_end), headcount(uscc, known)
        assert peak >= 5 and (peak - now) >= 0.3 * peak, (uscc, peak, now)
        periods = sorted((t["tax_period"], t["arrears"]) for t in tax if t["uscc"] == uscc and t["tax_period"] <= "202603")
        assert periods and periods[-1][1] > 0, (uscc, periods)
        numbers = json.loads(scenario["numbers"])
        assert (numbers["headcount_peak"], numbers["headcount_now"]) == (peak, now)
        assert numbers["latest_tax_period"] == periods[-1][0]


def test_the_layoffs_are_in_social_insurances_delivery_on_the_first(city, scenarios):
    folder = city / "inbox" / "hrss" / "social_insurance" / "hrss-social_insurance-00002"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["extracted_at"].startswith("2026-03-01T02:")
    suspended = Counter(uscc for uscc, _ in {
        (r.values["单位统一社会信用代码"], r.values["身份证号"]) for r in rows(folder, manifest)
        if r.values["参保状态"] == "暂停缴费" and r.values["更新时间"].startswith("2026-03-01 00:")})
    for scenario in _planted(scenarios, "enterprise_distress"):
        assert suspended[scenario["subject"]] == json.loads(scenario["planted"])["laid_off"]


def test_the_ageing_street_is_old_at_the_as_of_time(scenarios, persons, as_of):
    for scenario in _planted(scenarios, "ageing_street"):
        living = [p for p in _at(persons, as_of) if p["status"] == "alive" and p["residence_street"] == scenario["subject"]]
        old = sum(_age(p["birth_date"], as_of) >= 65 for p in living)
        assert len(living) >= 20 and old >= 0.3 * len(living), (len(living), old)


def _event_days(city) -> dict[str, Counter]:
    """Grid events per street and day of report, as the inbox's grid.event packages deliver them."""
    days: dict[str, Counter] = defaultdict(Counter)
    seen = set()
    for folder, manifest in manifests(city):
        if manifest["resource"] != "event":
            continue
        for row in rows(folder, manifest):
            if row.values["event_id"] not in seen:
                seen.add(row.values["event_id"])
                days[row.values["street_code"]][row.values["reported_at"][:10]] += 1
    return days


def test_the_surge_street_bursts_above_its_baseline_in_the_packages_and_the_truth(city, scenarios, as_of):
    delivered = _event_days(city)
    truth = defaultdict(Counter)
    for event in pq.read_table(city / "truth" / "grid_events").to_pylist():
        truth[event["street_code"]][event["reported_at"].date().isoformat()] += 1
    assert delivered == truth
    for scenario in _planted(scenarios, "event_surge"):
        day = date.fromisoformat(json.loads(scenario["planted"])["day"])
        assert as_of.date() - timedelta(days=6) <= day <= as_of.date()
        counts = truth[scenario["subject"]]
        baseline = [counts[(day - timedelta(days=n)).isoformat()] for n in range(1, 29)]
        events = counts[day.isoformat()]
        assert 15 <= events and events > statistics.fmean(baseline) + 3 * statistics.pstdev(baseline)


def test_overcrowded_and_empty_registered_units(city, scenarios, persons, as_of):
    now = [p for p in _at(persons, as_of) if p["status"] == "alive"]
    living = Counter(p["residence_unit"] for p in now)
    registered = Counter(p["domicile_unit"] for p in now if p["residence_type"] == "户籍")
    for scenario in _planted(scenarios, "overcrowded_unit"):
        assert 8 <= living[scenario["subject"]] <= 14 and living[scenario["subject"]] > 6
    for scenario in _planted(scenarios, "empty_registered_unit"):
        assert registered[scenario["subject"]] >= 1 and living[scenario["subject"]] == 0
    # the grid workers' final state says the same of where everyone lives
    catalog = load_catalog()
    grid = final_state(city, catalog.resource("grid", "actual_population"),
                       pq.read_table(city / "truth" / "packages.parquet").to_pylist(), [])
    assert Counter(r["unit_code"] for r in grid.values()) == living


def test_streets_count_the_households_moved_in_and_out(city, persons):
    start = datetime.combine(GOLDEN["start"], time(), ZoneInfo("Asia/Shanghai"))
    living = Counter(p["residence_street"] for p in _at(persons, start) if p["person_key"] < GOLDEN["persons"])
    streets = pq.read_table(city / "truth" / "streets").to_pylist()
    assert {s["street_code"]: s["persons_at_start"] for s in streets if s["persons_at_start"]} == dict(living)


def test_the_stopped_resource_delivers_nothing_after_its_stop(scenarios, packages, as_of):
    for scenario in _planted(scenarios, "delivery_stopped"):
        department, resource = scenario["subject"].split(".")
        mine = [p for p in packages if (p["department"], p["resource"]) == (department, resource)]
        last = max(datetime.fromisoformat(p["extracted_at"]) for p in mine)
        assert as_of - last > timedelta(days=3) and all(p["inbox"] == "inbox" for p in mine)
        assert last == datetime.fromisoformat(json.loads(scenario["planted"])["last_extracted_at"])


def test_the_late_resource_pauses_then_delivers_the_backlog_in_one_package(city, scenarios, packages):
    for scenario in _planted(scenarios, "quality_drop"):
        department, resource = scenario["subject"].split(".")
        mine = sorted((p for p in packages if (p["department"], p["resource"]) == (department, resource)
                       and p["mode"] == "incremental"), key=lambda p: p["sequence"])
        last, before = mine[-1], mine[-2]
        gap = datetime.fromisoformat(last["extracted_at"]) - datetime.fromisoformat(before["extracted_at"])
        assert gap > timedelta(days=2) and last["round"] == GOLDEN["days"]
        assert [p["sequence"] for p in mine] == list(range(2, len(mine) + 2))
        # the backlog: every event reported while it paused is in the late package
        folder = city / last["path"]
        reported = {r.values["reported_at"][:10] for r in rows(folder, json.loads((folder / "manifest.json").read_text()))}
        paused = {(datetime.fromisoformat(before["extracted_at"]) + timedelta(days=n)).date().isoformat()
                  for n in range(0, gap.days)}
        events = pq.read_table(city / "truth" / "grid_events").to_pylist()
        assert {e["reported_at"].date().isoformat() for e in events} & paused <= reported


def test_insured_after_death_is_kept_in_the_golden_city(city, scenarios):
    conflicts = {c["key"] for c in pq.read_table(city / "truth" / "conflicts.parquet").to_pylist()
                 if c["kind"] == "insured_after_death"}
    recorded = {s["subject"] for s in scenarios if s["rule"] == "insured_after_death"}
    assert conflicts and recorded == conflicts


def test_the_fact_tables_are_the_final_state_of_their_deliveries(city, packages):
    catalog, faults = load_catalog(), []

    def state(department, resource):
        return final_state(city, catalog.resource(department, resource), packages, faults)

    def truth(name):
        return pq.read_table(city / "truth" / name).to_pylist()

    events = state("grid", "event")
    assert {e["event_id"]: (e["street_code"], e["status"], e["closed_at"] is not None) for e in truth("grid_events")} \
        == {k: (v["street_code"], v["status"], v["closed_at"] is not None) for k, v in events.items()}
    licences = state("amr", "administrative_license")
    assert {t["case_no"]: str(t["valid_to"]) for t in truth("licences")} == {k: v["valid_to"] for k, v in licences.items()}
    penalties = state("amr", "administrative_penalty")
    assert {t["case_no"]: t["amount"] and f"{t['amount']:.2f}" for t in truth("penalties")} \
        == {k: v["amount"] for k, v in penalties.items()}
    tax = state("tax", "tax_payment")
    assert {f"{t['uscc']}|{t['tax_period']}": (f"{t['payable']:.2f}", f"{t['arrears']:.2f}") for t in truth("tax")} \
        == {k: (v["YNSE"], v["QSE"]) for k, v in tax.items()}


def _digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_seed_plants_the_same_scenarios(city, tmp_path):
    again = tmp_path / "again"
    generate_city(again, faults=_golden_faults(), progress=False, **GOLDEN)
    assert _digests(again / "truth") == _digests(city / "truth")


def test_no_scenarios_plants_nothing(tmp_path, golden):
    out = tmp_path / "plain"
    summary = generate_city(out, faults=_golden_faults(), scenarios=Scenarios.none(), progress=False, **GOLDEN)
    assert summary.scenarios == {} and summary.skipped_scenarios == []
    found = pq.read_table(out / "truth" / "scenarios.parquet").to_pylist()
    assert all(s["origin"] != "planted" for s in found)
    assert not {s["rule"] for s in found} & {"enterprise_distress", "delivery_stopped", "quality_drop", "event_surge",
                                             "overcrowded_unit", "ageing_street"}
    # every daily resource delivers every day, and no household lives elsewhere than the layout says
    daily = Counter(p["resource"] for p in pq.read_table(out / "truth" / "packages.parquet").to_pylist()
                    if p["mode"] == "incremental" and p["round"] >= 1)
    assert daily["administrative_license"] == daily["event"] == GOLDEN["days"]
    assert summary.entities["grid_events"] < golden[1].entities["grid_events"]


def test_a_longer_city_with_faults_plants_what_its_days_can_show(small_city):
    """The 30-day city from the first of January: no social insurance delivery on a month's first
    day after the start, so no distress can show; every other scenario is planted and raised."""
    city, summary = small_city
    found = pq.read_table(city / "truth" / "scenarios.parquet").to_pylist()
    planted = {s["rule"] for s in found if s["origin"] == "planted"}
    assert planted == RULES - {"insured_after_death", "enterprise_distress"}
    assert all(s["raised"] for s in found if s["origin"] == "planted")
    assert any(reason.startswith("enterprise_distress:") for reason in summary.skipped_scenarios)
