"""What the catalog job (`citylake catalog`) writes, documented, and what from: the resource
catalog's two tables from `conf/catalog` and `conf/elements.yml`, and `ops.lineage` from every
job's declaration (`jobs.catalog.registry.JOBS`)."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns
from jobs.catalog.tables import (CATALOG_ITEM, CATALOG_RESOURCE, ITEM_SCHEMA, LINEAGE, LINEAGE_SCHEMA,
                                 RESOURCE_SCHEMA)

RESOURCE_COLUMNS = {
    "department": ("部门代码", "Department code."),
    "department_name": ("部门名称", "The department's Chinese name."),
    "department_name_en": ("部门英文名", "The department's English name."),
    "resource": ("资源代码", "Resource code within the department."),
    "resource_name": ("资源名称", "The resource's Chinese name."),
    "resource_name_en": ("资源英文名", "The resource's English name."),
    "description": ("资源说明", "What one row of the resource is."),
    "format": ("文件格式", "csv, jsonl or xlsx."),
    "encoding": ("字符编码", "The files' encoding (csv, jsonl)."),
    "modes": ("抽取方式", "Extract modes the lake accepts: full, incremental."),
    "full_cycle": ("全量更新周期", "How often a full extract comes; NULL: on demand."),
    "incremental_cycle": ("增量更新周期", "How often an incremental extract comes; NULL: none or on demand."),
    "key": ("主键（交付字段）", "The key's columns as delivered."),
    "key_columns": ("主键（整合字段）", "The key's columns in the integrated layer."),
    "operation_column": ("操作类型字段", "The column giving an incremental row's operation (I/U/D)."),
    "change_time_column": ("变更时间字段", "The column giving a row's business time of change."),
    "division_column": ("行政区划字段", "The column placing a row in a district."),
    "street_column": ("街道字段", "The column placing a row in a street."),
    "sharing": ("共享类型", "unconditional, conditional or not_shared."),
    "sharing_name": ("共享类型名称", "无条件共享, 有条件共享 or 不予共享."),
    "quarantine_limit": ("隔离上限", "Share of a batch's rows that may be quarantined before it is rejected."),
    "delete_guard": ("删除保护", "Share of keys a full extract may delete before it is held for review."),
    "items": ("数据项数", "Data items (columns) of the resource."),
    "raw_table": ("贴源表", "The resource's raw table."),
    "integrated_table": ("整合表", "The resource's integrated current table."),
    "history_table": ("整合历史表", "The resource's integrated history."),
    "conf_file": ("目录文件", "The catalog file declaring it."),
}

ITEM_COLUMNS = {
    "department": ("部门代码", "Department code."),
    "resource": ("资源代码", "Resource code."),
    "position": ("序号", "The item's position in the resource (1 first)."),
    "source_column": ("交付字段", "The column as the department delivers it."),
    "target_column": ("整合字段", "The column's English name in the integrated layer."),
    "type": ("类型", "The integrated column's type."),
    "required": ("必填", "Must be in every file with a value."),
    "in_key": ("主键", "Part of the resource's key."),
    "role": ("用途", "operation, change_time, division or street when the catalog uses it so."),
    "element": ("数据元", "The data element (conf/elements.yml) its values follow."),
    "element_label": ("数据元名称", "The data element's Chinese name."),
    "element_standard": ("数据元标准", "The standard the element follows, if one."),
    "description": ("说明", "The item's description in the catalog."),
}

LINEAGE_COLUMNS = {
    "table_name": ("表", "The table made (layer.table), or what a job sends out of the lake (package:...)."),
    "layer": ("层", "The table's layer; NULL outside the lake."),
    "source": ("来源", "What it is made from: a lake table, or delivery:, conf:, job: outside the lake."),
    "source_layer": ("来源层", "The source's layer; NULL outside the lake."),
    "job": ("作业", "The job (citylake command) that writes the table."),
    "kind": ("依赖类型", "What the table takes from the source: delivery, standardize, fuse, cross-check, ..."),
    "detail": ("说明", "What exactly: the attributes, rule or columns."),
}


def declared(catalog: Catalog) -> Declared:
    """The catalog tables and the lineage table, and what they are made from."""
    from jobs.catalog.registry import JOBS  # the registry lists this job too

    tables = (
        TableDoc(CATALOG_RESOURCE, "数据资源目录：每个部门提供的每个数据资源一行（责任部门、更新周期、共享类型等）。",
                 "The resource catalog (数据资源目录): one row per resource a department provides, with its owner, "
                 "format, update cycle, key and sharing class.", "one row per resource",
                 ("department", "resource"), schema_columns(RESOURCE_SCHEMA, RESOURCE_COLUMNS)),
        TableDoc(CATALOG_ITEM, "数据项目录：每个资源的每个数据项一行，附数据元及其标准。",
                 "The catalog's data items: one row per column of every resource, with its data element and "
                 "standard.", "one row per resource and data item", ("department", "resource", "source_column"),
                 schema_columns(ITEM_SCHEMA, ITEM_COLUMNS)),
        TableDoc(LINEAGE, "数据血缘：湖中每张表由哪些表、经哪个作业、以何种依赖生成，每条依赖一行。",
                 "Lineage: one row per edge, a lake table <- what it is made from, the job that writes it and the "
                 "kind of dependency, from the jobs' own declarations.", "one row per table, source and job",
                 ("table_name", "source", "job"), schema_columns(LINEAGE_SCHEMA, LINEAGE_COLUMNS)),
    )
    files = [configuration(f"catalog/{code}.yml") for code in catalog.departments]
    edges = [Edge(CATALOG_RESOURCE, path, "configuration", "departments and resources") for path in files]
    edges += [Edge(CATALOG_ITEM, path, "configuration", "data items") for path in files]
    edges += [Edge(CATALOG_ITEM, configuration("elements.yml"), "configuration", "data elements, labels, standards")]
    edges += [Edge(LINEAGE, f"job:{job}", "declaration", declare.__module__) for job, declare in JOBS.items()]
    return Declared(tables, tuple(edges))

