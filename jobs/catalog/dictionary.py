"""The data dictionary (数据字典): one offline HTML page documenting every lake table, by layer,
with its description in Chinese and English, grain, keys, columns (types from the real Delta table
where it exists) and lineage up and down, linked table to table; and the resource catalog.

Pages are made from the jobs' declarations (`jobs.catalog.registry`) and the lake's real schemas;
a table in the lake that no job declares is shown too, with its schema, and said so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pyspark.sql.types import StructType

from citylake.catalog import Catalog
from citylake.settings import lake_layout
from jobs.catalog.tables import SHARING_NAMES
from jobs.catalog.model import KINDS, ColumnDoc, Edge, TableDoc, in_lake, layer_of

TEMPLATES = Path(__file__).parent / "templates"
INDEX = "index.html"


@dataclass(frozen=True)
class Link:
    """One edge as a table's page shows it: the other end, and whether it has a page."""

    other: str
    job: str
    kind: str
    detail: str
    has_page: bool


@dataclass(frozen=True)
class PageColumn:
    doc: ColumnDoc
    type: str
    note: str = ""


@dataclass(frozen=True)
class TablePage:
    """One table's entry: its declaration (None when no job declares it), whether it is in the
    lake, its columns, what it is made from and what is made from it."""

    name: str
    doc: TableDoc | None
    exists: bool
    columns: tuple[PageColumn, ...]
    upstream: tuple[Link, ...]
    downstream: tuple[Link, ...]

    @property
    def layer(self) -> str:
        return layer_of(self.name)


def table_pages(documented: dict[str, TableDoc], edges: list[tuple[str, Edge]],
                schemas: dict[str, StructType]) -> list[TablePage]:
    """A page per documented table and per table in the lake (`schemas`: name -> real schema),
    in the lake's layer order, then by name."""
    names = set(documented) | set(schemas)
    order = {layer: number for number, layer in enumerate(lake_layout().layers)}
    pages = []
    for name in sorted(names, key=lambda n: (order.get(layer_of(n), len(order)), n)):
        doc = documented.get(name)
        up = tuple(Link(edge.source, job, edge.kind, edge.detail, edge.source in names)
                   for job, edge in edges if edge.table == name)
        down = tuple(Link(edge.table, job, edge.kind, edge.detail, edge.table in names)
                     for job, edge in edges if edge.source == name)
        pages.append(TablePage(name, doc, name in schemas, page_columns(doc, schemas.get(name)), up, down))
    return pages


def page_columns(doc: TableDoc | None, schema: StructType | None) -> tuple[PageColumn, ...]:
    """The real table's columns with their real types and the declared descriptions; declared
    columns the table does not have (yet) after them; the declaration alone while it is not built."""
    declared = {column.name: column for column in doc.columns} if doc else {}
    if schema is None:
        return tuple(PageColumn(column, column.type or "—") for column in declared.values())
    real = [PageColumn(declared.get(field.name, ColumnDoc(field.name)), field.dataType.simpleString(),
                       "" if field.name in declared or not doc else "not declared")
            for field in schema.fields]
    present = {field.name for field in schema.fields}
    missing = [PageColumn(column, column.type or "—", "not in the table yet") for name, column in declared.items()
               if name not in present]
    return tuple(real + missing)


def render(pages: list[TablePage], catalog: Catalog, generated_at: datetime) -> str:
    """The dictionary's HTML: self-contained (no script, font or style from elsewhere)."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    layers = lake_layout().layers
    by_layer = {layer: [page for page in pages if page.layer == layer] for layer in layers}
    return environment.get_template("dictionary.html.j2").render(
        layers=layers, by_layer=by_layer, pages=pages, catalog=catalog, kinds=KINDS, generated_at=generated_at,
        in_lake=in_lake, outside_anchor=outside_anchor, sharing_names=SHARING_NAMES)


def outside_anchor(name: str) -> str | None:
    """The anchor of a source outside the lake that has an entry (a delivery: its catalog row)."""
    return name if name.startswith("delivery:") else None


def write_dictionary(folder: Path, pages: list[TablePage], catalog: Catalog, generated_at: datetime) -> Path:
    """Write `<folder>/index.html`; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / INDEX
    path.write_text(render(pages, catalog, generated_at), encoding="utf-8")
    return path
