"""The data dictionary: every table with its descriptions in Chinese and English, its columns
(real types where the table exists) and its lineage up and down, every link landing on an anchor;
a table in the lake that no job declares shown and named."""

from __future__ import annotations

import re
import socket
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jobs.catalog import dictionary
from jobs.catalog.registry import declarations, documented_tables, lineage_edges


class Anchors(HTMLParser):
    """The ids and the in-page links (`href="#..."`) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if (attributes.get("href") or "").startswith("#"):
            self.links.append(attributes["href"][1:])


def anchors(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser


def section(html: str, table: str) -> str:
    start = html.index(f'<section class="table" id="{table}">')
    return html[start:html.index("</section>", start)]


def column_row(html: str, column: str) -> str:
    return re.search(rf"<tr><td><code>{re.escape(column)}</code></td>.*?</tr>", html, re.DOTALL).group(0)


@pytest.fixture(scope="module")
def documented(catalog):
    declared = declarations(catalog)
    return documented_tables(declared), lineage_edges(declared)


@pytest.fixture(scope="module")
def page(catalog, documented):
    tables, edges = documented
    return dictionary.render(dictionary.table_pages(tables, edges, {}), catalog, datetime(2026, 3, 5, 12, 0))


def test_every_link_lands_on_an_anchor_and_every_table_has_one(page, documented):
    found = anchors(page)
    assert found.links and set(found.links) <= found.ids
    assert set(documented[0]) <= found.ids
    # a delivery leads to its resource in the catalog section
    assert "delivery:psb.household_registration" in found.links


def test_tables_are_described_in_chinese_and_english_with_grain_and_keys(page):
    population = section(page, "base.population")
    assert "人口基础库" in population and "One row per person the city knows" in population
    assert "one row per id_number" in population and "<code>id_number</code>" in population
    # a base attribute is described by the data element of the column it is taken from
    assert "性别" in column_row(population, "gender") and "Human sex code." in column_row(population, "gender")
    assert "psb.household_registration.domicile_address" in column_row(population, "domicile_address")
    raw = section(page, "raw.psb_household_registration")
    assert "公安局「户籍人口」贴源数据" in raw and "Registered residents from the Public Security Bureau" in raw
    assert "公民身份号码" in column_row(raw, "GMSFHM")
    integrated = section(page, "integrated.psb_household_registration")
    assert "raw.psb_household_registration.GMSFHM as resident_id, GB 11643-1999" in column_row(integrated, "id_number")
    assert ">date<" in column_row(integrated, "birth_date")


def test_lineage_up_and_down_links_table_to_table(page):
    population = section(page, "base.population")
    up, down = population.split("feeds 下游")
    assert 'href="#integrated.psb_household_registration_history"' in up
    assert 'href="#base.population_conflict"' in down and 'href="#base.housing_unit"' in down
    assert 'href="#kind-fuse"' in up
    ledger = section(page, "ops.batch_ledger")
    assert 'href="#delivery:psb.household_registration"' in ledger.split("feeds 下游")[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def own_lake(settings, tmp_path: Path):
    """A profile of its own lake (a Trino port nothing listens on: nothing is registered)."""
    var = tmp_path / "var"
    paths = settings.paths.model_copy(update={"var": str(var), "warehouse": str(var / "warehouse"),
                                              "docs": str(var / "docs")})
    return settings.model_copy(update={"paths": paths,
                                       "trino": settings.trino.model_copy(update={"port": _free_port()})})


@pytest.mark.spark
def test_a_lake_s_tables_appear_with_their_real_columns_and_reruns_write_nothing(spark, catalog, own_lake):
    from pyspark.sql import functions as F

    from citylake import lake
    from jobs.catalog.job import run
    from jobs.catalog.tables import CATALOG_ITEM, CATALOG_RESOURCE, LINEAGE

    one = spark.range(1)
    lake.write_table(one.select(F.lit("350502199001011234").alias("GMSFHM"), F.lit("测试").alias("XM"),
                                F.lit("补录").alias("备注")), "raw.psb_household_registration", "overwrite", own_lake)
    lake.write_table(one.select(F.lit("350502199001011234").alias("id_number"),
                                F.to_date(F.lit("1990-01-01")).alias("birth_date")),
                     "integrated.psb_household_registration", "overwrite", own_lake)
    lake.write_table(one.select(F.lit("note").alias("text")), "app.scratch_notes", "overwrite", own_lake)

    written = run(spark, catalog, profile=own_lake)
    assert written.rows == {CATALOG_RESOURCE: 14, CATALOG_ITEM: 128, LINEAGE: len(lineage_edges(declarations(catalog)))}
    assert written.undeclared == ["app.scratch_notes"]
    assert written.dictionary == own_lake.path("docs") / "index.html"
    lineage = {row.table_name for row in lake.read_table(spark, LINEAGE, own_lake).select("table_name").collect()}
    on_disk = {name for name in _tables_on_disk(own_lake)}
    assert on_disk - lineage == {"app.scratch_notes"}

    html = written.dictionary.read_text(encoding="utf-8")
    found = anchors(html)
    assert set(found.links) <= found.ids
    raw = section(html, "raw.psb_household_registration")
    assert "in the lake 已建" in raw
    assert "not declared" in column_row(raw, "备注") and "not in the table yet" in column_row(raw, "XB")
    assert "公民身份号码" in column_row(raw, "GMSFHM")
    assert ">date<" in column_row(section(html, "integrated.psb_household_registration"), "birth_date")
    notes = section(html, "app.scratch_notes")
    assert "no job declares it" in notes and "<code>text</code>" in notes
    assert "not built yet 未建" in section(html, "base.population")

    versions = {name: lake.table_version(spark, name, own_lake) for name in (CATALOG_RESOURCE, CATALOG_ITEM, LINEAGE)}
    again = run(spark, catalog, profile=own_lake)
    assert again.rows == {} and again.unchanged == [CATALOG_RESOURCE, CATALOG_ITEM, LINEAGE]
    assert {name: lake.table_version(spark, name, own_lake) for name in versions} == versions


def _tables_on_disk(profile) -> list[str]:
    from citylake.trino.client import delta_tables_on_disk

    return [f"{schema}.{table}" for schema, table in delta_tables_on_disk(profile.path("warehouse"))]
