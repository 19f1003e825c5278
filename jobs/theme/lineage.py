"""The thematic tables as `conf/themes.yml` declares them: documented, and made from the lake
tables each query names, the reference data it reads and the lake's as-of time."""

from __future__ import annotations

from citylake.catalog import Catalog
from citylake.themes import SqlStep, ThemeTable, load_themes
from jobs.catalog.model import ColumnDoc, Declared, Edge, TableDoc, configuration
from jobs.landing.ledger import LEDGER

# where each reference view's rows come from
REFERENCE_SOURCES = {"ref_district": configuration("divisions.yml"), "ref_street": configuration("divisions.yml"),
                     "ref_industry": configuration("industries.yml"), "ref_resource": configuration("catalog")}


def table_doc(name: str, table: ThemeTable) -> TableDoc:
    return TableDoc(name, table.description.zh, table.description.en, table.grain, tuple(table.keys),
                    tuple(ColumnDoc(column, "", text.zh, text.en) for column, text in table.columns.items()))


def query_edges(name: str, step: SqlStep, kind: str) -> list[Edge]:
    """What a declared query is made from: its sources, its reference data, the as-of time."""
    edges = [Edge(name, source, kind) for source in step.sources]
    edges += [Edge(name, REFERENCE_SOURCES[view], "configuration", view) for view in step.reads()
              if view in REFERENCE_SOURCES]
    return edges + [Edge(name, LEDGER, "as-of")]


def declared(catalog: Catalog) -> Declared:
    themes = load_themes(catalog.conf_dir)
    tables = [(themes.qualified(name), table) for name, table in themes.tables.items()]
    return Declared(tables=tuple(table_doc(name, table) for name, table in tables),
                    edges=tuple(edge for name, table in tables for edge in query_edges(name, table, "aggregate")))
