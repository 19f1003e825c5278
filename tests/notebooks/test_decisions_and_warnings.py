"""The decision-analysis and early-warning dashboards built on the clean golden theme city and opened
in headless Chromium: every chart drew its data without a console error; the figures they show
equal the lake's through Trino; a district's dashboards show only its streets and warnings; labels
are names, never codes; the index links every dashboard. Before the theme city: on a lake without
thematic libraries or warnings, `citylake notebooks` leaves both out and says so, and builds the
rest as offline pages with nothing of the kernel on the terminal."""

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By

from citylake.dashboards import decisions, warnings
from citylake.dashboards.scope import resolve_scope
from citylake.notebooks import NOTEBOOKS, build_dashboards, dashboard_notebooks, describe
from citylake.trino.client import run_query, sync_catalog
from tests.browser import assert_dashboard_draws, headless_chromium

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.spark, pytest.mark.trino]
DECISIONS, WARNINGS = NOTEBOOKS / "decision_analysis.ipynb", NOTEBOOKS / "early_warning.ipynb"
LATEST = "month = (SELECT max(month) FROM {table})"
BIRTHS_CHART = "分行业企业新设与注销吊销 Enterprise births and closures by industry and month"
TAX_CHART = "税收走势 Tax payable, paid and in arrears by tax period"
STREET_CODE, DISTRICT_CODE, SECTION_LETTER = re.compile(r"\d{9}"), re.compile(r"\d{6}"), re.compile(r"[A-T]")

# Every plotly chart of the page as the browser holds it: its title and each trace's name and data.
CHART_DATA = """
const values = array => array ? Array.from(array, value => Array.isArray(value) ? value[0] : value) : [];
return Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => ({
  title: (gd.layout.title && gd.layout.title.text) || '',
  traces: gd._fullData.map(trace => ({name: trace.name || '', orientation: trace.orientation || 'v',
                                      x: values(trace.x), y: values(trace.y), customdata: values(trace.customdata)})),
}));
"""


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def charts(driver, page):
    """{title: [trace, ...]} of the page's plotly charts, each trace a dict of its name and data."""
    driver.get(page.resolve().as_uri())
    return {chart["title"]: chart["traces"] for chart in driver.execute_script(CHART_DATA)}


def categories(traces):
    """The labels a chart shows: its traces' names and the categories of its category axis."""
    labels = {trace["name"] for trace in traces}
    for trace in traces:
        labels |= {value for value in trace["y" if trace["orientation"] == "h" else "x"] if isinstance(value, str)}
    return labels - {""}


def bar_total(traces):
    return sum(sum(trace["x"] if trace["orientation"] == "h" else trace["y"]) for trace in traces)


# --------------------------------------------------------------------------- before the theme city


@pytest.fixture()
def lake_without_themes_or_warnings(trino, integrated_city):
    """The integrated city's lake as Trino serves it, without thematic libraries and warnings
    (an earlier test may have left some)."""
    for layer in ("theme", "app"):
        shutil.rmtree(trino.path("warehouse") / layer, ignore_errors=True)
    sync_catalog(trino)
    return trino


def test_citylake_notebooks_leaves_out_what_the_lake_cannot_show_and_says_so(lake_without_themes_or_warnings):
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "notebooks"], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 0, result.stdout + result.stderr
    # as a user runs it: the dashboards and those left out said, nothing of the kernel on the terminal
    assert result.stderr == ""
    assert ("left out decision_analysis: needs lake.theme.population_structure, lake.theme.population_street_month, "
            "lake.theme.industry_month, lake.theme.enterprise_tax_period, lake.theme.housing_street_month "
            "(not in the lake yet)") in result.stdout
    assert ("left out early_warning: needs lake.app.warning, lake.app.warning_history (not in the lake yet)"
            in result.stdout)
    built = lake_without_themes_or_warnings.path("dashboards") / "data_quality.html"
    assert f"dashboard: {built}" in result.stdout.replace("\n", "")
    # an offline page: plotly.js inlined (a multi-megabyte bundle), no script fetched from anywhere
    html = built.read_text(encoding="utf-8")
    assert len(html) > 3_000_000 and re.search(r"plotly\.js v\d", html)
    assert not re.search(r"<script[^>]+src=\"https?://", html) and "Traceback" not in html
    index = (built.parent / "index.html").read_text(encoding="utf-8")
    assert "决策分析 Decision analysis: 缺少表 needs <code>lake.theme.population_structure</code>" in index


# --------------------------------------------------------------------------- the golden theme city


@pytest.fixture(scope="module")
def city_lake(theme_city, trino):
    """The golden theme city's lake as Trino serves it."""
    sync_catalog(trino)
    return trino


@pytest.fixture(scope="module")
def city_dashboards(city_lake):
    """Every dashboard of the whole city at the latest data, in the lake's dashboards folder."""
    made = build_dashboards()
    assert made.left_out == {}
    return made


def page_of(made, notebook):
    return next(html for html in made.built if html.stem == notebook.stem)


def test_every_dashboard_draws_and_the_index_links_them_all(city_lake, city_dashboards, browser):
    made = city_dashboards
    assert made.index == city_lake.path("dashboards") / "index.html"
    # every dashboard notebook is built (none left out), the sharing assessment's too
    assert sorted(html.name for html in made.built) == sorted(f"{notebook.stem}.html"
                                                              for notebook in dashboard_notebooks())
    assert {"data_quality.html", "decision_analysis.html", "early_warning.html"} <= {html.name for html in made.built}
    decision = assert_dashboard_draws(browser, page_of(made, DECISIONS), min_charts=6)
    # births and closures only where the lake's months have any (see the figures' test)
    assert TAX_CHART in [chart.title for chart in decision.charts]
    assert [chart.title for chart in decision.charts if chart.title not in (BIRTHS_CHART, TAX_CHART)] == [
        "人口金字塔 Population pyramid (2026-03)", "各区县65岁及以上人口占比 Share aged 65+ by district",
        "各街道65岁及以上人口占比 Share aged 65+ by street", "各街道流动人口占比 Migrant share by street",
        "分行业参保就业 Insured employment by industry", "各街道住宅空置率 Residential vacancy by street"]
    warning = assert_dashboard_draws(browser, page_of(made, WARNINGS), min_charts=4)
    assert [chart.title for chart in warning.charts] == [
        "按规则 Open warnings by rule", "按严重程度 Open warnings by severity and status",
        "按区县 Open warnings by district", "每日预警变化 Warnings opened, acknowledged and closed per day"]
    for page in made.built:
        html = page.read_text(encoding="utf-8")
        assert "Traceback" not in html and not re.search(r"<script[^>]+src=\"https?://", html)

    browser.get(made.index.resolve().as_uri())
    for notebook in dashboard_notebooks():
        link = browser.find_element(By.LINK_TEXT, describe(notebook).title)
        assert link.get_attribute("href") == page_of(made, notebook).resolve().as_uri()


def test_the_decision_figures_are_the_lakes(city_lake, city_dashboards, browser):
    shown = charts(browser, page_of(city_dashboards, DECISIONS))
    streets = "lake.theme.population_street_month"
    [(residents, aged_share, migrant_share, living_streets)] = run_query(city_lake, f"""
        SELECT sum(residents), round(100.0 * sum(aged_65_plus) / sum(residents), 1),
               round(100.0 * sum(migrant) / sum(residents), 1), count_if(residents > 0) FROM {streets}
        WHERE {LATEST.format(table=streets)}""")
    # the pyramid: every resident of the latest month once, men and women on their sides
    pyramid = shown["人口金字塔 Population pyramid (2026-03)"]
    assert {trace["name"] for trace in pyramid} == {"男 male", "女 female"}
    assert sum(sum(trace["customdata"]) for trace in pyramid) == residents > 0
    assert all(value < 0 for value in next(t for t in pyramid if t["name"] == "男 male")["x"])
    # a bar per street people live in; the districts' shares are those of their streets together
    by_street = shown["各街道65岁及以上人口占比 Share aged 65+ by street"]
    assert sum(len(trace["x"]) for trace in by_street) == living_streets
    by_district = shown["各区县65岁及以上人口占比 Share aged 65+ by district"][0]
    city = dict(run_query(city_lake, f"""
        SELECT district_code, round(100.0 * sum(aged_65_plus) / sum(residents), 1) FROM {streets}
        WHERE {LATEST.format(table=streets)} AND residents > 0 GROUP BY district_code"""))
    names = decisions.district_names()
    assert dict(zip(by_district["x"], by_district["y"])) == {names[code]: float(share) for code, share in city.items()}
    html = page_of(city_dashboards, DECISIONS).read_text(encoding="utf-8")
    assert f"<td>{residents:,}</td>" in html and f"<td>{aged_share}%</td>" in html
    assert f"<td>{migrant_share}%</td>" in html

    # births and closures per industry and month, and the tax periods declared so far: a chart
    # where there are any, else the page says there are none
    [(births, closures)] = run_query(city_lake, "SELECT sum(births), sum(closures) FROM lake.theme.industry_month")
    if births + closures:
        assert bar_total([t for t in shown[BIRTHS_CHART] if t["name"] == decisions.BIRTHS]) == births
        assert bar_total([t for t in shown[BIRTHS_CHART] if t["name"] == decisions.CLOSURES]) == closures
    else:
        assert BIRTHS_CHART not in shown and "no enterprise established or closed in these months" in html
    # the tax trend: every tax period declared so far (the lake holds a year of them)
    periods = [row[0] for row in run_query(city_lake, """
        SELECT date_format(period_month, '%Y-%m') FROM lake.theme.enterprise_tax_period GROUP BY period_month
        ORDER BY period_month""")]
    [(payable,)] = run_query(city_lake, "SELECT sum(tax_payable) FROM lake.theme.enterprise_tax_period")
    assert len(periods) >= 12
    tax = {trace["name"]: trace for trace in shown[TAX_CHART]}
    assert tax[decisions.TAX["tax_payable"]]["x"] == periods
    assert sum(tax[decisions.TAX["tax_payable"]]["y"]) == pytest.approx(float(payable))
    # insured employment per industry and month
    jobs = {trace["name"]: sum(trace["x"]) for trace in shown["分行业参保就业 Insured employment by industry"]}
    assert jobs == dict(run_query(city_lake, """
        SELECT date_format(month, '%Y-%m'), sum(insured_employment) FROM lake.theme.industry_month
        WHERE active_enterprises > 0 GROUP BY month"""))


def test_the_warnings_shown_are_the_lakes(city_lake, city_dashboards, browser):
    page = page_of(city_dashboards, WARNINGS)
    shown = charts(browser, page)
    [(open_count,)] = run_query(city_lake, "SELECT count(*) FROM lake.app.warning WHERE status <> 'closed'")
    assert open_count > 0
    html = page.read_text(encoding="utf-8")
    assert f"当前预警 Open warnings: {open_count}</strong>" in html
    assert bar_total(shown["按规则 Open warnings by rule"]) == open_count
    assert bar_total(shown["按严重程度 Open warnings by severity and status"]) == open_count
    assert bar_total(shown["按区县 Open warnings by district"]) == open_count
    # the trend ends with them all open
    trend = shown["每日预警变化 Warnings opened, acknowledged and closed per day"]
    assert next(trace for trace in trend if trace["name"] == warnings.OPEN_AT_END)["y"][-1] == open_count
    # a drill-down table per rule with open warnings, each row with its evidence as named figures
    per_rule = run_query(city_lake, """
        SELECT rule_name, count(*) FROM lake.app.warning WHERE status <> 'closed' GROUP BY rule_name""")
    assert per_rule and all(f"{rule_name} ({count})" in html for rule_name, count in per_rule)
    assert "此前峰值参保人数 peak insured headcount" in html and "65岁及以上占比（%） share 65+ (%)" in html
    # a person's ID number is not on the page
    for (subject,) in run_query(city_lake, "SELECT subject FROM lake.app.warning WHERE subject_type = 'person'"):
        assert subject not in html


def test_labels_are_names_never_codes(city_dashboards, browser):
    for notebook in (DECISIONS, WARNINGS):
        for title, traces in charts(browser, page_of(city_dashboards, notebook)).items():
            for label in categories(traces):
                assert not (STREET_CODE.fullmatch(label) or DISTRICT_CODE.fullmatch(label)
                            or SECTION_LETTER.fullmatch(label)), f"{title!r} shows the code {label!r}"
    # industries by their GB/T 4754 section names, Chinese with English
    shown = charts(browser, page_of(city_dashboards, DECISIONS))["分行业参保就业 Insured employment by industry"]
    assert "制造业 Manufacturing" in {label for trace in shown for label in trace["y"]}


def test_a_districts_dashboards_show_only_its_streets_and_warnings(city_lake, city_dashboards, browser):
    # the district with the most open warnings among those people live in
    [(code, expected)] = run_query(city_lake, """
        SELECT w.district_code, count(*) FROM lake.app.warning w
        WHERE w.status <> 'closed' AND w.district_code IN (SELECT district_code FROM lake.theme.population_street_month)
        GROUP BY w.district_code ORDER BY count(*) DESC, w.district_code LIMIT 1""")
    district = resolve_scope(code).district
    made = build_dashboards([DECISIONS, WARNINGS], district=district.name)
    assert made.index == city_lake.path("dashboards") / code / "index.html"
    for page in made.built:
        assert_dashboard_draws(browser, page)
        assert f"{district.name} {district.name_en}" in page.read_text(encoding="utf-8")

    its_streets = {name for (name,) in run_query(city_lake, """
        SELECT street_name FROM lake.theme.population_street_month WHERE district_code = ?""", [code])}
    shown = charts(browser, page_of(made, DECISIONS))
    by_street = {label for trace in shown["各街道65岁及以上人口占比 Share aged 65+ by street"] for label in trace["x"]}
    assert by_street and by_street <= its_streets
    assert {trace["name"] for trace in shown["各街道65岁及以上人口占比 Share aged 65+ by street"]} == {
        f"{district.name} {district.name_en}"}
    assert shown["各区县65岁及以上人口占比 Share aged 65+ by district"][0]["x"] == [f"{district.name} {district.name_en}"]
    [(residents,)] = run_query(city_lake, """
        SELECT sum(residents) FROM lake.theme.population_street_month
        WHERE month = (SELECT max(month) FROM lake.theme.population_street_month) AND district_code = ?""", [code])
    assert sum(sum(t["customdata"]) for t in shown["人口金字塔 Population pyramid (2026-03)"]) == residents

    shown = charts(browser, page_of(made, WARNINGS))
    assert {label for trace in shown["按区县 Open warnings by district"] for label in trace["x"]} == {
        f"{district.name} {district.name_en}"}
    assert bar_total(shown["按规则 Open warnings by rule"]) == expected


def test_an_as_of_day_shows_the_month_it_falls_in_and_the_warnings_of_that_day(city_lake, city_dashboards):
    # the package's figures as the notebooks draw them, for a day of the first month
    february = resolve_scope(None, "2026-02-28")
    [(residents,)] = run_query(city_lake, """
        SELECT sum(residents) FROM lake.theme.population_street_month WHERE month = DATE '2026-02-01'""")
    pyramid = decisions.population_pyramid(february)
    assert pyramid["persons"].sum() == residents and set(pyramid["month"].astype(str)) == {"2026-02-01"}
    assert set(decisions.industry_months(february)["month_label"]) == {"2026-02"}
    assert max(decisions.tax_trend(february)["period"]) <= "2026-02"
    # warnings: none before the first evaluation's data; on its day, those the warning table holds open
    [(first, last)] = run_query(city_lake, "SELECT min(first_seen), max(last_seen) FROM lake.app.warning")
    before = resolve_scope(None, (first.astimezone(february.until.tzinfo).date() - timedelta(days=1)).isoformat())
    assert warnings.open_warnings(before).empty
    on_the_day = resolve_scope(None, last.astimezone(february.until.tzinfo).date().isoformat())
    now, then = warnings.open_warnings(resolve_scope()), warnings.open_warnings(on_the_day)
    assert len(now) > 0
    assert sorted(zip(then["warning_id"], then["status"])) == sorted(zip(now["warning_id"], now["status"]))
    assert warnings.warning_trend(on_the_day)["open"].iloc[-1] == len(now)
