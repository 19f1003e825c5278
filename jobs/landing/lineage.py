"""What the landing job (`citylake land`) writes, documented, and what from: each resource's raw
table from its department's deliveries; the batch ledger and the quarantine rows about them."""

from __future__ import annotations

from citylake.catalog import Catalog, Resource
from jobs.catalog.model import ColumnDoc, Declared, Edge, TableDoc, delivery, element_column, schema_columns, spark_type
from jobs.landing.job import raw_table
from jobs.landing.ledger import LEDGER, LEDGER_SCHEMA
from jobs.landing.quarantine import QUARANTINE, QUARANTINE_SCHEMA
from jobs.landing.staging import ORIGIN_TYPES

ORIGIN = {
    "_batch_id": ("交付批次号", "The delivery package's batch id."),
    "_sequence": ("批次序号", "The package's sequence number within its resource."),
    "_department": ("交付部门", "The department that delivered the package."),
    "_mode": ("抽取方式（全量/增量）", "Extract mode of the package: full or incremental."),
    "_extracted_at": ("抽取时间", "When the department extracted the package."),
    "_file": ("来源文件", "The package file the row was read from."),
    "_record": ("文件行号", "The row's record number in its file."),
    "_ingested_at": ("落地时间", "When the lake landed the package."),
    "_row_hash": ("行哈希", "XXH3-128 of the delivered values, for spotting identical rows."),
}

LEDGER_COLUMNS = {
    "department": ("部门", "Department code."),
    "resource": ("资源", "Resource code."),
    "batch_id": ("批次号", "The package's batch id."),
    "sequence": ("批次序号", "The package's sequence number."),
    "mode": ("抽取方式", "full or incremental."),
    "extracted_at": ("抽取时间", "When the department extracted the package."),
    "status": ("落地结果", "landed, replay, rejected, held or released."),
    "reason": ("原因", "Why the package was rejected, held or released."),
    "content_sha256": ("内容摘要", "SHA-256 over the package's files."),
    "rows_read": ("读取行数", "Rows read from the package's files."),
    "rows_landed": ("落地行数", "Rows written to the raw table."),
    "rows_quarantined": ("隔离行数", "Rows that could not be parsed, in ops.quarantine."),
    "drift_columns": ("目录外字段", "Delivered columns the catalog does not know."),
    "package_path": ("交付包路径", "Where the package was found."),
    "started_at": ("开始时间", "When landing the package started."),
    "finished_at": ("结束时间", "When landing the package finished."),
    "duration_s": ("耗时（秒）", "Seconds landing the package took."),
}

QUARANTINE_COLUMNS = {
    "department": ("部门", "Department code."),
    "resource": ("资源", "Resource code."),
    "batch_id": ("批次号", "The batch the row came in."),
    "sequence": ("批次序号", "The batch's sequence number."),
    "file": ("来源文件", "The package file the row was read from."),
    "record": ("文件行号", "The row's record number in its file."),
    "rule": ("违反规则", "The rule the row broke: unparseable_row, missing_required, invalid_check_digit, ..."),
    "reason": ("原因", "Why, naming the values involved."),
    "row_text": ("原始行", "Landing: the row as delivered."),
    "quarantined_at": ("隔离时间", "When the row was set aside."),
    "stage": ("环节", "landing or integration."),
    "check": ("检查项", "The rule as measured: validity:GMSFHM, uniqueness, ..."),
    "column_name": ("字段", "The department's column that broke the rule."),
    "delivered_value": ("交付值", "The value as delivered."),
    "key": ("主键", "The row's key as delivered, parts joined by '|'."),
    "row_values": ("交付值（按字段）", "Integration: the delivered values by the department's column names."),
}


def declared(catalog: Catalog) -> Declared:
    """The raw tables, the batch ledger and the quarantine, and the deliveries they come from."""
    edges = []
    for resource in catalog:
        source = delivery(resource.qualified_code)
        cycle = ", ".join(f"{mode} {resource.cycle[mode]}" if mode in resource.cycle else f"{mode} on demand"
                          for mode in resource.modes)
        edges += [Edge(raw_table(resource), source, "delivery", f"{resource.format}; {cycle}"),
                  Edge(LEDGER, source, "ledger", "one row per package seen"),
                  Edge(QUARANTINE, source, "quarantine", "rows that cannot be parsed")]
    tables = [raw_doc(catalog, resource) for resource in catalog] + [ledger_doc(), quarantine_doc()]
    return Declared(tuple(tables), tuple(edges))


def raw_doc(catalog: Catalog, resource: Resource) -> TableDoc:
    """`raw.<department>_<resource>`: the delivered columns, then the origin columns."""
    department = catalog.department(resource.department)
    delivered = tuple(
        element_column(column.source, "string", catalog.element(column.element), column.description,
                       f"delivered as {column.source}; data element {column.element}")
        for column in resource.columns)
    origin = tuple(ColumnDoc(name, spark_type(kind), *ORIGIN[name], "landing") for name, kind in ORIGIN_TYPES.items())
    return TableDoc(
        raw_table(resource),
        f"{department.name}「{resource.name}」贴源数据：按交付原样保存的每一行，附来源批次、文件和行号。",
        f"{resource.name_en or resource.name} from the {department.name_en}, exactly as delivered, with the "
        f"batch, file and record each row came from. {resource.description or ''}".strip(),
        "one row per delivered row of every landed batch",
        ("_batch_id", "_file", "_record"),
        delivered + origin)


def ledger_doc() -> TableDoc:
    return TableDoc(LEDGER, "落地台账：每个交付包一行，记录落地结果、行数、原因和耗时。",
                    "The landing ledger: one row per delivery package seen, with its outcome, counts, reason and "
                    "timings.",
                    "one row per package seen (a replayed or released package again)",
                    ("department", "resource", "batch_id", "status"), schema_columns(LEDGER_SCHEMA, LEDGER_COLUMNS))


def quarantine_doc() -> TableDoc:
    return TableDoc(QUARANTINE, "隔离区：落地无法解析、或整合时违反质量规则而被搁置的行，附规则和原因，待部门纠错。",
                    "Rows set aside, with the rule they broke and why: rows landing cannot parse, and rows "
                    "breaking a quality rule at integration; the departments correct them.",
                    "one row per row set aside, at each stage (landing or integration)",
                    ("department", "resource", "batch_id", "file", "record", "stage"),
                    schema_columns(QUARANTINE_SCHEMA, QUARANTINE_COLUMNS))
