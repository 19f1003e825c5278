"""The notebook one-liners: `spark()` is the lake's Spark session, `trino(sql)` a frame from the
lake's Trino, in this process and in a headless notebook kernel."""

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from citylake.lab import spark as lab_spark, trino as lab_trino

pytestmark = [pytest.mark.spark, pytest.mark.trino]


def test_spark_is_the_lakes_session(spark):
    session = lab_spark()
    assert session.sparkContext.applicationId == spark.sparkContext.applicationId
    assert session.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert session.range(3).count() == 3


@pytest.fixture()
def layer_schemas(trino):
    from citylake.trino.client import ensure_schemas

    ensure_schemas(trino)
    return trino


def test_trino_returns_a_frame_from_the_lake(layer_schemas):
    frame = lab_trino("SELECT schema_name FROM lake.information_schema.schemata WHERE schema_name = ?", ["ops"])
    assert frame.to_dict("records") == [{"schema_name": "ops"}]


@pytest.mark.notebook
def test_the_one_liners_in_a_headless_notebook(layer_schemas, tmp_path):
    # the notebooks log in as their own user, who sees the layers it may read (raw is its owners')
    notebook = new_notebook(cells=[new_code_cell(
        "from citylake.lab import trino\n"
        "frame = trino('SELECT count(*) AS layers FROM lake.information_schema.schemata "
        "WHERE schema_name IN (?, ?)', ['theme', 'ops'])\n"
        "assert frame['layers'].tolist() == [2], frame")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, tmp_path / "one_liners.ipynb")
    papermill.execute_notebook(str(tmp_path / "one_liners.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False)
