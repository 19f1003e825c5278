"""The decision-analysis dashboard's SQL scope and frame shaping on tiny frames: names in place of
codes (districts, streets, industries), shares, the pyramid's sides, tax periods with declarations."""

from datetime import date

import pandas as pd

from citylake.dashboards import decisions
from citylake.dashboards.scope import resolve_scope
from citylake.notebooks import NOTEBOOKS, describe

MARCH, FEBRUARY = date(2026, 3, 1), date(2026, 2, 1)


def test_the_scope_narrows_every_query_to_the_district_and_the_months_up_to_the_day():
    sql, params = decisions.pyramid_sql(resolve_scope("鲤城区", "2026-02-27"))
    assert "month = (SELECT max(month) FROM lake.theme.population_structure WHERE month <= ?)" in sql
    assert "district_code = ? AND month <= ?" in sql
    assert params == [date(2026, 2, 27), "350502", date(2026, 2, 27)]
    sql, params = decisions.tax_sql(resolve_scope())
    assert "WHERE" not in sql.split("GROUP BY")[0] and params == []
    sql, params = decisions.tax_sql(resolve_scope("鲤城区", "2026-02-27"))
    assert "FROM lake.theme.enterprise_tax_period WHERE district_code = ? AND period_month <= ?" in sql
    assert params == ["350502", date(2026, 2, 27)]
    for statement in (decisions.streets_sql, decisions.industries_sql, decisions.housing_sql):
        assert statement(resolve_scope("350503"))[1] == ["350503"]


def test_the_pyramid_puts_men_left_and_bands_youngest_first():
    rows = pd.DataFrame({"month": [MARCH] * 4, "age_band": ["85+", "0-4", "0-4", "65-69"],
                         "age_band_start": [85, 0, 0, 65], "gender": ["2", "2", "1", "1"], "persons": [1, 4, 3, 2]})
    pyramid = decisions.shape_pyramid(rows)
    assert pyramid["age_band"].tolist() == ["0-4", "0-4", "65-69", "85+"]
    assert pyramid["gender_name"].tolist() == ["男 male", "女 female", "男 male", "女 female"]
    assert pyramid["side"].tolist() == [-3, 4, -2, 1] and pyramid["persons"].sum() == 10
    figure = decisions.pyramid_figure(pyramid)
    assert figure.layout.title.text == "人口金字塔 Population pyramid (2026-03)"
    assert [trace.name for trace in figure.data] == ["男 male", "女 female"]
    # the axis reads persons on both sides
    assert list(figure.layout.xaxis.tickvals) == [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    assert list(figure.layout.xaxis.ticktext) == ["4", "3", "2", "1", "0", "1", "2", "3", "4"]


def test_percentages_round_a_half_up_as_the_lake_does():
    shares = decisions.percent(pd.Series([10, 1, 2, 0]), pd.Series([160, 3, 3, 7]))
    assert shares.tolist() == [6.3, 33.3, 66.7, 0.0]


def test_ticks_are_round_and_at_most_five_a_side():
    assert decisions._symmetric_ticks(0) == [0]
    assert decisions._symmetric_ticks(23) == [-20, -15, -10, -5, 0, 5, 10, 15, 20]
    assert decisions._symmetric_ticks(1234) == [-1000, -500, 0, 500, 1000]


def test_streets_by_name_with_their_district_where_two_share_one():
    rows = pd.DataFrame({
        "month": [MARCH] * 4, "district_code": ["350583", "350582", "350502", "350502"],
        "district_name": ["南安市", "晋江市", "鲤城区", "鲤城区"],
        "street_code": ["350583101", "350582102", "350502001", "350502009"],
        "street_name": ["官桥镇", "官桥镇", "海滨街道", None],
        "residents": [10, 20, 5, 0], "registered": [5, 10, 5, 0], "migrant": [5, 10, 0, 0],
        "overseas": [0, 0, 0, 0], "aged_65_plus": [2, 3, 4, 0]})
    streets = decisions.shape_streets(rows)
    # a street nobody lives in has no share
    assert streets["street_label"].tolist() == ["官桥镇（南安市）", "官桥镇（晋江市）", "海滨街道"]
    assert streets["district_label"].tolist() == ["南安市 Nan'an", "晋江市 Jinjiang", "鲤城区 Licheng"]
    assert streets["share_65_plus"].tolist() == [20.0, 15.0, 80.0]
    assert streets["migrant_share"].tolist() == [50.0, 50.0, 0]
    districts = decisions.district_shares(streets)
    assert districts["district_label"].tolist() == ["鲤城区 Licheng", "南安市 Nan'an", "晋江市 Jinjiang"]
    assert districts["share_65_plus"].tolist() == [80.0, 20.0, 15.0]


def test_a_street_or_district_the_divisions_do_not_know_is_never_shown_by_its_code():
    rows = pd.DataFrame({"month": [MARCH], "district_code": [None], "district_name": [None],
                         "street_code": ["350599001"], "street_name": [None], "residents": [3], "registered": [3],
                         "migrant": [0], "overseas": [0], "aged_65_plus": [0]})
    shaped = decisions.shape_streets(rows)
    assert shaped[["district_label", "street_label"]].iloc[0].tolist() == [decisions.UNKNOWN_DISTRICT,
                                                                           decisions.UNKNOWN_STREET]


def test_industries_by_section_name_births_and_closures_only_where_any():
    rows = pd.DataFrame({"month": [FEBRUARY, MARCH, MARCH, MARCH],
                         "industry_name": ["制造业", "制造业", None, None],
                         "industry_name_en": ["Manufacturing", "Manufacturing", None, None],
                         "births": [1, 0, 2, 1], "closures": [0, 1, 0, 0], "active_enterprises": [5, 4, 1, 0],
                         "insured_employment": [50, 40, 3, 0]})
    industries = decisions.shape_industries(rows)
    # the sections without a name are one unknown industry
    assert industries[["month_label", "industry", "births"]].values.tolist() == [
        ["2026-02", "制造业 Manufacturing", 1], ["2026-03", "制造业 Manufacturing", 0],
        ["2026-03", "未知行业 unknown industry", 3]]
    changes = decisions.births_and_closures(industries)
    assert changes[["month_label", "industry", "measure", "enterprises"]].values.tolist() == [
        ["2026-02", "制造业 Manufacturing", "新设 births", 1], ["2026-03", "未知行业 unknown industry", "新设 births", 3],
        ["2026-03", "制造业 Manufacturing", "注销吊销 closures", 1]]
    jobs = decisions.employment(industries)
    assert jobs[["industry", "month_label", "insured_employment"]].values.tolist() == [
        ["制造业 Manufacturing", "2026-02", 50], ["制造业 Manufacturing", "2026-03", 40],
        ["未知行业 unknown industry", "2026-03", 3]]


def test_tax_periods_keep_their_three_measures_in_order():
    rows = pd.DataFrame({"month": [MARCH, FEBRUARY], "tax_payable": [None, "100.50"], "tax_paid": [None, "90"],
                         "tax_arrears": [7.0, None], "declarations": [0, 3]})
    tax = decisions.shape_tax(rows)
    assert tax[["period", "measure", "yuan"]].values.tolist() == [
        ["2026-02", "应纳税额 tax payable", 100.5], ["2026-02", "已缴税额 tax paid", 90.0],
        ["2026-02", "欠税额 tax arrears", 0.0], ["2026-03", "应纳税额 tax payable", 0.0],
        ["2026-03", "已缴税额 tax paid", 0.0], ["2026-03", "欠税额 tax arrears", 7.0]]


def test_vacancy_by_street_and_the_key_figures():
    housing = decisions.shape_housing(pd.DataFrame({
        "month": [MARCH] * 3, "district_code": ["350502"] * 3, "district_name": ["鲤城区"] * 3,
        "street_code": ["350502001", "350502002", "350502003"], "street_name": ["海滨街道", "临江街道", "鲤中街道"],
        "units": [10, 4, 2], "residential_units": [8, 4, 0], "occupied_units": [6, 1, 2],
        "vacant_residential_units": [2, 3, 0], "overcrowded_units": [1, 0, 0]}))
    assert housing[["street_label", "vacancy_rate"]].values.tolist() == [["临江街道", 75.0], ["海滨街道", 25.0]]
    streets = decisions.shape_streets(pd.DataFrame({
        "month": [MARCH], "district_code": ["350502"], "district_name": ["鲤城区"], "street_code": ["350502001"],
        "street_name": ["海滨街道"], "residents": [40], "registered": [30], "migrant": [10], "overseas": [0],
        "aged_65_plus": [8]}))
    industries = decisions.shape_industries(pd.DataFrame({
        "month": [FEBRUARY, MARCH], "industry_name": ["制造业"] * 2, "industry_name_en": ["Manufacturing"] * 2,
        "births": [5, 1], "closures": [0, 2], "active_enterprises": [9, 8], "insured_employment": [90, 70]}))
    figures = decisions.key_figures(streets, industries, housing)["数值 value"].to_dict()
    assert figures == {
        "人口月份 population month": "2026-03", "实有人口 residents": "40", "65岁及以上占比 share aged 65+": "20.0%",
        "流动人口占比 migrant share": "25.0%", "企业月份 enterprise month": "2026-03",
        "存续企业 operating enterprises": "8", "参保就业 insured employment": "70", "当月新设 births in the month": "1",
        "当月注销吊销 closures in the month": "2", "住宅 residential units": "12", "住宅空置率 residential vacancy": "41.7%"}


def test_the_notebook_declares_the_tables_it_reads_and_the_parameters():
    info = describe(NOTEBOOKS / "decision_analysis.ipynb")
    assert info.title == "决策分析 Decision analysis" and info.parameters == {"district", "as_of"}
    assert info.requires == decisions.required_tables()


def test_every_chart_is_drawn_from_its_frame_with_names_on_its_axes_and_legends():
    streets = decisions.shape_streets(pd.DataFrame({
        "month": [MARCH] * 2, "district_code": ["350502", "350503"], "district_name": ["鲤城区", "丰泽区"],
        "street_code": ["350502001", "350503001"], "street_name": ["海滨街道", "东湖街道"], "residents": [40, 10],
        "registered": [30, 2], "migrant": [10, 8], "overseas": [0, 0], "aged_65_plus": [8, 1]}))
    industries = decisions.shape_industries(pd.DataFrame({
        "month": [FEBRUARY, MARCH], "industry_name": ["制造业"] * 2, "industry_name_en": ["Manufacturing"] * 2,
        "births": [5, 0], "closures": [0, 2], "active_enterprises": [9, 8], "insured_employment": [90, 70]}))
    tax = decisions.shape_tax(pd.DataFrame({"month": [FEBRUARY], "tax_payable": [100.0], "tax_paid": [90.0],
                                            "tax_arrears": [10.0], "declarations": [3]}))
    housing = decisions.shape_housing(pd.DataFrame({
        "month": [MARCH], "district_code": ["350502"], "district_name": ["鲤城区"], "street_code": ["350502001"],
        "street_name": ["海滨街道"], "units": [10], "residential_units": [8], "occupied_units": [6],
        "vacant_residential_units": [2], "overcrowded_units": [1]}))
    figures = {
        "district": decisions.district_share_figure(decisions.district_shares(streets)),
        "street": decisions.street_share_figure(streets), "migrant": decisions.migrant_figure(streets),
        "births": decisions.births_figure(decisions.births_and_closures(industries)),
        "employment": decisions.employment_figure(decisions.employment(industries)),
        "tax": decisions.tax_figure(tax), "vacancy": decisions.vacancy_figure(housing)}
    legends = {name: [trace.name for trace in figure.data] for name, figure in figures.items()}
    assert legends == {"district": [""], "street": ["丰泽区 Fengze", "鲤城区 Licheng"],
                       "migrant": ["丰泽区 Fengze", "鲤城区 Licheng"],
                       "births": ["新设 births", "注销吊销 closures"], "employment": ["2026-02", "2026-03"],
                       "tax": list(decisions.TAX.values()), "vacancy": ["鲤城区 Licheng"]}
    assert list(figures["district"].data[0].x) == ["鲤城区 Licheng", "丰泽区 Fengze"]  # the oldest first
    # the migrant chart is the streets' by their migrant share, the highest first
    assert list(figures["migrant"].layout.xaxis.categoryarray) == ["东湖街道", "海滨街道"]
    assert list(figures["births"].data[0].y) == ["制造业 Manufacturing"]
    assert [annotation.text for annotation in figures["births"].layout.annotations] == [
        "月份 month=2026-02", "月份 month=2026-03"]
    assert all(figure.layout.title.text for figure in figures.values())


def test_a_scope_without_data_gives_empty_figures_not_errors():
    def empty(*columns):
        return pd.DataFrame.from_records([], columns=list(columns))

    places = ("month", "district_code", "district_name", "street_code", "street_name")
    streets = decisions.shape_streets(empty(*places, "residents", "registered", "migrant", "overseas", "aged_65_plus"))
    industries = decisions.shape_industries(empty("month", "industry_name", "industry_name_en", "births", "closures",
                                                  "active_enterprises", "insured_employment"))
    housing = decisions.shape_housing(empty(*places, "units", "residential_units", "occupied_units",
                                            "vacant_residential_units", "overcrowded_units"))
    frames = [decisions.shape_pyramid(empty("month", "age_band", "age_band_start", "gender", "persons")), streets,
              decisions.district_shares(streets), industries, decisions.births_and_closures(industries),
              decisions.employment(industries), housing,
              decisions.shape_tax(empty("month", "tax_payable", "tax_paid", "tax_arrears", "declarations"))]
    assert all(frame.empty for frame in frames)
    figures = decisions.key_figures(streets, industries, housing)["数值 value"]
    assert figures["实有人口 residents"] == "0" and figures["65岁及以上占比 share aged 65+"] == "—"
