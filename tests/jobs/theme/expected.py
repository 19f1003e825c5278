"""Thematic figures and warnings computed from a generated city's ground truth with pandas, apart
from the Spark SQL that builds them: what the golden tests compare the lake's tables with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

CITY_TIME = "Asia/Shanghai"


def read_truth(city: Path, name: str) -> pd.DataFrame:
    path = city / "truth" / name
    if not path.exists():
        path = city / "truth" / f"{name}.parquet"
    return ds.dataset(path).to_table().to_pandas()


@dataclass(frozen=True)
class Months:
    """The lake's months (first day) and the time each month's figures describe, from the
    deliveries the truth says were landed."""

    points: dict[pd.Timestamp, pd.Timestamp]
    first: pd.Timestamp
    as_of: pd.Timestamp


def landed_extractions(packages: pd.DataFrame) -> pd.DataFrame:
    """The landed packages with their extraction time in the city's time."""
    landed = packages[packages.expected_status == "landed"].copy()
    landed["extracted_at"] = pd.to_datetime(landed.extracted_at, utc=True).dt.tz_convert(CITY_TIME)
    return landed


def last_extracted(packages: pd.DataFrame, resource: str) -> pd.Timestamp:
    landed = landed_extractions(packages)
    department, code = resource.split(".")
    return landed[(landed.department == department) & (landed.resource == code)].extracted_at.max()


def months(packages: pd.DataFrame) -> Months:
    extracted = landed_extractions(packages).extracted_at
    first, as_of = extracted.min(), extracted.max()
    points = {}
    month = first.normalize().replace(day=1)
    while month <= as_of:
        following = month + pd.offsets.MonthBegin(1)
        points[month] = min(following - pd.Timedelta(seconds=1), as_of)
        month = following
    return Months(points, first, as_of)


def state_at(history: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    valid = (history.valid_from <= at) & (history.valid_to.isna() | (history.valid_to > at))
    return history[valid]


def age_at(birth: pd.Series, at: pd.Timestamp) -> pd.Series:
    born = pd.to_datetime(birth)
    before_birthday = (born.dt.month > at.month) | ((born.dt.month == at.month) & (born.dt.day > at.day))
    return at.year - born.dt.year - before_birthday.astype(int)


def in_month(dates: pd.Series, month: pd.Timestamp) -> pd.Series:
    values = pd.to_datetime(dates)
    return (values.dt.year == month.year) & (values.dt.month == month.month)


def population_street_month(persons: pd.DataFrame, units: pd.DataFrame, buildings: pd.DataFrame,
                            calendar: Months) -> pd.DataFrame:
    """theme.population_street_month's counts per (street_code, month)."""
    unit_street = units.drop_duplicates("unit_code").merge(
        buildings[["building_code", "street_code"]], on="building_code")[["unit_code", "street_code"]]
    frames = []
    for month, at in calendar.points.items():
        state = state_at(persons, at)
        alive = state[state.status == "alive"].copy()
        alive["age"] = age_at(alive.birth_date, at)
        living = alive.groupby("residence_street").agg(
            residents=("id_number", "size"),
            registered=("residence_type", lambda t: (t == "户籍").sum()),
            migrant=("residence_type", lambda t: (t == "流动").sum()),
            overseas=("residence_type", lambda t: (t == "境外").sum()),
            male=("gender", lambda g: (g == "1").sum()),
            female=("gender", lambda g: (g == "2").sum()),
            aged_65_plus=("age", lambda a: (a >= 65).sum()),
            births=("birth_date", lambda b: in_month(b, month).sum()))
        dead = state[(state.status == "deceased") & in_month(state.death_date, month)]
        deaths = dead.groupby("residence_street").size().rename("deaths")
        registered = alive[(alive.residence_type == "户籍") & (alive.domicile_unit != alive.residence_unit)]
        elsewhere = (registered.merge(unit_street, left_on="domicile_unit", right_on="unit_code")
                     .groupby("street_code").size().rename("registered_living_elsewhere"))
        table = living.join(deaths, how="outer").join(elsewhere, how="outer").fillna(0).astype(int)
        table.index.name = "street_code"
        frames.append(table.reset_index().assign(month=month, month_label=month.strftime("%Y-%m")))
    return pd.concat(frames, ignore_index=True)


def insured_headcount(persons: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Persons insured and paying per employer at a time."""
    state = state_at(persons, at)
    paying = state[state.employer_uscc.notna() & (state.insurance_status == "参保缴费")]
    return paying.groupby("employer_uscc").id_number.nunique()


def enterprise_month(enterprises: pd.DataFrame, persons: pd.DataFrame, calendar: Months,
                     insurance_known: pd.Timestamp, register_known: pd.Timestamp) -> pd.DataFrame:
    """theme.enterprise_month's registered enterprises with status and headcount per (uscc, month):
    the register and the headcount as market regulation and social insurance had delivered them
    by the month's end."""
    frames = []
    for month, at in calendar.points.items():
        state = state_at(enterprises, min(at, register_known))[["uscc", "status", "industry_code", "division_code",
                                                                "established_on"]].copy()
        headcount = insured_headcount(persons, min(at, insurance_known))
        state["insured_headcount"] = state.uscc.map(headcount).fillna(0).astype(int)
        state["active"] = state.status.isin(["存续", "在业"])
        frames.append(state.assign(month=month, month_label=month.strftime("%Y-%m")))
    return pd.concat(frames, ignore_index=True)


def enterprise_tax_period(tax: pd.DataFrame, enterprises: pd.DataFrame, tax_known: pd.Timestamp,
                          register_known: pd.Timestamp) -> pd.DataFrame:
    """theme.enterprise_tax_period: every tax period declared by the lake's last tax extraction, per
    (uscc, tax_period), with the district and industry section of the enterprise as registered."""
    declared = tax[tax.changed_at <= tax_known]
    registered = state_at(enterprises, register_known)[["uscc", "division_code", "industry_code"]]
    rows = declared.merge(registered, on="uscc", how="left")
    return pd.DataFrame({"uscc": rows.uscc, "tax_period": rows.tax_period,
                         "tax_payable": rows.payable.astype(float), "tax_paid": rows.paid.astype(float),
                         "tax_arrears": rows.arrears.astype(float), "district_code": rows.division_code,
                         "industry_section": rows.industry_code.str[0]})


def industry_month(enterprises: pd.DataFrame, registered: pd.DataFrame, calendar: Months,
                   register_known: pd.Timestamp) -> pd.DataFrame:
    """theme.industry_month's births, closures, operating enterprises and employment."""
    enterprises = enterprises[enterprises.valid_from <= register_known]
    registered = registered.assign(industry_section=registered.industry_code.str[0],
                                   district_code=registered.division_code)
    keys = ["industry_section", "district_code", "month_label"]
    operating = (registered[registered.active].groupby(keys)
                 .agg(active_enterprises=("uscc", "size"), insured_employment=("insured_headcount", "sum")))
    history = enterprises.sort_values(["uscc", "valid_from"]).copy()
    history["active"] = history.status.isin(["存续", "在业"])
    history["was_active"] = history.groupby("uscc").active.shift()
    rows: dict[str, list[pd.Series]] = {"births": [], "closures": []}
    for month, at in calendar.points.items():
        label = month.strftime("%Y-%m")
        born = history[in_month(history.established_on, month)].drop_duplicates("uscc")
        closed = history[(history.valid_from <= min(at, register_known)) & in_month(history.valid_from.dt.tz_convert(CITY_TIME), month)
                         & ~history.active & (history.was_active == True)]  # noqa: E712 - NaN is not True
        for frame, column in ((born, "births"), (closed, "closures")):
            counted = frame.assign(industry_section=frame.industry_code.str[0], district_code=frame.division_code,
                                   month_label=label).groupby(keys).uscc.nunique().rename(column)
            rows[column].append(counted)
    events = pd.concat([pd.concat(series) for series in rows.values()], axis=1)
    table = operating.join(events, how="outer").fillna(0).astype(int)
    return table.reset_index()


def credit(enterprises: pd.DataFrame, licences: pd.DataFrame, penalties: pd.DataFrame, tax: pd.DataFrame,
           calendar: Months, serious: list[str], register_known: pd.Timestamp) -> pd.DataFrame:
    """theme.credit_enterprise_month's windows and class per (uscc, month), the class by the rules
    of conf/themes.yml written out again here."""
    rows = []
    licence_days = pd.to_datetime(licences.decision_date)
    penalty_days = pd.to_datetime(penalties.decision_date)
    for month, at in calendar.points.items():
        day = pd.Timestamp(at.date())
        since_12, since_36 = day - pd.DateOffset(months=12), day - pd.DateOffset(months=36)
        period = month.strftime("%Y%m")
        first_period = (month - pd.DateOffset(months=12)).strftime("%Y%m")
        periods = tax[tax.tax_period <= period].sort_values("tax_period")
        latest = periods.groupby("uscc").last()
        arrears_periods = periods[(periods.arrears.astype(float) > 0) & (periods.tax_period > first_period)] \
            .groupby("uscc").size()
        for entity in state_at(enterprises, min(at, register_known)).itertuples():
            mine_l = licence_days[(licences.uscc == entity.uscc) & (licence_days <= day)]
            mine_p = penalties[(penalties.uscc == entity.uscc) & (penalty_days <= day)]
            p_days = penalty_days[mine_p.index]
            row = {"uscc": entity.uscc, "month_label": month.strftime("%Y-%m"), "status": entity.status,
                   "licences_12m": int((mine_l > since_12).sum()), "licences_36m": int((mine_l > since_36).sum()),
                   "penalties_12m": int((p_days > since_12).sum()), "penalties_36m": int((p_days > since_36).sum()),
                   "serious_penalties_36m": int(mine_p[p_days > since_36].penalty_type.isin(serious).sum()),
                   "latest_tax_arrears": float(latest.arrears.get(entity.uscc, 0) or 0),
                   "arrears_periods_12m": int(arrears_periods.get(entity.uscc, 0))}
            row["credit_class"] = credit_class(row)
            rows.append(row)
    return pd.DataFrame(rows)


def credit_class(row: dict) -> str:
    if row["status"] == "吊销" or row["serious_penalties_36m"] > 0 or row["arrears_periods_12m"] >= 3:
        return "D"
    if row["penalties_12m"] > 0 or row["latest_tax_arrears"] > 0:
        return "C"
    if row["penalties_36m"] > 0:
        return "B"
    return "A"


def housing_unit_use(units: pd.DataFrame, persons: pd.DataFrame, calendar: Months, limit: int) -> pd.DataFrame:
    """theme.housing_unit_use's residents per unit at the as-of time."""
    state = state_at(persons, calendar.as_of)
    alive = state[state.status == "alive"]
    current = state_at(units, calendar.as_of)[["unit_code"]].copy()
    residents = alive.groupby("residence_unit").size()
    registered = alive[alive.residence_type == "户籍"].groupby("domicile_unit").size()
    current["residents"] = current.unit_code.map(residents).fillna(0).astype(int)
    current["registered_residents"] = current.unit_code.map(registered).fillna(0).astype(int)
    current["overcrowded"] = current.residents > limit
    current["registered_nobody_living"] = (current.registered_residents > 0) & (current.residents == 0)
    return current


def housing_building_month(units: pd.DataFrame, persons: pd.DataFrame, calendar: Months, limit: int) -> pd.DataFrame:
    """theme.housing_building_month's units, occupancy and owners per (building_code, month)."""
    frames = []
    for month, at in calendar.points.items():
        state = state_at(persons, at)
        residents = state[state.status == "alive"].groupby("residence_unit").size()
        current = state_at(units, at).copy()
        current["residents"] = current.unit_code.map(residents)
        residential = current.use == "住宅"
        grouped = current.assign(
            residential=residential, occupied=current.residents > 0,
            vacant=residential & current.residents.isna(), overcrowded=current.residents > limit,
            person=current.owner_kind == "person", enterprise=current.owner_kind == "enterprise",
        ).groupby("building_code").agg(
            units=("unit_code", "size"), residential_units=("residential", "sum"), occupied_units=("occupied", "sum"),
            vacant_residential_units=("vacant", "sum"), overcrowded_units=("overcrowded", "sum"),
            residents=("residents", "sum"), person_owned_units=("person", "sum"),
            enterprise_owned_units=("enterprise", "sum"))
        frames.append(grouped.astype(int).reset_index().assign(month_label=month.strftime("%Y-%m")))
    return pd.concat(frames, ignore_index=True)


def grid_event_day(events: pd.DataFrame, calendar: Months) -> pd.DataFrame:
    """theme.grid_event_day's events reported and closed per (street_code, event_type, day)."""
    reported = events[events.reported_at <= calendar.as_of]
    closed = events[events.closed_at.notna() & (events.closed_at <= calendar.as_of)]
    days = pd.concat([
        reported.assign(day=reported.reported_at.dt.strftime("%Y-%m-%d"), reported=1, closed=0),
        closed.assign(day=closed.closed_at.dt.strftime("%Y-%m-%d"), reported=0, closed=1)])
    return days.groupby(["street_code", "event_type", "day"])[["reported", "closed"]].sum().reset_index()
