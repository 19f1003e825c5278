"""The rows of `lake.ops.catalog_resource`, `lake.ops.catalog_item` and `lake.ops.lineage`: the
resource catalog (数据资源目录) of `conf/catalog` and the jobs' declared lineage, as plain rows
(no Spark needed to make them) with the schema each table is written with."""

from __future__ import annotations

from citylake.catalog import Catalog, Resource
from citylake.ops_tables import CATALOG_ITEM as ITEM_TABLE, CATALOG_RESOURCE as RESOURCE_TABLE, LINEAGE as LINEAGE_TABLE
from citylake.settings import lake_layout
from jobs.catalog.model import Edge, layer_of
from jobs.integrate.standardize import key_targets

CATALOG_RESOURCE, RESOURCE_SCHEMA = RESOURCE_TABLE.name, RESOURCE_TABLE.schema
CATALOG_ITEM, ITEM_SCHEMA = ITEM_TABLE.name, ITEM_TABLE.schema
LINEAGE, LINEAGE_SCHEMA = LINEAGE_TABLE.name, LINEAGE_TABLE.schema

SHARING_NAMES = {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"}


def resource_rows(catalog: Catalog) -> list[tuple]:
    """One row per catalog resource, in the catalog's order (department files, then resources)."""
    rows = []
    for resource in catalog:
        department = catalog.department(resource.department)
        name = resource.table_name
        rows.append((
            department.code, department.name, department.name_en, resource.code, resource.name, resource.name_en,
            resource.description, resource.format, resource.encoding, list(resource.modes),
            resource.cycle.get("full"), resource.cycle.get("incremental"), list(resource.key), key_targets(resource),
            resource.operation_column, resource.change_time_column, resource.division_column, resource.street_column,
            resource.sharing, SHARING_NAMES[resource.sharing], resource.quarantine_limit, resource.delete_guard,
            len(resource.columns), f"raw.{name}", f"integrated.{name}", f"integrated.{name}_history",
            f"conf/catalog/{resource.department}.yml"))
    return rows


def item_rows(catalog: Catalog) -> list[tuple]:
    """One row per data item (column) of every resource, in the order the catalog declares them."""
    rows = []
    for resource in catalog:
        for position, column in enumerate(resource.columns, start=1):
            element = catalog.element(column.element)
            rows.append((resource.department, resource.code, position, column.source, column.target, column.type,
                         column.required, column.source in resource.key, role(resource, column.source),
                         column.element, element.label, element.standard, column.description))
    return rows


def role(resource: Resource, source: str) -> str | None:
    """What the catalog uses a column for besides its data: the operation, the change time, the
    division or the street of a row."""
    roles = {"operation": resource.operation_column, "change_time": resource.change_time_column,
             "division": resource.division_column, "street": resource.street_column}
    return next((name for name, column in roles.items() if column == source), None)


def lineage_rows(edges: list[tuple[str, Edge]]) -> list[tuple]:
    """One row per edge: the table, its layer, the source and its layer (NULL outside the lake),
    the job, the kind of dependency and what it takes; ordered by layer, table, source."""
    order = {layer: number for number, layer in enumerate(lake_layout().layers)}
    rows = [(edge.table, layer_of(edge.table), edge.source, layer_of(edge.source), job, edge.kind, edge.detail or None)
            for job, edge in edges]
    return sorted(rows, key=lambda row: (order.get(row[1], len(order)), row[0], row[2], row[4], row[5]))
