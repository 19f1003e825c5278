"""What the dashboard runner reads from a notebook (title, summary, tables, parameters), the
parameters it passes, and a notebook that raises."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from citylake.dashboards.scope import resolve_scope
from citylake.notebooks import NOTEBOOKS, NotebookFailed, describe, run_notebook, scope_parameters


def plain_notebook(folder):
    """A notebook with no citylake metadata and no parameters cell."""
    notebook = folder / "plain.ipynb"
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("Intro.\n\n# 户籍人口概览 · Registered population overview\n\nHousehold registration "
                          "(`psb.household_registration`) as\ndelivered. Read through Trino."),
        new_code_cell("x = 1")]), notebook)
    return notebook


def test_a_notebook_describes_itself_by_metadata_or_by_its_first_heading(tmp_path):
    quality = describe(NOTEBOOKS / "data_quality.ipynb")
    assert quality.title == "数据质量 Data quality" and quality.summary.startswith("各部门质量评分走势")
    assert quality.parameters == {"district", "as_of"} and "lake.ops.quarantine" in quality.requires
    plain = describe(plain_notebook(tmp_path))
    assert plain.title == "户籍人口概览 · Registered population overview"
    assert plain.summary == "Household registration (psb.household_registration) as delivered."
    assert plain.requires == [] and plain.parameters == frozenset()


def test_only_the_parameters_a_notebook_declares_are_passed(tmp_path):
    scope = resolve_scope("丰泽区", "2026-03-05")
    assert scope_parameters(scope, describe(NOTEBOOKS / "data_quality.ipynb")) == {
        "district": "350503", "as_of": "2026-03-05"}
    assert scope_parameters(resolve_scope(), describe(NOTEBOOKS / "data_quality.ipynb")) == {
        "district": None, "as_of": None}
    assert scope_parameters(scope, describe(plain_notebook(tmp_path))) == {}


@pytest.mark.notebook
def test_a_notebook_that_raises_is_a_clear_error(tmp_path):
    notebook = tmp_path / "broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('no such table')")],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), notebook)
    with pytest.raises(NotebookFailed, match=r"broken.ipynb failed in cell 2: ValueError: no such table "
                                             r"\(the executed notebook: .*out/broken.ipynb\)"):
        run_notebook(notebook, tmp_path / "out")
