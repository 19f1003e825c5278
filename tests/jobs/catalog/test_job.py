"""`citylake catalog` on the test lake: Trino answers the catalog and lineage tables, every table a
built lake holds appears in the lineage with every column documented, and the command says what
it wrote and where the dictionary is."""

from __future__ import annotations

import re

import pytest

from citylake import lake
from citylake.trino import client
from citylake.trino.client import delta_tables_on_disk
from jobs.catalog.job import run
from jobs.catalog.registry import declarations, lineage_edges
from jobs.catalog.tables import CATALOG_ITEM, CATALOG_RESOURCE, LINEAGE

pytestmark = [pytest.mark.spark]


@pytest.mark.trino
def test_trino_answers_the_catalog_and_lineage_tables(spark, trino, catalog, tmp_path):
    run(spark, catalog, docs=tmp_path)
    resources = client.query_df(f"SELECT * FROM lake.{CATALOG_RESOURCE}", trino)
    assert len(resources) == 14
    register = resources.set_index(["department", "resource"]).loc[("psb", "household_registration")]
    assert (register["resource_name"], list(register["key"]), register["sharing_name"]) == ("户籍人口", ["GMSFHM"], "有条件共享")
    items = client.query_df(f"SELECT * FROM lake.{CATALOG_ITEM}", trino)
    assert len(items) == 128
    assert items.groupby(["department", "resource"]).size()[("psb", "household_registration")] == 12
    lineage = client.query_df(f"SELECT * FROM lake.{LINEAGE}", trino)
    assert len(lineage) == len(lineage_edges(declarations(catalog)))
    fused = lineage[(lineage.table_name == "base.population")
                    & (lineage.source == "integrated.psb_household_registration_history")]
    assert fused[["layer", "source_layer", "job", "kind"]].values.tolist() == [["base", "integrated", "base", "fuse"]]


@pytest.mark.trino
def test_every_table_of_a_built_lake_appears_in_the_lineage_with_every_column_documented(
        spark, trino, catalog, integrated_city, tmp_path):
    from jobs.base.job import build

    build(spark)
    written = run(spark, catalog, docs=tmp_path)
    built = {f"{schema}.{table}" for schema, table in delta_tables_on_disk(trino.path("warehouse"))
             if schema in ("raw", "integrated", "base", "ops")}
    lineage = set(client.query_df(f"SELECT DISTINCT table_name FROM lake.{LINEAGE}", trino).table_name)
    assert built - lineage == set()
    assert {"base.population", "base.population_conflict", "base.district", "integrated.hcb_building_history",
            "ops.quality_score", "ops.corrections"} <= built
    drift = {column for columns in lake.read_table(spark, "ops.batch_ledger").select("drift_columns").collect()
             for column in columns[0] or []}
    html = written.dictionary.read_text(encoding="utf-8")
    for name in sorted(built):
        entry = html[html.index(f'<section class="table" id="{name}">'):]
        notes = dict(re.findall(r'<tr><td><code>(.*?)</code></td>.*?<td class="note">(.*?)</td></tr>',
                                entry[:entry.index("</section>")], re.DOTALL))
        assert set(lake.read_table(spark, name).columns) <= set(notes), name
        undeclared = {column for column, note in notes.items() if note == "not declared"}
        missing = {column for column, note in notes.items() if note == "not in the table yet"}
        # a department may deliver columns its catalog entry does not know (landing records them),
        # and leave out optional ones
        assert undeclared <= (drift if name.startswith("raw.") else set()), name
        assert not missing or name.startswith("raw."), (name, missing)


def test_the_command_says_what_it_wrote_and_where_the_dictionary_is(spark, settings, capsys):
    from citylake.cli import main

    main(["catalog"])
    first = capsys.readouterr().out.splitlines()
    up_to_date = next((line for line in first if line.startswith("up to date: ")), "")
    for name, rows in ((CATALOG_RESOURCE, 14), (CATALOG_ITEM, 128)):
        assert f"lake.{name}: {rows} rows" in first or f"lake.{name}" in up_to_date
    main(["catalog"])
    said = capsys.readouterr().out.splitlines()
    assert "up to date: lake.ops.catalog_resource, lake.ops.catalog_item, lake.ops.lineage" in said
    dictionary = settings.path("docs") / "index.html"
    assert f"data dictionary: {dictionary}" in said and dictionary.is_file()
    # the test run's own folder (tests/conftest.py), never the checkout's var/
    assert dictionary.is_relative_to(settings.path("var"))
