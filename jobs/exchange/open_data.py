"""Open data (公共数据开放): every unconditional (无条件共享) catalog resource's current state, with
its personal data elements removed (not masked: the columns are not there), as an open-data
package under `<var>/open/<resource>/<package id>/` (CSV files and `manifest.json`, the format of
`jobs.exchange.package`), its `metadata.json` beside it (titles in Chinese and English, owner,
update cycle, fields with descriptions, licence, rows, as-of time, checksums) and the index of
every published resource, `<var>/open/index.json`. A resource's older packages are removed when a
new one is published: open data shows the current state.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from citylake import lake
from citylake.access import write_atomically
from citylake.catalog import Catalog, Resource
from citylake.sharing import SharingPolicy, load_policy
from jobs.exchange import ledger
from jobs.exchange.package import PackageTable, Written, current_version, read_version, write_package
from jobs.exchange.settings import ExchangeSettings, load_exchange, open_dir, time_zone

TARGET = "public"


@dataclass(frozen=True)
class Published:
    """One resource's open-data package: its metadata, and whether it was new (sent now)."""

    resource: str
    written: Written
    metadata: dict
    new: bool


def open_resources(catalog: Catalog) -> list[Resource]:
    """The catalog's unconditional resources: the ones published as open data."""
    return [resource for resource in catalog.resources if resource.sharing == "unconditional"]


def field_docs(policy: SharingPolicy, resource: Resource, columns: list[str]) -> list[dict]:
    """Each published column with its type and descriptions, from the catalog and its elements."""
    by_target = {column.target: column for column in resource.columns}
    fields = []
    for name in columns:
        column = by_target.get(name)
        element = policy.catalog.elements.get(column.element) if column else None
        fields.append({"name": name, "type": column.type if column else "string",
                       "description_zh": (column.description if column and column.description
                                          else element.label if element else ""),
                       "description_en": element.description.split(". ")[0].rstrip(".") + "." if element else "",
                       "element": column.element if column else None})
    return fields


def metadata(policy: SharingPolicy, settings: ExchangeSettings, resource: Resource, written: Written) -> dict:
    """The open-data metadata of a resource's package."""
    table = written.manifest["tables"][0]
    department = policy.catalog.department(resource.department)
    return {
        "resource": resource.qualified_code, "title_zh": resource.name, "title_en": resource.name_en or resource.code,
        "description": resource.description,
        "owner": {"code": department.code, "name": department.name, "name_en": department.name_en},
        "publisher": settings.open_data.publisher.model_dump(), "update_cycle": dict(resource.cycle),
        "licence": settings.open_data.licence.model_dump(),
        "fields": field_docs(policy, resource, [column["name"] for column in table["columns"]]),
        "removed_personal_fields": table["removed"],
        "rows": written.rows, "as_of": written.manifest["as_of"], "package_id": written.package_id,
        "manifest_sha256": written.checksum, "format": written.manifest["format"],
        "files": [{"path": f"{written.package_id}/{entry['name']}", "rows": entry["rows"], "sha256": entry["sha256"]}
                  for entry in table["files"]],
    }


def publish_resource(spark: SparkSession, policy: SharingPolicy, settings: ExchangeSettings,
                     resource: Resource) -> Published:
    name = f"integrated.{resource.table_name}"
    personal = {entry.column for entry in policy.table(name).personal}
    source = current_version(spark, name)
    frame = read_version(spark, source)
    removed = sorted(column for column in frame.columns if column in personal)
    root = open_dir() / resource.qualified_code
    header = {"kind": "open", "resource": resource.qualified_code, "table": name,
              "owner": {"code": resource.department, "name": policy.consumer_name(resource.department)}}
    written = write_package(root, f"{resource.table_name}-v{source.version}", header,
                            [PackageTable(source, frame.drop(*removed), resource.table_name, {"removed": removed})],
                            settings.rows_per_file, time_zone())
    meta = metadata(policy, settings, resource, written)
    write_atomically(root / "metadata.json", json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    for older in root.iterdir():
        if older.is_dir() and older.name != written.package_id:
            shutil.rmtree(older)
    new = not ledger.sends(spark, written.package_id)
    if new:
        ledger.record_send(spark, written, "open", TARGET, resource.qualified_code)
    return Published(resource.qualified_code, written, meta, new)


def publish_open_data(spark: SparkSession, policy: SharingPolicy | None = None,
                      settings: ExchangeSettings | None = None) -> tuple[list[Published], list[str]]:
    """Every unconditional resource's open-data package and the index; the resources left out
    because their integrated table is not built yet."""
    policy, settings = policy or load_policy(), settings or load_exchange()
    published, missing = [], []
    for resource in open_resources(policy.catalog):
        if lake.table_exists(spark, f"integrated.{resource.table_name}"):
            published.append(publish_resource(spark, policy, settings, resource))
        else:
            missing.append(resource.qualified_code)
    write_index(open_dir(), settings, [item.metadata for item in published])
    return published, missing


def write_index(folder: Path, settings: ExchangeSettings, items: list[dict]) -> None:
    """`index.json`: every published resource with its title, owner, rows, as-of time and metadata."""
    index = {"publisher": settings.open_data.publisher.model_dump(), "licence": settings.open_data.licence.model_dump(),
             "resources": [{key: item[key] for key in ("resource", "title_zh", "title_en", "owner", "update_cycle",
                                                       "rows", "as_of", "package_id")}
                           | {"metadata": f"{item['resource']}/metadata.json"} for item in items]}
    write_atomically(folder / "index.json", json.dumps(index, ensure_ascii=False, indent=2) + "\n")
