"""Opening a dashboard in a real headless Chromium: what its console said and what each plotly
chart drew.

Chromium and chromedriver are Debian's packages (`make system-deps` installs them): selenium is
given their paths, so it never looks for or downloads a browser or driver of its own. A test
helper rather than a package module: selenium is a `dev` dependency and the browser is set up
for the tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# A closed network and a root user: no sandbox (it refuses root), nothing that phones home.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1024")
DRAW_TIMEOUT_S = 20


@contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, its console log kept at every level."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.is_file():
            raise FileNotFoundError(f"{program} is missing: run `make system-deps` (Debian's chromium and "
                                    f"chromium-driver packages)")
    profile = Path(tempfile.mkdtemp(prefix="citylake-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass(frozen=True)
class TraceReport:
    """One trace of a chart: its plotly type, name, data points and the marks drawn for it."""

    type: str
    name: str
    points: int
    marks: int
    visible: bool | str


@dataclass
class ChartReport:
    """One plotly chart of a page (numbered from 1 in page order) and what is wrong with it."""

    number: int
    title: str
    drawn: bool
    traces: list[TraceReport] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        if not self.drawn:
            return ["plotly never drew it"]
        if not self.traces:
            return ["it has no traces"]
        problems = [f"trace {trace.name or trace.type!r} has {trace.points} points but no {trace.type} marks drawn"
                    for trace in self.traces if trace.points and trace.visible is True and not trace.marks]
        if not any(trace.points and trace.marks for trace in self.traces):
            problems.append("no trace drew any data (" + ", ".join(
                f"{trace.type} {trace.name!r}: {trace.points} points, {trace.marks} marks" for trace in self.traces) + ")")
        return problems

    def __str__(self) -> str:
        traces = "; ".join(f"{t.type} {t.name!r} {t.points} points {t.marks} marks" for t in self.traces)
        return f"chart {self.number} {self.title!r}: " + ("; ".join(self.problems) or "ok") + f" [{traces}]"


@dataclass
class PageReport:
    """A page as the browser showed it: its console errors and its charts."""

    url: str
    console_errors: list[str]
    charts: list[ChartReport]

    @property
    def problems(self) -> list[str]:
        return ([f"console error: {message}" for message in self.console_errors]
                + [f"chart {chart.number} {chart.title!r}: {problem}" for chart in self.charts
                   for problem in chart.problems])

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"{self.url}: {len(self.charts)} charts, {len(self.console_errors)} console errors"]
        lines += [f"  console error: {message}" for message in self.console_errors]
        lines += [f"  {chart}" for chart in self.charts]
        return "\n".join(lines)


# Every chart div plotly.io writes (`.plotly-graph-div`) and any other plotly plots. A trace's
# drawing is the group plotly binds its calcdata to (`g.trace`; `g.hm` for a heatmap); its marks
# by type are what plotly draws per data point (or per line, box, image).
_CHARTS_SETTLED = """
return Array.from(document.querySelectorAll('.plotly-graph-div, .js-plotly-plot'))
  .every(gd => gd._fullLayout && Array.isArray(gd.calcdata));
"""
_CHART_REPORT = """
const MARKS = {
  scatter: 'path.point, path.js-line, path.js-fill',
  bar: 'g.point path', histogram: 'g.point path', waterfall: 'g.point path', funnel: 'g.point path',
  pie: '.slice path.surface', sunburst: '.slice path.surface', treemap: '.slice path.surface',
  heatmap: 'image', contour: 'path', box: 'path.box', violin: 'path.violin',
};
const pointsOf = trace => {
  if (typeof trace._length === 'number') return trace._length;
  for (const key of ['z', 'values', 'labels', 'x', 'y']) {
    if (trace[key] && trace[key].length) return trace[key].length;
  }
  return 0;
};
const charts = Array.from(new Set(document.querySelectorAll('.plotly-graph-div, .js-plotly-plot')));
return charts.map(gd => {
  // the title as given: plotly's full layout has a placeholder for a chart without one
  const given = gd.layout && gd.layout.title;
  const title = (given && (given.text || (typeof given === 'string' && given))) || '';
  if (!gd._fullLayout || !gd._fullData) return {title, drawn: false, traces: []};
  const groups = Array.from(gd.querySelectorAll('g.trace, g.hm'));
  const drawingOf = index => groups.filter(group => {
    const datum = Array.isArray(group.__data__) ? group.__data__[0] : group.__data__;
    return datum && datum.trace && datum.trace.index === index;
  });
  return {
    title,
    drawn: true,
    traces: gd._fullData.map(trace => ({
      type: trace.type, name: trace.name || '', visible: trace.visible, points: pointsOf(trace),
      marks: drawingOf(trace.index).reduce((count, group) =>
        count + group.querySelectorAll(MARKS[trace.type] || 'path, image').length, 0),
    })),
  };
});
"""
# Two animation frames: what plotly queued for the next frame (transitions, text) is on screen.
_NEXT_FRAMES = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""


def check_page(driver: WebDriver, page: Path) -> PageReport:
    """Open an HTML file and report its SEVERE console entries and what every plotly chart drew."""
    driver.get_log("browser")  # what an earlier page logged is not this page's
    url = page.resolve().as_uri()
    driver.get(url)
    try:
        WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.1).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
            and d.execute_script(_CHARTS_SETTLED))
    except TimeoutException:
        pass  # the charts that never drew are reported as such
    driver.execute_async_script(_NEXT_FRAMES)
    charts = [ChartReport(number=number, title=chart["title"], drawn=chart["drawn"],
                          traces=[TraceReport(**trace) for trace in chart["traces"]])
              for number, chart in enumerate(driver.execute_script(_CHART_REPORT), start=1)]
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    return PageReport(url=url, console_errors=errors, charts=charts)


def assert_dashboard_draws(driver: WebDriver, page: Path, min_charts: int = 1) -> PageReport:
    """The page's report, after asserting it logged no console error, has at least `min_charts`
    charts and every chart drew data."""
    report = check_page(driver, page)
    assert len(report.charts) >= min_charts, f"expected at least {min_charts} charts\n{report}"
    assert report.ok, "\n".join(report.problems) + f"\n{report}"
    return report
