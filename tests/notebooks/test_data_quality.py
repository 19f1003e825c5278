"""The data-quality dashboard built on the integrated test city, opened in headless Chromium: every
chart drew its data, no console error, names not codes; the index page links it and states the
data's as-of time; the district and as-of parameters narrow the figures."""

import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By

from citylake.catalog import load_divisions
from citylake.dashboards import quality
from citylake.dashboards.names import department_names
from citylake.dashboards.scope import lake_zone, resolve_scope
from citylake.notebooks import NOTEBOOKS, build_dashboards
from citylake.trino.client import run_query, sync_catalog
from tests.browser import assert_dashboard_draws, check_page, headless_chromium

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.spark, pytest.mark.trino]
NOTEBOOK = NOTEBOOKS / "data_quality.ipynb"


@pytest.fixture(scope="module")
def quality_lake(trino, integrated_city):
    """The integrated city's lake as Trino serves it: ledger, metrics, scores, quarantine, corrections."""
    sync_catalog(trino)
    return trino


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def test_the_dashboard_draws_every_chart_and_the_index_links_it(quality_lake, catalog, browser, tmp_path):
    made = build_dashboards([NOTEBOOK], tmp_path / "dashboards")
    assert made.left_out == {} and [html.name for html in made.built] == ["data_quality.html"]

    report = assert_dashboard_draws(browser, made.built[0], min_charts=4)
    assert [chart.title for chart in report.charts] == [
        "各部门质量评分 Quality score by department and day",
        "各资源各类规则通过率 Pass rate (%) by resource and rule kind",
        "隔离行数（按规则） Rows quarantined by rule", "待纠错数据（按时长） Open corrections by age"]
    # departments by their names in every chart with a legend, never by their codes
    names = set(department_names(catalog).values())
    for chart in (report.charts[0], report.charts[2], report.charts[3]):
        assert {trace.name for trace in chart.traces} <= names, chart
    html = made.built[0].read_text(encoding="utf-8")
    assert "Traceback" not in html and "参保 Social insurance enrolment" in html

    # the index: its link opens the dashboard; it states the lake's latest business time
    assert check_page(browser, made.index).ok
    latest = run_query(quality_lake, "SELECT max(extracted_at) FROM lake.ops.batch_ledger WHERE status = 'landed'")[0][0]
    assert made.data_as_of == latest.astimezone(lake_zone())
    index = made.index.read_text(encoding="utf-8")
    assert made.data_as_of.strftime("%Y-%m-%d %H:%M") in index and "全市 whole city" in index
    browser.find_element(By.LINK_TEXT, "数据质量 Data quality").click()
    assert browser.current_url == made.built[0].resolve().as_uri()


def quarantined_by_district(trino, catalog, until) -> dict[str, int]:
    """Rows quarantined from batches extracted before `until`, counted per district code: a row is
    about a district when its delivered division or street code starts with the district's."""
    delivered = run_query(trino, """
        SELECT q.department, q.resource, q.row_values FROM lake.ops.quarantine q
        WHERE (SELECT max(b.extracted_at) FROM lake.ops.batch_ledger b WHERE b.department = q.department
               AND b.resource = q.resource AND b.batch_id = q.batch_id) < ?""", [until])
    counts: dict[str, int] = {}
    for department, resource, values in delivered:
        spec = catalog.resource(department, resource)
        codes = {(values or {}).get(column, "").strip()[:6]
                 for column in (spec.division_column, spec.street_column) if column}
        for code in codes - {""}:
            counts[code] = counts.get(code, 0) + 1
    return counts


def test_the_district_and_as_of_day_narrow_the_figures(quality_lake, catalog, browser, tmp_path):
    city = resolve_scope()
    days = quality.department_scores(city, catalog)["day"].dt.date
    middle = sorted(set(days))[len(set(days)) // 2]
    # the district with the most quarantined rows up to the middle day: the generator's faults fall
    # where they fall, so the test does not fix a district that may have none
    up_to_middle = resolve_scope(None, middle.isoformat())
    counts = quarantined_by_district(quality_lake, catalog, up_to_middle.until)
    districts = {district.code: district for district in load_divisions().districts}
    code = max((code for code in counts if code in districts), key=counts.get)
    district = districts[code]
    scope = resolve_scope(code, middle.isoformat())

    scores = quality.department_scores(scope, catalog)
    assert scores["day"].dt.date.max() == middle < days.max()
    in_city, in_district = quality.quarantine_by_rule(city, catalog), quality.quarantine_by_rule(scope, catalog)
    assert 0 < in_district["rows"].sum() == counts[code] < in_city["rows"].sum()

    made = build_dashboards([NOTEBOOK], district=district.name, as_of=middle)  # to the scope's own folder
    assert made.index == quality_lake.path("dashboards") / f"{code}_{middle.isoformat()}" / "index.html"
    assert made.data_as_of.date() <= middle
    report = assert_dashboard_draws(browser, made.built[0], min_charts=2)
    assert report.charts[0].title.startswith("各部门质量评分")
    html = made.built[0].read_text(encoding="utf-8")
    assert f"{district.name} {district.name_en}" in html and f"截至日 as-of day {middle.isoformat()}" in html


def test_an_unknown_district_is_a_clear_error_before_anything_runs(quality_lake):
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "notebooks", "--district", "火星区"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 2
    assert "district '火星区' is not a district of 泉州市; known: 350502 鲤城区 Licheng" in result.stdout
    with pytest.raises(ValueError, match="as_of 'yesterday' is not an ISO date"):
        build_dashboards([NOTEBOOK], district=None, as_of="yesterday")
