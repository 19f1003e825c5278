"""The decision-analysis dashboard (决策分析): the population pyramid, the 65+ and migrant shares by
district and street, enterprise births and closures and insured employment by industry, the tax
trend and housing vacancy by street.

Every figure is read through Trino from the thematic libraries (`lake.theme`), which hold one row
per month: a month's figures are its state at the month's end, or at the lake's as-of time for the
current month. The scope's as-of day picks the months up to the one it falls in, and its district
the rows whose district (of residence, of registration, of the street) it is. Each figure is a SQL
statement (`*_sql`) and a pure shaping of its result (`shape_*`), joined by a function that runs
the one on Trino and returns the other. Labels are names: districts and streets by their names,
industries by their GB/T 4754 section names in Chinese with English.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from citylake.catalog import Divisions, load_divisions
from citylake.dashboards.names import bilingual
from citylake.dashboards.scope import Scope
from citylake.dashboards.sql import Query, run, table

TABLES = ("theme.population_structure", "theme.population_street_month", "theme.industry_month",
          "theme.enterprise_tax_period", "theme.housing_street_month", "ops.batch_ledger")
GENDERS = {"1": "男 male", "2": "女 female"}
UNKNOWN_STREET = "未知街道 unknown street"
UNKNOWN_DISTRICT = "未知区县 unknown district"
UNKNOWN_INDUSTRY = "未知行业 unknown industry"
# the measures of the charts that put several side by side, as their legends read them
BIRTHS, CLOSURES = "新设 births", "注销吊销 closures"
TAX = {"tax_payable": "应纳税额 tax payable", "tax_paid": "已缴税额 tax paid", "tax_arrears": "欠税额 tax arrears"}


def required_tables() -> list[str]:
    """The lake tables this dashboard reads, as the notebook declares them."""
    return [table(name) for name in TABLES]


# --------------------------------------------------------------------------- scope and names


def scope_conditions(scope: Scope, month: str = "month") -> tuple[list[str], list]:
    """SQL conditions (and their parameters) of a theme table's rows in the scope: the district's
    rows (`district_code`), the months (column `month`) up to the one the as-of day falls in."""
    conditions, params = [], []
    if scope.district:
        conditions.append("district_code = ?")
        params.append(scope.district.code)
    if scope.as_of:
        conditions.append(f"{month} <= ?")
        params.append(scope.as_of)
    return conditions, params


def _where(conditions: list[str]) -> str:
    return "WHERE " + " AND ".join(conditions) if conditions else ""


def latest_month_sql(name: str, scope: Scope) -> tuple[str, list]:
    """A condition on `month`: the table's latest month up to the as-of day (whatever the district:
    a district without rows that month shows nothing rather than an older month)."""
    bound, params = ("WHERE month <= ?", [scope.as_of]) if scope.as_of else ("", [])
    return f"month = (SELECT max(month) FROM {table(name)} {bound})", params


def district_names(divisions: Divisions | None = None) -> dict[str, str]:
    """District code -> `鲤城区 Licheng`."""
    divisions = divisions or load_divisions()
    return {district.code: bilingual(district.name, district.name_en) for district in divisions.districts}


def district_label(code: object, name: object, names: dict[str, str]) -> str:
    """A district's label: its name in Chinese with English, else the name the row carries."""
    if isinstance(code, str) and code in names:
        return names[code]
    return name if isinstance(name, str) and name else UNKNOWN_DISTRICT


def with_place_labels(frame: pd.DataFrame, divisions: Divisions | None = None) -> pd.DataFrame:
    """The frame with `district_label` and, where it has streets, `street_label`: the street's name,
    followed by its district's where two streets of the frame share a name (官桥镇 is in two)."""
    labelled = frame.copy()
    names = district_names(divisions)
    labelled["district_label"] = [district_label(code, name, names)
                                  for code, name in zip(labelled["district_code"], labelled["district_name"])]
    if "street_code" in labelled:
        streets = labelled["street_name"].where(labelled["street_name"].notna(), UNKNOWN_STREET)
        shared = streets.map(labelled.groupby(streets)["street_code"].nunique()) > 1
        labelled["street_label"] = [f"{street}（{district.split(' ')[0]}）" if twice else street
                                    for street, district, twice in zip(streets, labelled["district_label"], shared)]
    return labelled


def industry_label(name: object, name_en: object) -> str:
    """An industry section's label, `制造业 Manufacturing`; never the section letter alone."""
    if not isinstance(name, str) or not name:
        return UNKNOWN_INDUSTRY
    return bilingual(name, name_en if isinstance(name_en, str) else None)


def percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """`part` as a percentage of `whole` (counts, whole > 0) to one decimal, a half rounded up as
    Trino and Spark round (the warnings' evidence): computed on integers, so 6.25 is 6.3."""
    tenths = (1000 * part.astype("int64") + whole.astype("int64") // 2) // whole.astype("int64")
    return tenths / 10


def month_label(month: date | None) -> str:
    return month.strftime("%Y-%m") if month is not None else "—"


# --------------------------------------------------------------------------- population pyramid


def pyramid_sql(scope: Scope) -> tuple[str, list]:
    latest, latest_params = latest_month_sql("theme.population_structure", scope)
    conditions, params = scope_conditions(scope)
    return (f"SELECT month, age_band, age_band_start, gender, sum(persons) AS persons "
            f"FROM {table('theme.population_structure')} {_where([latest, *conditions])} "
            f"GROUP BY month, age_band, age_band_start, gender", [*latest_params, *params])


def shape_pyramid(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per age band and gender of the latest month: `month`, `age_band` (youngest first),
    `gender_name` (男 male, 女 female, 未知 unknown), `persons`, and `side`: men to the left
    (negative), women and the unknown to the right."""
    frame = rows.copy()
    frame["persons"] = frame["persons"].astype(int)
    frame["gender_name"] = [GENDERS.get(code, "未知 unknown") for code in frame["gender"]]
    frame["side"] = frame["persons"].where(frame["gender_name"] != GENDERS["1"], -frame["persons"])
    frame = frame.sort_values(["age_band_start", "gender"], ignore_index=True, na_position="last")
    return frame[["month", "age_band", "age_band_start", "gender_name", "persons", "side"]]


def population_pyramid(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Living residents by age band and gender in the latest month of the scope (see `shape_pyramid`)."""
    return shape_pyramid(run(query, *pyramid_sql(scope)))


def pyramid_figure(pyramid: pd.DataFrame) -> go.Figure:
    """The population pyramid: a horizontal bar per age band and gender, men left, women right,
    the axis reading persons on both sides."""
    month = month_label(pyramid["month"].iloc[0])
    figure = go.Figure()
    for gender, rows in pyramid.groupby("gender_name", sort=False):
        figure.add_bar(x=rows["side"], y=rows["age_band"], name=gender, orientation="h",
                       customdata=rows["persons"], hovertemplate="%{y}: %{customdata} 人 persons")
    widest = int(pyramid.groupby(["age_band", pyramid["side"] < 0])["persons"].sum().max())
    ticks = _symmetric_ticks(widest)
    figure.update_layout(
        barmode="relative", bargap=0.05, title=f"人口金字塔 Population pyramid ({month})",
        xaxis={"title": "实有人口 residents", "tickvals": ticks, "ticktext": [str(abs(t)) for t in ticks]},
        yaxis={"title": "年龄组 age band", "categoryorder": "array",
               "categoryarray": list(dict.fromkeys(pyramid["age_band"]))},
        legend_title_text="性别 gender", height=560)
    return figure


def _symmetric_ticks(widest: int) -> list[int]:
    """Ticks at a round step (1, 2, 5, 10, 20, ...) from -widest to widest, five or fewer a side."""
    step = next(step for power in range(12) for step in (10**power, 2 * 10**power, 5 * 10**power)
                if widest <= 5 * step)
    return list(range(-(widest // step) * step, widest + 1, step))


# --------------------------------------------------------------------------- streets


def streets_sql(scope: Scope) -> tuple[str, list]:
    latest, latest_params = latest_month_sql("theme.population_street_month", scope)
    conditions, params = scope_conditions(scope)
    return (f"SELECT month, district_code, district_name, street_code, street_name, residents, registered, "
            f"migrant, overseas, aged_65_plus FROM {table('theme.population_street_month')} "
            f"{_where([latest, *conditions])}", [*latest_params, *params])


def shape_streets(rows: pd.DataFrame, divisions: Divisions | None = None) -> pd.DataFrame:
    """One row per street with living residents in the latest month: `district_label`,
    `street_label`, `residents`, `registered`, `migrant`, `overseas`, `aged_65_plus`, and the
    shares `share_65_plus` and `migrant_share` in %; by district, then the oldest streets first."""
    frame = with_place_labels(rows, divisions)
    counts = ["residents", "registered", "migrant", "overseas", "aged_65_plus"]
    frame[counts] = frame[counts].astype(int)
    frame = frame[frame["residents"] > 0].copy()
    frame["share_65_plus"] = percent(frame["aged_65_plus"], frame["residents"])
    frame["migrant_share"] = percent(frame["migrant"], frame["residents"])
    return frame.sort_values(["district_label", "share_65_plus"], ascending=[True, False], ignore_index=True)[
        ["month", "district_code", "district_label", "street_code", "street_label", *counts, "share_65_plus",
         "migrant_share"]]


def street_population(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Each street's residents, 65+ and migrants in the latest month of the scope (see `shape_streets`)."""
    return shape_streets(run(query, *streets_sql(scope)))


def district_shares(streets: pd.DataFrame) -> pd.DataFrame:
    """One row per district of the streets: `district_label`, `residents`, `aged_65_plus`,
    `migrant`, and `share_65_plus` and `migrant_share` in %; the oldest first."""
    districts = streets.groupby("district_label", as_index=False)[["residents", "aged_65_plus", "migrant"]].sum()
    districts["share_65_plus"] = percent(districts["aged_65_plus"], districts["residents"])
    districts["migrant_share"] = percent(districts["migrant"], districts["residents"])
    return districts.sort_values("share_65_plus", ascending=False, ignore_index=True)


def district_share_figure(districts: pd.DataFrame) -> go.Figure:
    """The 65+ share of each district, the oldest first."""
    return px.bar(districts, x="district_label", y="share_65_plus", text="share_65_plus",
                  hover_data={"residents": True, "aged_65_plus": True},
                  labels={"district_label": "区县 district", "share_65_plus": "65岁及以上占比 % share aged 65+",
                          "residents": "实有人口 residents", "aged_65_plus": "65岁及以上 aged 65+"},
                  title="各区县65岁及以上人口占比 Share aged 65+ by district")


def street_share_figure(streets: pd.DataFrame) -> go.Figure:
    """The 65+ share of each street, coloured by district, in the streets' order."""
    return px.bar(streets, x="street_label", y="share_65_plus", color="district_label",
                  hover_data={"residents": True, "aged_65_plus": True},
                  labels={"street_label": "街道乡镇 street", "share_65_plus": "65岁及以上占比 % share aged 65+",
                          "district_label": "区县 district", "residents": "实有人口 residents",
                          "aged_65_plus": "65岁及以上 aged 65+"},
                  title="各街道65岁及以上人口占比 Share aged 65+ by street"
                  ).update_xaxes(categoryorder="array", categoryarray=list(streets["street_label"]))


def migrant_figure(streets: pd.DataFrame) -> go.Figure:
    """The migrant share of each street, the highest first."""
    ordered = streets.sort_values(["migrant_share", "street_label"], ascending=[False, True])
    return px.bar(ordered, x="street_label", y="migrant_share", color="district_label",
                  hover_data={"residents": True, "migrant": True, "registered": True, "overseas": True},
                  labels={"street_label": "街道乡镇 street", "migrant_share": "流动人口占比 % migrant share",
                          "district_label": "区县 district", "residents": "实有人口 residents",
                          "migrant": "流动 migrants", "registered": "户籍 registered", "overseas": "境外 overseas"},
                  title="各街道流动人口占比 Migrant share by street"
                  ).update_xaxes(categoryorder="array", categoryarray=list(ordered["street_label"]))


# --------------------------------------------------------------------------- enterprises


def industries_sql(scope: Scope) -> tuple[str, list]:
    conditions, params = scope_conditions(scope)
    return (f"SELECT month, industry_name, industry_name_en, sum(births) AS births, sum(closures) AS closures, "
            f"sum(active_enterprises) AS active_enterprises, sum(insured_employment) AS insured_employment "
            f"FROM {table('theme.industry_month')} {_where(conditions)} "
            f"GROUP BY month, industry_name, industry_name_en", params)


def shape_industries(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per industry section and month: `month_label`, `industry` (中文 English),
    `births`, `closures`, `active_enterprises`, `insured_employment`; by month, then industry."""
    frame = rows.copy()
    frame["industry"] = [industry_label(name, name_en)
                         for name, name_en in zip(frame["industry_name"], frame["industry_name_en"])]
    frame["month_label"] = [month_label(month) for month in frame["month"]]
    counts = ["births", "closures", "active_enterprises", "insured_employment"]
    frame[counts] = frame[counts].astype(int)
    # sections with no name are one "unknown" row
    frame = frame.groupby(["month", "month_label", "industry"], as_index=False)[counts].sum()
    return frame.sort_values(["month", "industry"], ignore_index=True)


def industry_months(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Enterprise births, closures, operating enterprises and insured employment per industry and
    month of the scope (see `shape_industries`)."""
    return shape_industries(run(query, *industries_sql(scope)))


def births_and_closures(industries: pd.DataFrame) -> pd.DataFrame:
    """The births and closures of `industry_months` as one row per industry, month and measure
    (`新设 births`, `注销吊销 closures`) with its `enterprises`; only those with any."""
    long = industries.melt(id_vars=["month_label", "industry"], value_vars=["births", "closures"],
                           var_name="measure", value_name="enterprises")
    long["measure"] = long["measure"].map({"births": BIRTHS, "closures": CLOSURES})
    return long[long["enterprises"] > 0].sort_values(["month_label", "measure", "industry"], ignore_index=True)


def employment(industries: pd.DataFrame) -> pd.DataFrame:
    """Insured employment and operating enterprises per industry and month, only industries with
    any operating enterprise; the largest employers of the latest month first."""
    frame = industries[industries["active_enterprises"] > 0]
    if frame.empty:
        return frame
    latest = frame[frame["month_label"] == frame["month_label"].max()].set_index("industry")["insured_employment"]
    order = frame["industry"].map(latest).fillna(-1)
    return frame.assign(order=order).sort_values(["order", "industry", "month_label"], ascending=[False, True, True],
                                                 ignore_index=True).drop(columns="order")


def births_figure(changes: pd.DataFrame) -> go.Figure:
    """Births and closures (`births_and_closures`) per industry, a panel per month."""
    return px.bar(changes, x="enterprises", y="industry", color="measure", facet_col="month_label",
                  orientation="h", barmode="group", color_discrete_map={BIRTHS: "#2a9d55", CLOSURES: "#c0392b"},
                  category_orders={"measure": [BIRTHS, CLOSURES]},
                  labels={"enterprises": "企业数 enterprises", "industry": "行业 industry", "measure": "变化 change",
                          "month_label": "月份 month"},
                  title="分行业企业新设与注销吊销 Enterprise births and closures by industry and month"
                  ).update_yaxes(categoryorder="category descending").update_layout(
                      height=280 + 26 * changes["industry"].nunique())


def employment_figure(jobs: pd.DataFrame) -> go.Figure:
    """Insured employment (`employment`) per industry, a bar per month, the largest employer on top."""
    return px.bar(jobs, x="insured_employment", y="industry", color="month_label", orientation="h",
                  barmode="group", hover_data={"active_enterprises": True},
                  labels={"insured_employment": "参保就业人数 insured employment", "industry": "行业 industry",
                          "month_label": "月份 month", "active_enterprises": "存续企业 operating enterprises"},
                  title="分行业参保就业 Insured employment by industry"
                  ).update_yaxes(categoryorder="array", categoryarray=list(dict.fromkeys(jobs["industry"]))[::-1]
                                 ).update_layout(height=280 + 30 * jobs["industry"].nunique())


# --------------------------------------------------------------------------- tax


def tax_sql(scope: Scope) -> tuple[str, list]:
    # every period declared so far (a month's tax is declared in the month after it), up to the
    # as-of day's month; the district of the enterprise's registration
    conditions, params = scope_conditions(scope, month="period_month")
    return (f"SELECT period_month AS month, sum(tax_payable) AS tax_payable, sum(tax_paid) AS tax_paid, "
            f"sum(tax_arrears) AS tax_arrears, count(tax_payable) AS declarations "
            f"FROM {table('theme.enterprise_tax_period')} {_where(conditions)} GROUP BY period_month", params)


def shape_tax(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per tax period with declarations and measure: `period` (yyyy-MM), `measure`
    (应纳税额 tax payable, 已缴税额 tax paid, 欠税额 tax arrears), `yuan`, `declarations`."""
    frame = rows.copy()
    frame["period"] = [month_label(month) for month in frame["month"]]
    for column in TAX:
        frame[column] = frame[column].astype(float).fillna(0.0)
    long = frame.melt(id_vars=["period", "declarations"], value_vars=list(TAX), var_name="measure", value_name="yuan")
    long["measure"] = pd.Categorical(long["measure"].map(TAX), categories=list(TAX.values()), ordered=True)
    long["declarations"] = long["declarations"].astype(int)
    return long.sort_values(["period", "measure"], ignore_index=True)[["period", "measure", "yuan", "declarations"]]


def tax_trend(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Tax payable, paid and in arrears per tax period of the scope's enterprises (see `shape_tax`)."""
    return shape_tax(run(query, *tax_sql(scope)))


def tax_figure(tax: pd.DataFrame) -> go.Figure:
    """Tax payable, paid and in arrears (`tax_trend`), a group of bars per tax period."""
    return px.bar(tax, x="period", y="yuan", color="measure", barmode="group", hover_data={"declarations": True},
                  category_orders={"measure": list(TAX.values())},
                  color_discrete_sequence=["#1f5fa8", "#2a9d55", "#c0392b"],
                  labels={"period": "税款所属期 tax period", "yuan": "金额（元） yuan", "measure": "项目 measure",
                          "declarations": "申报户数 declarations"},
                  title="税收走势 Tax payable, paid and in arrears by tax period").update_xaxes(type="category")


# --------------------------------------------------------------------------- housing


def housing_sql(scope: Scope) -> tuple[str, list]:
    latest, latest_params = latest_month_sql("theme.housing_street_month", scope)
    conditions, params = scope_conditions(scope)
    return (f"SELECT month, district_code, district_name, street_code, street_name, units, residential_units, "
            f"occupied_units, vacant_residential_units, overcrowded_units "
            f"FROM {table('theme.housing_street_month')} {_where([latest, *conditions])}",
            [*latest_params, *params])


def shape_housing(rows: pd.DataFrame, divisions: Divisions | None = None) -> pd.DataFrame:
    """One row per street with residential units in the latest month: `district_label`,
    `street_label`, `residential_units`, `vacant_residential_units`, `vacancy_rate` in %,
    `occupied_units`, `overcrowded_units`; the emptiest first."""
    frame = with_place_labels(rows, divisions)
    counts = ["units", "residential_units", "occupied_units", "vacant_residential_units", "overcrowded_units"]
    frame[counts] = frame[counts].astype(int)
    frame = frame[frame["residential_units"] > 0].copy()
    frame["vacancy_rate"] = percent(frame["vacant_residential_units"], frame["residential_units"])
    return frame.sort_values(["vacancy_rate", "street_label"], ascending=[False, True], ignore_index=True)[
        ["month", "district_label", "street_label", *counts, "vacancy_rate"]]


def housing_vacancy(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Each street's residential units and vacancy in the latest month of the scope (see `shape_housing`)."""
    return shape_housing(run(query, *housing_sql(scope)))


def vacancy_figure(housing: pd.DataFrame) -> go.Figure:
    """The residential vacancy of each street (`housing_vacancy`), the emptiest first."""
    return px.bar(housing, x="street_label", y="vacancy_rate", color="district_label",
                  hover_data={"residential_units": True, "vacant_residential_units": True, "overcrowded_units": True},
                  labels={"street_label": "街道乡镇 street", "vacancy_rate": "住宅空置率 % vacancy",
                          "district_label": "区县 district", "residential_units": "住宅 residential units",
                          "vacant_residential_units": "空置 vacant", "overcrowded_units": "超员（群租风险） over the limit"},
                  title="各街道住宅空置率 Residential vacancy by street"
                  ).update_xaxes(categoryorder="array", categoryarray=list(housing["street_label"]))


# --------------------------------------------------------------------------- overview


def key_figures(streets: pd.DataFrame, industries: pd.DataFrame, housing: pd.DataFrame) -> pd.DataFrame:
    """The scope's figures of the latest month in one table (指标 figure -> 数值 value)."""
    latest = industries[industries["month_label"] == industries["month_label"].max()] if len(industries) else industries
    residents = int(streets["residents"].sum())
    residential, vacant = int(housing["residential_units"].sum()), int(housing["vacant_residential_units"].sum())

    def share(part: int, whole: int) -> str:
        return f"{percent(pd.Series([part]), pd.Series([whole]))[0]:.1f}%" if whole else "—"

    figures = {
        "人口月份 population month": month_label(streets["month"].iloc[0]) if len(streets) else "—",
        "实有人口 residents": f"{residents:,}",
        "65岁及以上占比 share aged 65+": share(int(streets["aged_65_plus"].sum()), residents),
        "流动人口占比 migrant share": share(int(streets["migrant"].sum()), residents),
        "企业月份 enterprise month": latest["month_label"].iloc[0] if len(latest) else "—",
        "存续企业 operating enterprises": f"{int(latest['active_enterprises'].sum()):,}",
        "参保就业 insured employment": f"{int(latest['insured_employment'].sum()):,}",
        "当月新设 births in the month": f"{int(latest['births'].sum()):,}",
        "当月注销吊销 closures in the month": f"{int(latest['closures'].sum()):,}",
        "住宅 residential units": f"{residential:,}",
        "住宅空置率 residential vacancy": share(vacant, residential),
    }
    return pd.DataFrame({"数值 value": figures}).rename_axis("指标 figure")
