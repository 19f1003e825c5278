"""Executing the notebooks headless and exporting each as a standalone HTML dashboard.

A notebook names the lake tables it reads in its metadata (`"citylake": {"requires": [...]}`);
on a lake that does not have them yet it is left out, and said so, rather than failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from citylake.child_output import child_output_to
from citylake.settings import PROJECT_ROOT, Profile, profile as active_profile

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def dashboard_notebooks() -> list[Path]:
    """The notebooks the demo runs, in name order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def required_tables(notebook: Path) -> list[str]:
    """The lake tables (`lake.<layer>.<table>`) a notebook declares it reads."""
    metadata = nbformat.read(notebook, as_version=4).metadata
    return list(metadata.get("citylake", {}).get("requires", []))


@dataclass
class Dashboards:
    """What one run of the notebooks made: the dashboards, and the notebooks left out -> the
    tables they need that the lake does not have yet."""

    built: list[Path] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=dict)


def build_dashboards(notebooks: list[Path] | None = None, out_dir: Path | None = None,
                     profile: Profile | None = None) -> Dashboards:
    """Run every notebook whose tables are in the lake; leave out the others."""
    from citylake.trino.client import registered_tables

    profile = profile or active_profile()
    notebooks = dashboard_notebooks() if notebooks is None else notebooks
    wanted = {notebook: required_tables(notebook) for notebook in notebooks}
    present = {f"{profile.trino.catalog}.{schema}.{table}" for schema, table in registered_tables(profile)}
    made = Dashboards()
    for notebook, tables in wanted.items():
        missing = [table for table in tables if table not in present]
        if missing:
            made.left_out[notebook.stem] = missing
        else:
            made.built.append(run_notebook(notebook, out_dir))
    return made


def run_notebook(notebook: Path, out_dir: Path | None = None, parameters: dict | None = None) -> Path:
    """Execute a notebook with papermill and write `<out_dir>/<name>.html`; returns the HTML path."""
    out_dir = out_dir or active_profile().path("dashboards")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    # the kernel's own warnings (e.g. that it talks over TCP on loopback) go to the log
    with child_output_to(active_profile().path("var") / "log" / "notebooks.log"):
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters or {}, kernel_name="python3",
            progress_bar=False, cwd=str(PROJECT_ROOT),
        )
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
