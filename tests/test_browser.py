"""The dashboard checker on tiny offline plotly pages: a chart that drew its data passes, an empty
chart, a chart that never drew and a console error fail."""

from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from tests.browser import assert_dashboard_draws, check_page, headless_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def page(path: Path, *figures: go.Figure, script: str = "") -> Path:
    """An offline page of the figures (plotly.js inlined once), with an extra script at its end."""
    charts = [pio.to_html(figure, include_plotlyjs=number == 0, full_html=False)
              for number, figure in enumerate(figures)]
    path.write_text(f"<html><head><meta charset='utf-8'></head><body>{''.join(charts)}{script}</body></html>",
                    encoding="utf-8")
    return path


def test_charts_that_drew_their_data_pass(browser, tmp_path):
    figures = (go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], mode="lines+markers"), layout_title_text="线 line"),
               go.Figure([go.Bar(x=["甲", "乙"], y=[1, 2], name="a"), go.Bar(x=["甲"], y=[3], name="b")]),
               go.Figure(go.Pie(labels=["a", "b"], values=[1, 2])),
               go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])),
               go.Figure(go.Scatter(x=[1, 2], y=[1, 2], mode="lines")))
    report = assert_dashboard_draws(browser, page(tmp_path / "good.html", *figures), min_charts=5)
    assert [chart.title for chart in report.charts][0] == "线 line"
    assert [[(trace.type, trace.points) for trace in chart.traces] for chart in report.charts] == [
        [("scatter", 3)], [("bar", 2), ("bar", 1)], [("pie", 2)], [("heatmap", 2)], [("scatter", 2)]]
    assert all(trace.marks > 0 for chart in report.charts for trace in chart.traces)
    assert report.console_errors == []


def test_a_chart_whose_query_returned_nothing_fails(browser, tmp_path):
    figures = (go.Figure(go.Bar(x=["a"], y=[1])), go.Figure(go.Bar(x=[], y=[]), layout_title_text="empty"),
               go.Figure(go.Pie(labels=[], values=[])), go.Figure())
    report = check_page(browser, page(tmp_path / "empty.html", *figures))
    assert not report.ok
    assert [chart.problems == [] for chart in report.charts] == [True, False, False, False]
    assert "chart 2 'empty': no trace drew any data (bar 'trace 0': 0 points, 0 marks)" in report.problems
    assert report.charts[3].problems == ["it has no traces"]


def test_a_console_error_fails_the_page(browser, tmp_path):
    script = "<script>window.addEventListener('load', () => { throw new Error('失败 broken dashboard'); });</script>"
    report = check_page(browser, page(tmp_path / "error.html", go.Figure(go.Bar(x=["a"], y=[1])), script=script))
    assert [chart.problems for chart in report.charts] == [[]]
    assert len(report.console_errors) == 1 and "broken dashboard" in report.console_errors[0]
    with pytest.raises(AssertionError, match="console error: .*broken dashboard"):
        assert_dashboard_draws(browser, tmp_path / "error.html")


def test_a_chart_plotly_never_drew_fails(browser, tmp_path, monkeypatch):
    """A chart div whose plotting script never ran (here: plotly.js left out) is reported, with
    the console's ReferenceError."""
    monkeypatch.setattr("tests.browser.DRAW_TIMEOUT_S", 1)
    html = pio.to_html(go.Figure(go.Bar(x=["a"], y=[1])), include_plotlyjs=False, full_html=True)
    (tmp_path / "undrawn.html").write_text(html, encoding="utf-8")
    report = check_page(browser, tmp_path / "undrawn.html")
    assert report.charts[0].problems == ["plotly never drew it"]
    assert any("Plotly is not defined" in message for message in report.console_errors)
