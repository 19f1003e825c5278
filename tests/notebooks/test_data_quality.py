"""The data-quality dashboard built on the integrated test city, opened in headless Chromium: every
chart drew its data, no console error, names not codes; the index page links it and states the
data's as-of time; the district and as-of parameters narrow the figures."""

import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By

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


# In the fresh-clone CI run of fee99eb, district 350502 had no quarantined row before the middle
# day of the integrated city (whose faults moved when the generator began planting scenarios):
# the test must pick a district that has some, and is marked until it does (issue 14's note).
@pytest.mark.xfail(reason="the fixed district 350502 has no quarantined rows before the middle day", strict=False)
def test_the_district_and_as_of_day_narrow_the_figures(quality_lake, catalog, browser, tmp_path):
    city = resolve_scope()
    days = quality.department_scores(city, catalog)["day"].dt.date
    middle = sorted(set(days))[len(set(days)) // 2]
    scope = resolve_scope("350502", middle.isoformat())

    scores = quality.department_scores(scope, catalog)
    assert scores["day"].dt.date.max() == middle < days.max()
    # quarantined rows of the district: those whose delivered division or street is in it
    in_city, in_district = quality.quarantine_by_rule(city, catalog), quality.quarantine_by_rule(scope, catalog)
    assert 0 < in_district["rows"].sum() < in_city["rows"].sum()
    delivered = run_query(quality_lake, """
        SELECT q.department, q.resource, q.row_values FROM lake.ops.quarantine q
        WHERE (SELECT max(b.extracted_at) FROM lake.ops.batch_ledger b WHERE b.department = q.department
               AND b.resource = q.resource AND b.batch_id = q.batch_id) < ?""", [scope.until])
    about_district = [row for row in delivered if any(
        (row[2] or {}).get(column, "").strip().startswith("350502")
        for column in (catalog.resource(row[0], row[1]).division_column, catalog.resource(row[0], row[1]).street_column)
        if column)]
    assert in_district["rows"].sum() == len(about_district)

    made = build_dashboards([NOTEBOOK], district="鲤城区", as_of=middle)  # to the scope's own folder
    assert made.index == quality_lake.path("dashboards") / f"350502_{middle.isoformat()}" / "index.html"
    assert made.data_as_of.date() <= middle
    report = assert_dashboard_draws(browser, made.built[0], min_charts=2)
    assert report.charts[0].title.startswith("各部门质量评分")
    html = made.built[0].read_text(encoding="utf-8")
    assert "鲤城区 Licheng" in html and f"截至日 as-of day {middle.isoformat()}" in html


def test_an_unknown_district_is_a_clear_error_before_anything_runs(quality_lake):
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "notebooks", "--district", "火星区"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 2
    assert "district '火星区' is not a district of 泉州市; known: 350502 鲤城区 Licheng" in result.stdout
    with pytest.raises(ValueError, match="as_of 'yesterday' is not an ISO date"):
        build_dashboards([NOTEBOOK], district=None, as_of="yesterday")
