"""Executing the notebooks headless and exporting each as a standalone HTML dashboard, with an
index page that links them.

A notebook names the lake tables it reads in its metadata (`"citylake": {"requires": [...]}`),
and may give its title and a one-line summary there (`"title"`, `"summary"`; else its first
heading and first sentence); on a lake that does not have its tables yet it is left out, and said
so, rather than failing. The papermill parameters `district` (None: the whole city) and `as_of`
(None: the latest data) go to every notebook whose `parameters` cell declares them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from citylake.child_output import child_output_to
from citylake.dashboards.index import Card, LeftOut, write_index
from citylake.dashboards.scope import Scope, resolve_scope
from citylake.settings import PROJECT_ROOT, Profile, profile as active_profile

NOTEBOOKS = PROJECT_ROOT / "notebooks"
LEDGER = "ops.batch_ledger"


def dashboard_notebooks() -> list[Path]:
    """The notebooks the demo runs, in name order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


@dataclass(frozen=True)
class NotebookInfo:
    """What a notebook says of itself: its title and one-line summary, the lake tables it reads
    and the parameters its `parameters` cell declares."""

    path: Path
    title: str
    summary: str
    requires: list[str]
    parameters: frozenset[str]


def describe(notebook: Path) -> NotebookInfo:
    """A notebook's title, summary, tables and parameters, from its metadata and cells."""
    node = nbformat.read(notebook, as_version=4)
    declared = node.metadata.get("citylake", {})
    heading, sentence = _first_heading_and_sentence(node)
    return NotebookInfo(path=notebook, title=declared.get("title") or heading or notebook.stem,
                        summary=declared.get("summary") or sentence, requires=list(declared.get("requires", [])),
                        parameters=frozenset(papermill.inspect_notebook(str(notebook))))


def _first_heading_and_sentence(node: nbformat.NotebookNode) -> tuple[str, str]:
    """The first markdown heading and the first sentence of the paragraph after it."""
    for cell in node.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        headings = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
        if not headings:
            continue
        after = lines[[line.lstrip("#").strip() for line in lines].index(headings[0]) + 1:]
        paragraph = " ".join(line.strip() for line in after if line.strip()).replace("`", "")
        return headings[0], re.split(r"(?<=[.。])\s", paragraph, maxsplit=1)[0]
    return "", ""


def required_tables(notebook: Path) -> list[str]:
    """The lake tables (`lake.<layer>.<table>`) a notebook declares it reads."""
    metadata = nbformat.read(notebook, as_version=4).metadata
    return list(metadata.get("citylake", {}).get("requires", []))


@dataclass
class Dashboards:
    """What one run of the notebooks made: the dashboards, the notebooks left out -> the tables
    they need that the lake does not have yet, the index page, and the times it states."""

    built: list[Path] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=dict)
    index: Path | None = None
    scope: Scope = field(default_factory=Scope)
    data_as_of: datetime | None = None
    built_at: datetime | None = None


def build_dashboards(notebooks: list[Path] | None = None, out_dir: Path | None = None,
                     profile: Profile | None = None, district: str | None = None,
                     as_of: str | date | None = None) -> Dashboards:
    """Run every notebook whose tables are in the lake for the district and as-of day, leave out
    the others, and write the index page. Without `out_dir`: the profile's dashboards folder, in a
    sub-folder for a district or an as-of day (`Scope.folder`). An unknown district or a bad day
    is a ValueError before anything runs."""
    from citylake.dashboards.sql import data_as_of
    from citylake.trino.client import registered_tables

    profile = profile or active_profile()
    scope = resolve_scope(district, as_of)
    out_dir = out_dir or profile.path("dashboards") / scope.folder
    infos = [describe(notebook) for notebook in (dashboard_notebooks() if notebooks is None else notebooks)]
    present = {f"{profile.trino.catalog}.{schema}.{table}" for schema, table in registered_tables(profile)}
    made = Dashboards(scope=scope)
    cards, left_out = [], []
    for info in infos:
        missing = [table for table in info.requires if table not in present]
        if missing:
            made.left_out[info.path.stem] = missing
            left_out.append(LeftOut(info.title, missing))
            continue
        html = run_notebook(info.path, out_dir, parameters=scope_parameters(scope, info))
        made.built.append(html)
        cards.append(Card(html.name, info.title, info.summary))
    if f"{profile.trino.catalog}.{LEDGER}" in present:
        made.data_as_of = data_as_of(scope)
    made.built_at = datetime.now().astimezone()
    made.index = write_index(out_dir, cards, left_out, scope, made.data_as_of, made.built_at)
    return made


def scope_parameters(scope: Scope, info: NotebookInfo) -> dict[str, str | None]:
    """The papermill parameters for a scope, those the notebook declares: the district's code and
    the as-of day in ISO form, None for the whole city and the latest data."""
    values = {"district": scope.district.code if scope.district else None,
              "as_of": scope.as_of.isoformat() if scope.as_of else None}
    return {name: value for name, value in values.items() if name in info.parameters}


class NotebookFailed(RuntimeError):
    """A notebook raised an error while it ran: the message names the notebook, the error and
    where the executed copy (with the traceback in its cell) is."""


def run_notebook(notebook: Path, out_dir: Path | None = None, parameters: dict | None = None) -> Path:
    """Execute a notebook with papermill and write `<out_dir>/<name>.html`; returns the HTML path.
    A notebook that raises is a NotebookFailed."""
    out_dir = out_dir or active_profile().path("dashboards")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    # the kernel's own warnings (e.g. that it talks over TCP on loopback) go to the log
    with child_output_to(active_profile().path("var") / "log" / "notebooks.log"):
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters or {}, kernel_name="python3",
                progress_bar=False, cwd=str(PROJECT_ROOT),
            )
        except papermill.PapermillExecutionError as error:
            raise NotebookFailed(f"{notebook.name} failed in cell {error.exec_count}: {error.ename}: "
                                 f"{error.evalue} (the executed notebook: {executed})") from None
    html = out_dir / f"{notebook.stem}.html"
    html.write_text(export_html(executed), encoding="utf-8")
    return html


def export_html(executed: Path) -> str:
    """The executed notebook as a page without code cells: a dashboard, plotly.js embedded."""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    return without_remote_scripts(body)


_REMOTE_SCRIPT = re.compile(r"<script[^>]*\ssrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def without_remote_scripts(html: str) -> str:
    """The page without the CDN scripts nbconvert's template (require.js, MathJax) and plotly's
    MathJax hook add: the dashboards use neither, and must open where no network is."""
    return _REMOTE_SCRIPT.sub("", html)
