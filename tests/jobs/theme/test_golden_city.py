"""Golden test: the thematic libraries of the clean golden city against figures computed from its
ground truth with pandas (tests/jobs/theme/expected.py), exactly: population per street and month
and its pyramid, enterprises per month with their insured staff, industries' births, closures and
employment, every declared tax period, credit windows and classes, the 双公示 notice, housing use, grid events per day."""

from __future__ import annotations

import pandas as pd
import pytest

from citylake import lake
from citylake.themes import load_themes
from tests.jobs.theme import expected as truth_of

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def truth(theme_city):
    city = theme_city[0]
    tables = {name: truth_of.read_truth(city, name) for name in
              ("persons", "enterprises", "units", "buildings", "grid_events", "licences", "penalties", "tax")}
    tables["packages"] = pd.read_parquet(city / "truth" / "packages.parquet")
    tables["conflicts"] = pd.read_parquet(city / "truth" / "conflicts.parquet")
    tables["calendar"] = truth_of.months(tables["packages"])
    return tables


def theme(spark, name: str) -> pd.DataFrame:
    frame = lake.read_table(spark, f"theme.{name}").toPandas()
    if "month" in frame:
        frame["month_label"] = pd.to_datetime(frame.month).dt.strftime("%Y-%m")
    return frame


def differences(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], columns: list[str],
                missing_is_zero: bool = False) -> pd.DataFrame:
    """Rows where the lake's figure differs from the truth's; with `missing_is_zero`, a row one
    side lacks counts as zeros there."""
    merged = got[keys + columns].merge(want[keys + columns], on=keys, how="outer", suffixes=("", "_truth"),
                                       indicator=True)
    if missing_is_zero:
        merged = merged.fillna({name: 0 for name in columns} | {f"{name}_truth": 0 for name in columns})
    wrong = pd.Series(False, index=merged.index)
    for column in columns:
        a, b = merged[column], merged[f"{column}_truth"]
        wrong |= ~((a == b) | (a.isna() & b.isna()))
    return merged[wrong]


def test_every_theme_table_is_built_to_the_lakes_as_of_time(theme_city, truth):
    _, _, built, _ = theme_city
    assert set(built.rows) == {f"theme.{name}" for name in load_themes().tables}
    assert built.left_out == {}
    assert all(rows > 0 for rows in built.rows.values()), built.rows
    assert pd.Timestamp(built.as_of).tz_localize(truth_of.CITY_TIME) == truth["calendar"].as_of
    assert len(truth["calendar"].points) == 2  # the golden city spans a month's end


def test_population_per_street_and_month_equals_the_truth(spark, truth):
    want = truth_of.population_street_month(truth["persons"], truth["units"], truth["buildings"], truth["calendar"])
    got = theme(spark, "population_street_month")
    columns = ["residents", "registered", "migrant", "overseas", "male", "female", "aged_65_plus", "births",
               "deaths", "registered_living_elsewhere"]
    wrong = differences(got, want, ["street_code", "month_label"], columns)
    assert wrong.empty, wrong.to_string()
    assert got.residents.sum() > 0 and got.registered_living_elsewhere.sum() > 0 and got.aged_65_plus.sum() > 0
    assert ((got.share_65_plus - got.aged_65_plus / got.residents).abs() < 1e-9).all()
    assert got.street_name.notna().all() and got.district_name.notna().all()


def test_the_population_pyramid_adds_up_to_each_streets_residents(spark, truth):
    pyramid = theme(spark, "population_structure")
    streets = theme(spark, "population_street_month")
    totals = pyramid.groupby(["street_code", "month_label"]).persons.sum().rename("pyramid").reset_index()
    merged = streets.merge(totals, on=["street_code", "month_label"], how="left").fillna({"pyramid": 0})
    assert (merged.pyramid == merged.residents).all()
    by_type = pyramid.groupby(["street_code", "month_label", "residence_type"]).persons.sum().unstack(fill_value=0)
    check = streets.set_index(["street_code", "month_label"])
    assert (by_type.get("流动", 0).reindex(check.index, fill_value=0) == check.migrant).all()
    assert set(pyramid.age_band) <= {f"{a}-{a + 4}" for a in range(0, 85, 5)} | {"85+"}
    assert set(pyramid.gender_name) == {"男 male", "女 female"}


def insured_known(truth: dict) -> pd.Timestamp:
    """Social insurance delivers monthly: the lake knows its state as of its last extraction."""
    return truth_of.last_extracted(truth["packages"], "hrss.social_insurance")


def register_known(truth: dict) -> pd.Timestamp:
    """Market regulation delivers its register weekly: the lake knows it as of its last extract."""
    return truth_of.last_extracted(truth["packages"], "amr.enterprise_registration")


def test_enterprises_per_month_with_their_insured_staff_equal_the_truth(spark, truth):
    """Exactly, but for the persons social insurance still holds as paying after their death (the
    insured-after-death conflict): the lake counts each at the employer hrss names, which the
    truth does not record, so each month's excess is exactly their number."""
    want = truth_of.enterprise_month(truth["enterprises"], truth["persons"], truth["calendar"], insured_known(truth),
                                     register_known(truth))
    got = theme(spark, "enterprise_month")
    wrong = differences(got, want, ["uscc", "month_label"], ["status", "active"])
    assert wrong.empty, wrong.to_string()
    merged = got.merge(want, on=["uscc", "month_label"], suffixes=("", "_truth"))
    excess = merged.insured_headcount - merged.insured_headcount_truth
    dead_but_paying = truth["conflicts"][truth["conflicts"].kind == "insured_after_death"].key.nunique()
    assert (excess >= 0).all() and (merged.assign(excess=excess).groupby("month_label").excess.sum()
                                    == dead_but_paying).all(), merged[excess != 0].to_string()
    assert got.insured_headcount.sum() > 0 and got.industry_name.notna().all() and got.district_name.notna().all()


def test_every_declared_tax_period_of_every_enterprise_equals_the_truth(spark, truth):
    want = truth_of.enterprise_tax_period(truth["tax"], truth["enterprises"],
                                          truth_of.last_extracted(truth["packages"], "tax.tax_payment"),
                                          register_known(truth))
    got = theme(spark, "enterprise_tax_period")
    for column in ("tax_payable", "tax_paid", "tax_arrears"):
        got[column] = got[column].astype(float)
    wrong = differences(got, want, ["uscc", "tax_period"],
                        ["tax_payable", "tax_paid", "tax_arrears", "district_code", "industry_section"])
    assert wrong.empty, wrong.to_string()
    assert got.tax_period.nunique() >= 12, "a year of declared periods: the tax trend has a trend"
    assert (pd.to_datetime(got.period_month).dt.strftime("%Y%m") == got.tax_period).all()
    assert got.district_name.notna().all() and got.industry_name.notna().all()


def test_industry_births_closures_and_employment_equal_the_truth(spark, truth):
    calendar = truth["calendar"]
    enterprises = truth_of.enterprise_month(truth["enterprises"], truth["persons"], calendar, insured_known(truth),
                                            register_known(truth))
    want = truth_of.industry_month(truth["enterprises"], enterprises, calendar, register_known(truth))
    got = theme(spark, "industry_month")
    # employment as the lake counts it is checked per enterprise above
    # a group of deregistered enterprises only is a row of zeros in the lake, none in the truth
    wrong = differences(got, want, ["industry_section", "district_code", "month_label"],
                        ["births", "closures", "active_enterprises"], missing_is_zero=True)
    assert wrong.empty, wrong.to_string()
    assert got.industry_name.notna().all()


def test_credit_windows_and_classes_equal_the_truth(spark, truth):
    want = truth_of.credit(truth["enterprises"], truth["licences"], truth["penalties"], truth["tax"],
                           truth["calendar"], load_themes().params["serious_penalty_types"].split(","),
                           register_known(truth))
    got = theme(spark, "credit_enterprise_month")
    columns = ["licences_12m", "licences_36m", "penalties_12m", "penalties_36m", "serious_penalties_36m",
               "latest_tax_arrears", "arrears_periods_12m", "credit_class"]
    got["latest_tax_arrears"] = got.latest_tax_arrears.astype(float)
    wrong = differences(got, want, ["uscc", "month_label"], columns)
    assert wrong.empty, wrong.to_string()
    assert set(got.credit_class) >= {"A", "B", "C", "D"}, "the golden city has every class"
    assert (got.black_list == (got.credit_class == "D")).all()
    assert not (got.red_list & ~got.active).any()
    classed = got[got.credit_class != "A"]
    assert classed.credit_reasons.map(len).gt(0).all()


def test_the_public_notice_holds_every_decision_and_masks_only_sole_traders(spark, truth):
    got = theme(spark, "credit_publication")
    licences, penalties = truth["licences"], truth["penalties"]
    assert set(got[got.kind == "行政许可"].case_no) == set(licences.case_no)
    assert set(got[got.kind == "行政处罚"].case_no) == set(penalties.case_no)
    sole = got.uscc.str[1] == "2"
    delivered = dict(zip(pd.concat([licences.case_no, penalties.case_no]),
                         pd.concat([licences.party_name, penalties.party_name])))
    assert (got[~sole].party_name == got[~sole].case_no.map(delivered)).all()
    assert not got[~sole].legal_representative.str.contains(r"\*", na=False).any()


def test_housing_use_per_unit_building_and_street_equals_the_truth(spark, truth):
    limit = int(load_themes().params["max_residents_per_unit"])
    calendar = truth["calendar"]
    want = truth_of.housing_unit_use(truth["units"], truth["persons"], calendar, limit)
    got = theme(spark, "housing_unit_use")
    wrong = differences(got, want, ["unit_code"], ["residents", "registered_residents", "overcrowded",
                                                   "registered_nobody_living"])
    assert wrong.empty, wrong.to_string()
    assert got.overcrowded.any() and got.registered_nobody_living.any()
    buildings = truth_of.housing_building_month(truth["units"], truth["persons"], calendar, limit)
    got_buildings = theme(spark, "housing_building_month")
    wrong = differences(got_buildings, buildings, ["building_code", "month_label"],
                        ["units", "residential_units", "occupied_units", "vacant_residential_units",
                         "overcrowded_units", "residents", "person_owned_units", "enterprise_owned_units"])
    assert wrong.empty, wrong.to_string()
    streets = theme(spark, "housing_street_month")
    summed = got_buildings.groupby(["street_code", "month_label"])[["units", "overcrowded_units"]].sum()
    assert (streets.set_index(["street_code", "month_label"])[["units", "overcrowded_units"]]
            .sort_index().equals(summed.sort_index()))


def test_grid_events_per_street_type_and_day_equal_the_truth(spark, truth):
    want = truth_of.grid_event_day(truth["grid_events"], truth["calendar"])
    got = theme(spark, "grid_event_day")
    got["day"] = pd.to_datetime(got.day).dt.strftime("%Y-%m-%d")
    wrong = differences(got, want, ["street_code", "event_type", "day"], ["reported", "closed"])
    assert wrong.empty, wrong.to_string()
    assert got.reported.sum() == len(truth["grid_events"])
