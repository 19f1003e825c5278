"""The sharing performance assessment dashboard, on an assessment made from a few hand-written ops
rows (not a golden city) and served by the test Trino, opened in headless Chromium: every chart
drew, departments by their names, the as-of day keeps the months up to its own; left out, and
said so, while the lake has no assessment."""

import shutil

import pytest

from citylake import lake
from citylake.dashboards.names import department_names
from citylake.notebooks import NOTEBOOKS, build_dashboards
from citylake.trino.client import sync_catalog
from jobs.assess.job import ASSESSMENT, assess
from tests.browser import assert_dashboard_draws, headless_chromium
from tests.jobs.assess.frames import own_lake_profile, write_ops_rows

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.spark, pytest.mark.trino]
NOTEBOOK = NOTEBOOKS / "sharing_assessment.ipynb"


def test_without_an_assessment_the_dashboard_is_left_out(trino, tmp_path):
    shutil.rmtree(trino.path("warehouse") / "ops" / "share_assessment", ignore_errors=True)
    sync_catalog(trino)
    made = build_dashboards([NOTEBOOK], tmp_path / "dashboards")
    assert made.built == [] and made.left_out == {"sharing_assessment": ["lake.ops.share_assessment"]}


@pytest.fixture(scope="module")
def assessed_lake(spark, trino, tmp_path_factory):
    """The scratch lake with an assessment of March and April 2026, made on a lake of its own (the
    scratch lake's ops tables are other tests') and written to the scratch lake's table."""
    own = own_lake_profile(trino, tmp_path_factory.mktemp("assessed-lake"))
    write_ops_rows(spark, own)
    assess(spark, profile=own)
    lake.write_table(lake.read_table(spark, ASSESSMENT, own), ASSESSMENT, "overwrite")
    return trino


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def test_the_dashboard_draws_the_ranking_the_trend_and_the_breakdown(assessed_lake, catalog, browser, tmp_path):
    made = build_dashboards([NOTEBOOK], tmp_path / "dashboards")
    assert made.left_out == {} and [html.name for html in made.built] == ["sharing_assessment.html"]

    report = assert_dashboard_draws(browser, made.built[0], min_charts=3)
    assert [chart.title for chart in report.charts] == [
        "共享绩效排名 Ranking, 2026-04", "综合得分走势 Total score by department and month",
        "各指标加权得分 Indicator breakdown of the latest month"]
    names = set(department_names(catalog).values())
    trend, breakdown = report.charts[1], report.charts[2]
    assert {trace.name for trace in trend.traces} == names  # every department, by its name
    assert all(trace.points == 2 for trace in trend.traces)  # March and April
    assert [trace.name for trace in breakdown.traces] == [
        "目录资源交付 catalogued resources delivered", "按周期及时交付 on-time delivery", "数据质量 quality",
        "纠错时效 correction turnaround", "被其他部门使用 use by others"]
    html = made.built[0].read_text(encoding="utf-8")
    assert "Traceback" not in html and "1. " in html and "公安局 Public Security Bureau" in html
    assert "psb" not in {trace.name for chart in report.charts for trace in chart.traces}

    march = build_dashboards([NOTEBOOK], tmp_path / "march", as_of="2026-03-31")
    report = assert_dashboard_draws(browser, march.built[0], min_charts=3)
    assert report.charts[0].title == "共享绩效排名 Ranking, 2026-03"
    assert all(trace.points == 1 for trace in report.charts[1].traces)
