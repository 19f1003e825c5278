"""The catalog job (`citylake catalog`): the resource catalog and lineage as lake tables, and the
data dictionary.

Writes, each as one Delta commit replacing the table, and only when its rows changed (the commit
records a fingerprint of them, so a rerun on the same configuration and code commits nothing):
- `ops.catalog_resource`: one row per resource of `conf/catalog`;
- `ops.catalog_item`: one row per data item (column) of each, with its data element;
- `ops.lineage`: one row per edge the jobs declare (`jobs.catalog.registry`);
and `<paths.docs>/index.html`, the data dictionary, from the declarations and the lake's real schemas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from citylake import lake, ops_tables
from citylake.catalog import Catalog, load_catalog
from citylake.ops_tables import OpsTable
from citylake.settings import Profile, profile as active_profile
from jobs.catalog import dictionary
from jobs.catalog.registry import JOBS, Declarer, declarations, documented_tables, lineage_edges
from jobs.catalog.tables import item_rows, lineage_rows, resource_rows


@dataclass(frozen=True)
class Written:
    """What one run did: rows per table written, the tables left as they were (same rows), the
    dictionary's path, the lake tables no job declares, and how long it took (seconds)."""

    rows: dict[str, int]
    unchanged: list[str]
    dictionary: Path
    undeclared: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(spark: SparkSession, catalog: Catalog | None = None, docs: Path | None = None,
        jobs: dict[str, Declarer] | None = None, profile: Profile | None = None) -> Written:
    """Write the catalog and lineage tables (those whose rows changed) and the data dictionary
    (to `docs`, default the profile's `paths.docs`)."""
    started = time.monotonic()
    profile = profile or active_profile()
    catalog = catalog or load_catalog()
    declared = declarations(catalog, jobs or JOBS)
    documented = documented_tables(declared)
    edges = lineage_edges(declared)
    rows, unchanged = {}, []
    for table, content in ((ops_tables.CATALOG_RESOURCE, resource_rows(catalog)),
                           (ops_tables.CATALOG_ITEM, item_rows(catalog)), (ops_tables.LINEAGE, lineage_rows(edges))):
        if write_unless_unchanged(spark, table, content, profile):
            rows[table.name] = len(content)
        else:
            unchanged.append(table.name)
    schemas = lake_schemas(spark, documented, profile)
    pages = dictionary.table_pages(documented, edges, schemas)
    now = datetime.now(ZoneInfo(spark.conf.get("spark.sql.session.timeZone")))
    path = dictionary.write_dictionary(docs or profile.path("docs"), pages, catalog, now)
    undeclared = sorted(name for name in schemas if name not in documented)
    return Written(rows, unchanged, path, undeclared, time.monotonic() - started)


def write_unless_unchanged(spark: SparkSession, table: OpsTable, rows: list[tuple],
                           profile: Profile | None = None) -> bool:
    """Replace the table with these rows in one commit, unless its last commit wrote the same
    rows; whether it wrote."""
    content = json.dumps(rows, ensure_ascii=False, default=str)
    fingerprint = lake.inputs_fingerprint(spark, [], table.schema.json(), content, profile=profile)
    if lake.recorded_fingerprint(spark, table.name, profile) == fingerprint:
        return False
    table.write(spark, rows, profile, made_from=fingerprint)
    return True


def lake_schemas(spark: SparkSession, names: Iterable[str], profile: Profile | None = None) -> dict[str, StructType]:
    """The real schema of every lake table that exists: on a warehouse on the local disk every
    table found there, elsewhere those named."""
    from citylake.trino.client import delta_tables_on_disk

    profile = profile or active_profile()
    if "://" in profile.paths.warehouse:
        existing = [name for name in names if lake.table_exists(spark, name, profile)]
    else:
        existing = [f"{schema}.{table}" for schema, table in delta_tables_on_disk(profile.path("warehouse"))]
    return {name: lake.read_table(spark, name, profile).schema for name in sorted(existing)}
