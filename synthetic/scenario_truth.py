"""truth/scenarios.parquet: every subject an early-warning rule holds for in the ground truth,
planted (scenarios.py) or arising on its own, so that the lake's warnings can be checked both
ways: every planted scenario raised, no warning without a cause here.

The rules of conf/warnings.yml (thresholds from there, and the housing limit from
conf/themes.yml) are evaluated on the truth tables as the lake evaluates them on its own:

- as_of is the latest extraction time of a delivery that lands; the months run from the month of
  the first delivery to as_of's, each month's state taken at its last second (as_of for its own);
- ages are full years as Spark's floor(months_between(at, birth_date) / 12) counts them;
- insured headcounts are the persons whose state is 参保缴费 with the employer, as social
  insurance knows them: at a month's end, or at its last extraction if that came before;
- grid events count by the day (Asia/Shanghai) of reported_at, days without events as 0, the
  baseline's sd the population sd (stddev_pop);
- quality scores are those of a city whose rows all pass their checks: a day's score drops only
  by a batch delivered later than its cycle allows after the one before (exact for a city
  generated with FaultRates.none(); row faults move scores a little more).

Columns:
    rule          a rule of conf/warnings.yml
    subject_type  enterprise | street | housing_unit | resource | person
    subject       USCC, 9-digit street code, housing unit code, department.resource, ID number
    subject_name  the name people read (enterprise, street, unit address, resource, person)
    origin        planted (scenarios.py), injected (a fault rate's cross-department conflict) or
                  natural (arising from the city's own life)
    raised        whether the rule holds for the subject in the truth (a planted scenario that
                  does not hold would be a generator bug: the tests check none is)
    severity      low | medium | high, as the rule grades it (null when not raised)
    numbers       JSON: the rule's evidence as computed from the truth (its `evidence` names)
    planted       JSON: what the scenario plan did (null unless planted)
    detail        what was planted, or why the rule holds
"""

from __future__ import annotations

import json
import math
from calendar import monthrange
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from citylake.catalog import Catalog
from citylake.rules import load_rules
from synthetic.world import SyntheticCity

CHINA = ZoneInfo("Asia/Shanghai")
INSURED = "参保缴费"
CYCLE_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "yearly": 366}
SCHEMA = pa.schema([("rule", pa.string()), ("subject_type", pa.string()), ("subject", pa.string()),
                    ("subject_name", pa.string()), ("origin", pa.string()), ("raised", pa.bool_()),
                    ("severity", pa.string()), ("numbers", pa.string()), ("planted", pa.string()),
                    ("detail", pa.string())])


@dataclass(frozen=True)
class Thresholds:
    """The rules' parameters: conf/warnings.yml's `params` by rule, the limit of conf/themes.yml."""

    distress_months: int = 3
    distress_min_headcount: int = 5
    distress_drop_pct: float = 30
    distress_high_drop_pct: float = 50
    ageing_min_residents: int = 20
    ageing_share: float = 0.30
    ageing_high_share: float = 0.40
    ageing_rise_points: float = 5.0
    surge_recent_days: int = 7
    surge_baseline_days: int = 28
    surge_k: float = 3.0
    surge_high_k: float = 5.0
    surge_min_events: int = 5
    max_residents_per_unit: int = 6
    overcrowded_high_factor: float = 2
    stopped_days: dict = field(default_factory=lambda: {"daily": 3, "weekly": 10, "monthly": 35, "quarterly": 100,
                                                        "yearly": 400})
    stopped_high_factor: float = 3
    quality_previous_days: int = 7
    quality_min_previous_days: int = 2
    quality_drop_points: float = 10.0
    quality_high_drop_points: float = 30.0

    # (field, rule, param) read from conf/warnings.yml
    _FROM_CONF = [("distress_months", "enterprise_distress", "months"),
                  ("distress_min_headcount", "enterprise_distress", "min_headcount"),
                  ("distress_drop_pct", "enterprise_distress", "drop_pct"),
                  ("distress_high_drop_pct", "enterprise_distress", "high_drop_pct"),
                  ("ageing_min_residents", "ageing_street", "min_residents"),
                  ("ageing_share", "ageing_street", "share"), ("ageing_high_share", "ageing_street", "high_share"),
                  ("ageing_rise_points", "ageing_street", "rise_points"),
                  ("surge_recent_days", "event_surge", "recent_days"),
                  ("surge_baseline_days", "event_surge", "baseline_days"), ("surge_k", "event_surge", "k"),
                  ("surge_high_k", "event_surge", "high_k"), ("surge_min_events", "event_surge", "min_events"),
                  ("overcrowded_high_factor", "overcrowded_unit", "high_factor"),
                  ("stopped_high_factor", "delivery_stopped", "high_factor"),
                  ("quality_previous_days", "quality_drop", "previous_days"),
                  ("quality_min_previous_days", "quality_drop", "min_previous_days"),
                  ("quality_drop_points", "quality_drop", "drop_points"),
                  ("quality_high_drop_points", "quality_drop", "high_drop_points")]

    @classmethod
    def from_conf(cls, conf_dir: Path) -> Thresholds:
        """The thresholds of the configuration's warning rules (these defaults where it has none)."""
        values: dict = {}
        warnings = _yaml(conf_dir / "warnings.yml").get("rules", {})
        for name, rule, param in cls._FROM_CONF:
            value = warnings.get(rule, {}).get("params", {}).get(param)
            if value is not None:
                values[name] = value
        stopped = warnings.get("delivery_stopped", {}).get("params", {})
        days = {cycle: stopped[f"{cycle}_days"] for cycle in CYCLE_DAYS if f"{cycle}_days" in stopped}
        if days:
            values["stopped_days"] = {**cls().stopped_days, **days}
        limit = _yaml(conf_dir / "themes.yml").get("params", {}).get("max_residents_per_unit")
        if limit is not None:
            values["max_residents_per_unit"] = limit
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def _yaml(path: Path) -> dict:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@dataclass(frozen=True)
class Found:
    """A subject a rule holds for, with its grade and evidence."""

    rule: str
    subject_type: str
    subject: str
    name: str | None
    severity: str
    numbers: dict
    origin: str = "natural"
    detail: str | None = None


@dataclass(frozen=True)
class Month:
    start: date
    at: datetime     # the month's last second, or as_of for its own month


# ---------------------------------------------------------------------------- the truth as the lake sees it


class Truth:
    """The truth tables of a generated city and the lake's clock over them."""

    def __init__(self, folder: Path, city: SyntheticCity) -> None:
        self.folder, self.city, self.catalog = folder, city, city.catalog
        self.packages = pl.read_parquet(folder / "packages.parquet").with_columns(
            pl.col("extracted_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%z").dt.convert_time_zone("Asia/Shanghai"))
        landed = self.landed()
        self.first: datetime = landed["extracted_at"].min()
        self.as_of: datetime = landed["extracted_at"].max()
        self.months = _months(self.first, self.as_of)

    def landed(self) -> pl.DataFrame:
        """The packages the lake lands: all but those rejected, replayed or held for good."""
        status, fault = pl.col("expected_status"), pl.col("fault").fill_null("")
        return self.packages.filter((status == "landed") | ((status == "held") & (fault != "district_missing")))

    def last_extracted(self, code: str) -> datetime:
        department, resource = code.split(".")
        landed = self.landed().filter((pl.col("department") == department) & (pl.col("resource") == resource))
        return landed["extracted_at"].max()

    def table(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.folder / name / "*.parquet")

    def persons_at(self, at: datetime) -> pl.LazyFrame:
        return _state_at(self.table("persons"), at)


def _months(first: datetime, as_of: datetime) -> list[Month]:
    months, start = [], date(first.year, first.month, 1)
    while start <= as_of.date():
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = datetime.combine(following, datetime.min.time(), CHINA) - timedelta(seconds=1)
        months.append(Month(start, min(end, as_of)))
        start = following
    return months


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _state_at(frame: pl.LazyFrame, at: datetime) -> pl.LazyFrame:
    """The versions valid at a time."""
    return frame.filter((pl.col("valid_from") <= at) & (pl.col("valid_to").is_null() | (pl.col("valid_to") > at)))


def aged(at: datetime, years: int) -> pl.Expr:
    """floor(months_between(at, birth_date) / 12) >= years, with Spark's months_between: whole
    months when the days of month are equal or both the last, otherwise a month less when at's
    day of month comes before the birth's."""
    birth = pl.col("birth_date")
    months = (at.year - birth.dt.year().cast(pl.Int64)) * 12 + (at.month - birth.dt.month().cast(pl.Int64))
    both_last = (at.day == monthrange(at.year, at.month)[1]) & (birth.dt.day() == birth.dt.month_end().dt.day())
    short = (pl.lit(at.day) < birth.dt.day()) & ~both_last
    return (months - short.cast(pl.Int64)) // 12 >= years


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


# ---------------------------------------------------------------------------- the rules


def enterprise_distress(truth: Truth, th: Thresholds) -> list[Found]:
    latest = truth.months[-1]
    earliest = _add_months(latest.start, -th.distress_months)
    previous = [m for m in truth.months[:-1] if m.start >= earliest]
    if not previous:
        return []
    insurance_known = truth.last_extracted("hrss.social_insurance")
    if insurance_known is None:
        return []

    def headcounts(at: datetime) -> dict[str, int]:
        insured = (truth.persons_at(min(at, insurance_known))
                   .filter((pl.col("insurance_status") == INSURED) & pl.col("employer_uscc").is_not_null())
                   .group_by("employer_uscc").agg(pl.col("person_key").n_unique().alias("n")).collect())
        return dict(zip(insured["employer_uscc"].to_list(), insured["n"].to_list()))

    now = headcounts(latest.at)
    peak: dict[str, int] = {}
    for month in previous:
        for uscc, n in headcounts(month.at).items():
            peak[uscc] = max(peak.get(uscc, 0), n)
    registered = _state_at(truth.table("enterprises"), latest.at).select("uscc", "name").collect()
    names = dict(zip(registered["uscc"].to_list(), registered["name"].to_list()))
    recent_from = max(_add_months(latest.start, -(th.distress_months - 1)), truth.months[0].start)
    penalties = (truth.table("penalties").filter(pl.col("decision_date") >= recent_from)
                 .group_by("uscc").len().collect())
    recent = dict(zip(penalties["uscc"].to_list(), penalties["len"].to_list()))
    period = f"{latest.start:%Y%m}"
    tax = (truth.table("tax").filter(pl.col("tax_period") <= period).sort("tax_period")
           .group_by("uscc").agg(pl.col("tax_period").last(), pl.col("arrears").last()).collect())
    latest_tax = {u: (p, float(a)) for u, p, a in zip(tax["uscc"].to_list(), tax["tax_period"].to_list(),
                                                      tax["arrears"].to_list())}
    found = []
    for uscc, top in sorted(peak.items()):
        headcount = now.get(uscc, 0)
        tax_period, arrears = latest_tax.get(uscc, (None, 0.0))
        fell = (top - headcount) * 100 >= th.distress_drop_pct * top
        if uscc not in names or top < th.distress_min_headcount or not fell or not (arrears > 0 or recent.get(uscc)):
            continue
        severity = "high" if (top - headcount) * 100 >= th.distress_high_drop_pct * top else "medium"
        found.append(Found("enterprise_distress", "enterprise", uscc, names[uscc], severity, {
            "headcount_peak": top, "headcount_now": headcount, "drop_pct": _pct(top - headcount, top),
            "latest_tax_period": tax_period, "latest_tax_arrears": arrears,
            "penalties_recent": recent.get(uscc, 0)}))
    return found


def ageing_street(truth: Truth, th: Thresholds) -> list[Found]:
    def street_ages(month: Month) -> pl.DataFrame:
        return (truth.persons_at(month.at)
                .filter((pl.col("status") == "alive") & pl.col("residence_street").is_not_null())
                .group_by("residence_street")
                .agg(pl.len().alias("residents"), aged(month.at, 65).sum().alias("aged"))
                .with_columns((pl.col("aged") / pl.col("residents")).alias("share")).collect())

    latest = truth.months[-1]
    now = street_ages(latest)
    then: dict[str, float] = {}
    for month in reversed(truth.months[:-1]):   # the earliest qualifying month wins
        if month.start < _add_months(latest.start, -12):
            continue
        past = street_ages(month).filter(pl.col("residents") >= th.ageing_min_residents)
        then.update(zip(past["residence_street"].to_list(), past["share"].to_list()))
    streets = {s.code: s.name for s in truth.city.layout.streets}
    found = []
    for street, residents, old, share in now.sort("residence_street").iter_rows():
        rise = round(100 * (share - then[street]), 1) if street in then else None
        if residents < th.ageing_min_residents or not (
                share >= th.ageing_share or (street in then and 100 * (share - then[street]) >= th.ageing_rise_points)):
            continue
        severity = "high" if share >= th.ageing_high_share else "medium" if share >= th.ageing_share else "low"
        found.append(Found("ageing_street", "street", street, streets.get(street), severity, {
            "month_label": f"{latest.start:%Y-%m}", "residents": residents, "aged_65_plus": old,
            "share_65_plus_pct": round(100 * share, 1), "rise_points": rise}))
    return found


def event_surge(truth: Truth, th: Thresholds) -> list[Found]:
    as_of, day0 = truth.as_of, truth.as_of.date()
    span = th.surge_recent_days + th.surge_baseline_days
    first = day0 - timedelta(days=span - 1)
    events = truth.table("grid_events").collect()
    streets = sorted(set(events.filter(pl.col("reported_at") <= as_of)["street_code"].to_list())
                     | set(events.filter(pl.col("closed_at") <= as_of)["street_code"].to_list()))
    daily = (events.filter(pl.col("reported_at") <= as_of)
             .with_columns(pl.col("reported_at").dt.date().alias("day"))
             .filter(pl.col("day") >= first).group_by("street_code", "day").len())
    row = {s: n for n, s in enumerate(streets)}
    counts = np.zeros((len(streets), span), dtype=np.int64)
    for street, day, n in daily.iter_rows():
        counts[row[street], (day - first).days] = n
    best: dict[str, tuple] = {}
    for j in range(th.surge_baseline_days, span):
        baseline = counts[:, j - th.surge_baseline_days:j].astype(np.float64)
        mean, sd = baseline.mean(axis=1), baseline.std(axis=1)
        surging = (counts[:, j] >= th.surge_min_events) & (counts[:, j] > mean + th.surge_k * sd)
        for i in np.flatnonzero(surging):
            excess = counts[i, j] - mean[i]
            if streets[i] not in best or excess >= best[streets[i]][0]:   # later days win ties
                best[streets[i]] = (excess, j, counts[i, j], mean[i], sd[i])
    names = {s.code: s.name for s in truth.city.layout.streets}
    found = []
    for street, (_, j, n, mean, sd) in sorted(best.items()):
        severity = "high" if n > mean + th.surge_high_k * sd else "medium"
        found.append(Found("event_surge", "street", street, names.get(street), severity, {
            "day": (first + timedelta(days=j)).isoformat(), "events": int(n), "baseline_mean": round(float(mean), 2),
            "baseline_sd": round(float(sd), 2)}))
    return found


def _unit_names(truth: Truth, units: list[str]) -> dict[str, str]:
    """The address of each of these housing units (building address, room number, 室)."""
    wanted = truth.table("units").filter(pl.col("unit_code").is_in(units))
    named = (wanted.select("unit_code", "building_code", "room_no").unique("unit_code")
             .join(truth.table("buildings").select("building_code", "address"), on="building_code", how="left")
             .select("unit_code", pl.concat_str("address", "room_no", pl.lit("室")).alias("address")).collect())
    return dict(zip(named["unit_code"].to_list(), named["address"].to_list()))


def housing_units(truth: Truth, th: Thresholds) -> list[Found]:
    """overcrowded_unit and empty_registered_unit: residents and registered residents at as_of."""
    alive = truth.persons_at(truth.as_of).filter(pl.col("status") == "alive")
    residents = (alive.filter(pl.col("residence_unit").is_not_null())
                 .group_by(pl.col("residence_unit").alias("unit")).agg(pl.len().alias("residents")))
    registered = (alive.filter((pl.col("residence_type") == "户籍") & pl.col("domicile_unit").is_not_null())
                  .group_by(pl.col("domicile_unit").alias("unit")).agg(pl.len().alias("registered")))
    limit = th.max_residents_per_unit
    crowded = residents.filter(pl.col("residents") > limit).sort("unit").collect()
    empty = (registered.join(residents, on="unit", how="anti")
             .join(truth.table("units").select(pl.col("unit_code").alias("unit")).unique(), on="unit", how="semi")
             .sort("unit").collect())
    names = _unit_names(truth, crowded["unit"].to_list() + empty["unit"].to_list())
    found = []
    for unit, n in crowded.iter_rows():
        severity = "high" if n >= th.overcrowded_high_factor * limit else "medium"
        found.append(Found("overcrowded_unit", "housing_unit", unit, names.get(unit), severity, {"residents": n}))
    for unit, n in empty.iter_rows():
        found.append(Found("empty_registered_unit", "housing_unit", unit, names.get(unit), "low",
                           {"registered_residents": n}))
    return found


def _shortest_cycle(cycles) -> str:
    return min(cycles, key=lambda name: CYCLE_DAYS[name])


def delivery_stopped(truth: Truth, th: Thresholds) -> list[Found]:
    found = []
    for resource in truth.catalog:
        code = resource.qualified_code
        last = truth.last_extracted(code)
        if last is None:
            continue
        cycle = _shortest_cycle(resource.cycle.values())
        tolerance = th.stopped_days[cycle]
        days = (truth.as_of - last).total_seconds() / 86400
        if days > tolerance:
            severity = "high" if days > th.stopped_high_factor * tolerance else "medium"
            found.append(Found("delivery_stopped", "resource", code, _resource_name(truth.catalog, code), severity, {
                "cycle": cycle, "last_extracted_at": last.isoformat(), "days_since": round(days, 1),
                "tolerance_days": tolerance}))
    return found


def _resource_name(catalog: Catalog, code: str) -> str:
    resource = next(r for r in catalog if r.qualified_code == code)
    return f"{catalog.department(resource.department).name} {resource.name}"


def quality_drop(truth: Truth, th: Thresholds) -> list[Found]:
    rules = load_rules(truth.catalog, truth.catalog.conf_dir)
    landed = truth.landed()
    found = []
    for resource in truth.catalog:
        own = rules.rules_for(resource)
        batches = (landed.filter((pl.col("department") == resource.department) & (pl.col("resource") == resource.code))
                   .unique("batch_id").sort("sequence"))
        scores = _day_scores(batches, resource, own)
        if len(scores) < th.quality_min_previous_days + 1:
            continue
        days = sorted(scores)[-(th.quality_previous_days + 1):]
        latest, previous = scores[days[-1]], [scores[d] for d in days[:-1]]
        mean = sum(previous) / len(previous)
        if mean - latest >= th.quality_drop_points:
            severity = "high" if mean - latest >= th.quality_high_drop_points else "medium"
            code = resource.qualified_code
            found.append(Found("quality_drop", "resource", code, _resource_name(truth.catalog, code), severity, {
                "day": days[-1].isoformat(), "score": round(latest, 1), "previous_mean": round(mean, 1),
                "drop_points": round(mean - latest, 1)}))
    return found


def _day_scores(batches: pl.DataFrame, resource, rules) -> dict[date, float]:
    """Each extraction day's score when every row passes: timeliness fails for a batch delivered
    later than its cycle (and grace) allows after the previous one of its mode."""
    row_kinds = 3 + (1 if rules.referential else 0)   # completeness, validity, uniqueness, referential
    per_day: dict[date, list[tuple[int, bool]]] = {}
    rows = batches.select("mode", "sequence", "extracted_at", "rows").to_dicts()
    for batch in rows:
        earlier = [b["extracted_at"] for b in rows if b["mode"] == batch["mode"] and b["sequence"] < batch["sequence"]]
        cycle = resource.cycle.get(batch["mode"])
        late = bool(earlier) and cycle is not None and (batch["extracted_at"] - max(earlier)) > timedelta(
            days=CYCLE_DAYS[cycle] + rules.timeliness.grace_days.get(cycle, 0))
        per_day.setdefault(batch["extracted_at"].date(), []).append((batch["rows"], late))
    scores = {}
    for day, measured in per_day.items():
        timely = 1 - sum(late for _, late in measured) / len(measured)
        with_rows = sum(n for n, _ in measured) > 0
        scores[day] = 100 * ((row_kinds + timely) / (row_kinds + 1) if with_rows else timely)
    return scores


def insured_after_death(truth: Truth, th: Thresholds) -> list[Found]:
    conflicts = pl.read_parquet(truth.folder / "conflicts.parquet").filter(pl.col("kind") == "insured_after_death")
    if conflicts.is_empty():
        return []
    persons = (truth.table("persons").filter(pl.col("valid_to").is_null() & pl.col("id_number").is_in(
        conflicts["key"].unique().to_list())).select("id_number", "name", "death_date").collect())
    names = {i: (n, d) for i, n, d in persons.iter_rows()}
    found = []
    for key, group in sorted(conflicts.group_by("key"), key=lambda item: item[0][0]):
        person = key[0]
        name, death = names.get(person, (None, None))
        origin = "injected" if "injected" in group["cause"].to_list() else "natural"
        found.append(Found("insured_after_death", "person", person, name, "high", {
            "death_date": death.isoformat() if death else None,
            "insurance_records": ",".join(sorted(set(group["record"].to_list())))}, origin=origin,
            detail=f"social insurance keeps {group.height} record(s) 参保缴费 after the death "
                   f"({', '.join(sorted(set(group['cause'].to_list())))})"))
    return found


RULES = [enterprise_distress, ageing_street, event_surge, housing_units, delivery_stopped, quality_drop,
         insured_after_death]


# ---------------------------------------------------------------------------- the table


def scenario_rows(truth: Truth, thresholds: Thresholds) -> list[dict]:
    """One row per planted scenario and per other subject a rule holds for."""
    found = {(f.rule, f.subject): f for rule in RULES for f in rule(truth, thresholds)}
    plan = truth.city.scenarios
    rows = []
    for planted in plan.planted if plan is not None else []:
        hit = found.pop((planted.rule, planted.subject), None)
        rows.append({"rule": planted.rule, "subject_type": planted.subject_type, "subject": planted.subject,
                     "subject_name": planted.name, "origin": "planted", "raised": hit is not None,
                     "severity": hit.severity if hit else None, "numbers": _json(hit.numbers) if hit else None,
                     "planted": _json(planted.numbers), "detail": planted.detail})
    for f in found.values():
        rows.append({"rule": f.rule, "subject_type": f.subject_type, "subject": f.subject, "subject_name": f.name,
                     "origin": f.origin, "raised": True, "severity": f.severity, "numbers": _json(f.numbers),
                     "planted": None, "detail": f.detail or "holds in the truth without a planted scenario"})
    rows.sort(key=lambda r: (r["rule"], r["subject"]))
    return rows


def _json(values: dict) -> str:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
    return json.dumps(clean, ensure_ascii=False, sort_keys=True)


def write_scenarios(folder: Path, city: SyntheticCity) -> int:
    """Write truth/scenarios.parquet for a city whose other truth tables are written; its rows."""
    truth = Truth(folder, city)
    rows = scenario_rows(truth, Thresholds.from_conf(city.catalog.conf_dir))
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / "scenarios.parquet", compression="zstd")
    return len(rows)
