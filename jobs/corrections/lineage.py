"""`lake.ops.corrections`, documented (the integration job writes it), and what the corrections
job (`citylake corrections`) sends back to each department from it."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.catalog.model import Declared, Edge, TableDoc, schema_columns
from jobs.corrections.job import CORRECTIONS, SCHEMA

COLUMNS = {
    "correction_id": ("纠错编号", "department/resource/batch/file/record of the row set aside."),
    "department": ("部门", "Department code."),
    "resource": ("资源", "Resource code."),
    "batch_id": ("批次号", "The batch the row came in."),
    "sequence": ("批次序号", "The batch's sequence number."),
    "file": ("来源文件", "The package file the row was read from."),
    "record": ("文件行号", "The row's record number in its file."),
    "key": ("主键（交付值）", "The row's key as delivered."),
    "key_std": ("主键（标准值）", "The standardized key, when the delivered key is valid."),
    "key_body": ("主键主体", "The delivered key without its last (check) character."),
    "rule": ("违反规则", "The rule the row broke."),
    "reason": ("原因", "Why, naming the values involved."),
    "row_values": ("交付值（按字段）", "The delivered values by the department's column names."),
    "row_text": ("原始行", "The row as delivered, for a row that could not be parsed."),
    "opened_at": ("开启时间", "When the quarantined batch was extracted."),
    "status": ("状态", "open or closed."),
    "closed_at": ("关闭时间", "When the correcting batch was extracted."),
    "closed_by_batch": ("纠正批次", "The batch that brought the row in good order."),
    "age_days": ("已开启天数", "Days open: to closed_at, or to as_of while open."),
    "as_of": ("计龄时间", "When an open correction's age was last rewritten."),
}


def corrections_doc() -> TableDoc:
    return TableDoc(CORRECTIONS, "纠错跟踪：每条被隔离的行一条纠错，直至部门重新交付正确数据后关闭。",
                    "Corrections (纠错): one per row set aside, open until a later applied batch of the same "
                    "resource brings the row in good order.",
                    "one row per row set aside (correction_id)", ("correction_id",),
                    schema_columns(SCHEMA, COLUMNS))


def package(department: str) -> str:
    """The outside target of a department's correction packages."""
    return f"package:corrections/{department}"


def declared(catalog: Catalog) -> Declared:
    """Each department's correction packages, written from its open corrections."""
    return Declared(edges=tuple(Edge(package(code), CORRECTIONS, "export",
                                     "open corrections in the department's own columns, format and encoding")
                                for code in catalog.departments))
