"""The population notebook executed headless against the test lake, exported as an offline dashboard."""

import os
import re
import subprocess
import sys

import pytest

from citylake.notebooks import NOTEBOOKS, run_notebook
from jobs.landing.job import land_inbox
from tests.packages import PSB_HEADER, csv_bytes, psb_rows, write_package

pytestmark = [pytest.mark.notebook, pytest.mark.spark, pytest.mark.trino]


def test_the_notebook_runs_and_exports_a_standalone_dashboard(spark, trino, catalog, fresh_psb, tmp_path):
    write_package(tmp_path / "inbox", "psb", "household_registration", 1,
                  {"a.csv": csv_bytes(PSB_HEADER, psb_rows(30, start=9000))}, rows={"a.csv": 30},
                  batch_id="t-notebook")
    assert [e.status for e in land_inbox(spark, tmp_path / "inbox", catalog)] == ["landed"]
    html_path = run_notebook(NOTEBOOKS / "population_overview.ipynb", tmp_path / "dashboards")
    html = html_path.read_text(encoding="utf-8")
    assert "Registered persons by domicile division code and gender" in html
    # plotly.js is inlined (a multi-megabyte bundle), never fetched from a CDN
    assert len(html) > 3_000_000 and re.search(r"plotly\.js v\d", html)
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    assert "Traceback" not in html

    # as a user runs it: the dashboard said, nothing of the kernel's on the terminal
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "notebooks"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dashboard:" in result.stdout and result.stderr == ""


def test_a_notebook_whose_tables_are_not_in_the_lake_is_left_out_and_said_so(trino, fresh_psb, tmp_path):
    """On a lake without the household register, the notebook is not run; the command says which
    table it needs and exits 0."""
    from citylake.notebooks import build_dashboards

    made = build_dashboards([NOTEBOOKS / "population_overview.ipynb"], tmp_path / "dashboards")
    assert made.built == [] and made.left_out == {"population_overview": ["lake.raw.psb_household_registration"]}
    result = subprocess.run([sys.executable, "-m", "citylake.cli", "notebooks"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("left out population_overview: needs lake.raw.psb_household_registration (not in the lake yet)"
            in result.stdout)
