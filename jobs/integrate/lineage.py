"""What the integration job (`citylake integrate`) writes, documented, and what from: each
resource's current table and history from its raw table (its referential rules looking up the
resources they name), and the ledger, quality metrics and scores, quarantine and corrections."""

from __future__ import annotations

from citylake import ops_tables
from citylake.catalog import Catalog, Resource
from citylake.rules import RulesFile, load_rules
from jobs.catalog.model import (ColumnDoc, Declared, Edge, TableDoc, described_columns, element_column,
                                schema_columns)
from jobs.corrections.job import CORRECTIONS
from jobs.corrections.lineage import corrections_doc
from jobs.integrate.changes import CURRENT_COLUMNS, HISTORY_COLUMNS
from jobs.integrate.ledger import INTEGRATION_LEDGER, SCHEMA as LEDGER_SCHEMA
from jobs.integrate.metrics import KINDS, METRICS_SCHEMA, QUALITY_METRICS, QUALITY_SCORE
from jobs.integrate.standardize import data_columns, key_targets

LEDGER, QUARANTINE = ops_tables.BATCH_LEDGER.name, ops_tables.QUARANTINE.name

# The columns after a resource's own: (type, 中文, English); `changes.table_schema` is the truth
# they are tested against.
CHANGE_COLUMNS = {
    "_changed_at": ("timestamp", "变更时间（业务时间）", "Business time of the row's latest change."),
    "_batch_id": ("string", "批次号", "The batch that brought this version."),
    "_sequence": ("bigint", "批次序号", "That batch's sequence number."),
    "_record": ("bigint", "文件行号", "The version's record number in its batch file."),
    "_row_hash": ("bigint", "属性哈希", "Hash of the attributes: a row delivered again unchanged is no new version."),
    "_valid_from": ("timestamp", "生效时间", "Business time this version begins."),
    "_valid_to": ("timestamp", "失效时间", "Business time this version ends; NULL while current."),
    "_op": ("string", "操作类型", "The change that made this version: I insert, U update, D delete (the key ended)."),
}

LEDGER_COLUMNS = {
    "department": ("部门", "Department code."),
    "resource": ("资源", "Resource code."),
    "batch_id": ("批次号", "The landed batch."),
    "sequence": ("批次序号", "The batch's sequence number."),
    "mode": ("抽取方式", "full or incremental."),
    "extracted_at": ("抽取时间", "When the department extracted the batch."),
    "status": ("整合结果", "applied or rejected."),
    "reason": ("原因", "Why a batch was rejected."),
    "run_id": ("运行编号", "The batches applied together (consecutive incremental batches)."),
    "rows_in": ("输入行数", "Rows in the batch."),
    "rows_quarantined": ("隔离行数", "Rows set aside by quarantine and reject rules."),
    "rows_warned": ("告警行数", "Rows failing only warn rules."),
    "inserted": ("新增", "Keys inserted by the run."),
    "updated": ("修改", "Keys updated by the run."),
    "deleted": ("删除", "Keys deleted by the run."),
    "unchanged": ("未变", "Rows that changed nothing."),
    "late": ("迟到", "Changes older than what the lake knew of their key, set aside."),
    "started_at": ("开始时间", "When the run started."),
    "finished_at": ("结束时间", "When the run finished."),
    "duration_s": ("耗时（秒）", "Seconds the run took."),
}

METRICS_COLUMNS = {
    "department": ("部门", "Department code."),
    "resource": ("资源", "Resource code."),
    "batch_id": ("批次号", "The batch measured."),
    "sequence": ("批次序号", "The batch's sequence number."),
    "extracted_at": ("抽取时间", "When the department extracted the batch."),
    "check": ("检查项", "The rule as measured: completeness:XM, validity:GMSFHM, uniqueness, ..."),
    "kind": ("规则类别", "completeness, validity, uniqueness, referential or timeliness."),
    "column_name": ("字段", "The department's column checked, if one."),
    "action": ("处置方式", "warn, quarantine or reject."),
    "rows_checked": ("检查行数", "Rows checked (1 for timeliness)."),
    "rows_failed": ("未通过行数", "Rows failing the check."),
    "pass_rate": ("通过率", "1 - rows_failed / rows_checked."),
    "measured_at": ("度量时间", "When the batch was measured."),
}

KIND_NAMES = {"completeness": "完整性", "validity": "有效性", "uniqueness": "唯一性", "referential": "参照一致性",
              "timeliness": "及时性"}

SCORE_COLUMNS = (
    ("level", "string", "层级", "resource or department."),
    ("department", "string", "部门", "Department code."),
    ("resource", "string", "资源", "Resource code; NULL for a department's row."),
    ("day", "date", "日期", "The day the batches were extracted."),
    ("batches", "bigint", "批次数", "Batches measured that day."),
    ("rows", "bigint", "行数", "Rows measured that day."),
    *[(kind, "double", f"{KIND_NAMES[kind]}通过率", f"Pass rate of the {kind} rules (0-1).") for kind in KINDS],
    ("score", "double", "质量得分", "0-100: the mean of the rule kinds' pass rates (a department's weighs its "
                                  "resources by rows)."),
)


def declared(catalog: Catalog, rules: RulesFile | None = None) -> Declared:
    """The integrated tables and the ops tables integration writes, with their sources."""
    rules = rules or load_rules(catalog, catalog.conf_dir)
    tables, edges = [], []
    for resource in catalog:
        current, history = integrated_tables(resource)
        raw = resource.raw_table
        tables += [integrated_doc(catalog, resource, history=False), integrated_doc(catalog, resource, history=True)]
        edges += [Edge(current, raw, "standardize", "standards (conf/elements.yml), quality rules (conf/rules.yml)"),
                  Edge(history, raw, "history", "every change applied in business time"),
                  Edge(current, LEDGER, "control", "batches landed"),
                  Edge(history, LEDGER, "control", "batches landed")]
        for rule in rules.rules_for(resource).referential:
            referenced = catalog.resource(*rule.references.split("."))
            for table in (current, history):
                edges += [Edge(table, name, "reference", f"{rule.name}: {rule.column}")
                          for name in integrated_tables(referenced)]
        edges += [Edge(QUARANTINE, raw, "quarantine", "rows breaking a quarantine or reject rule"),
                  Edge(QUALITY_METRICS, raw, "measure", "rows checked and failed per batch and rule"),
                  Edge(INTEGRATION_LEDGER, raw, "ledger", "one row per landed batch: applied or rejected"),
                  Edge(CORRECTIONS, raw, "correction", "rows set aside open one; rows in good order close it")]
    edges += [Edge(INTEGRATION_LEDGER, LEDGER, "control", "batches landed"),
              Edge(QUALITY_METRICS, LEDGER, "control", "extraction times, for timeliness"),
              Edge(QUALITY_SCORE, QUALITY_METRICS, "aggregate", "pass rates per resource and department by day"),
              Edge(CORRECTIONS, QUARANTINE, "correction", "rows landing could not parse")]
    tables += [ledger_doc(), metrics_doc(), score_doc(), corrections_doc()]
    return Declared(tuple(tables), tuple(edges))


def integrated_tables(resource: Resource) -> tuple[str, str]:
    """A resource's current table and its history."""
    name = f"integrated.{resource.table_name}"
    return name, f"{name}_history"


def integrated_doc(catalog: Catalog, resource: Resource, *, history: bool) -> TableDoc:
    """`integrated.<resource>` or its `_history`: the catalog's columns under their target names,
    typed and standardized, then the change columns."""
    department = catalog.department(resource.department)
    columns = []
    for column in data_columns(resource):
        element = catalog.element(column.element)
        standard = f", {element.standard}" if element.standard else ""
        columns.append(element_column(column.target, column.type, element, column.description,
                                      f"{resource.raw_table}.{column.source} as {column.element}{standard}"))
    columns += [ColumnDoc(name, *CHANGE_COLUMNS[name], "integration")
                for name in (HISTORY_COLUMNS if history else CURRENT_COLUMNS)]
    key = key_targets(resource)
    name = integrated_tables(resource)[history]
    label = resource.name_en or resource.name
    if history:
        return TableDoc(name, f"{department.name}「{resource.name}」整合历史：每个主键的每个版本及其业务时间区间。",
                        f"{label}, every version of each key with the span of business time it was valid "
                        f"(_valid_from to _valid_to).", f"one row per {', '.join(key)} and version",
                        (*key, "_valid_from"), tuple(columns))
    return TableDoc(name, f"{department.name}「{resource.name}」整合数据：类型化、标准化、校验后的现势，每个主键一行。",
                    f"{label}: typed, standardized and checked, the current state with every change applied. "
                    f"{resource.description or ''}".strip(), f"one row per {', '.join(key)} (each live key)",
                    tuple(key), tuple(columns))


def ledger_doc() -> TableDoc:
    return TableDoc(INTEGRATION_LEDGER, "整合台账：每个落地批次一行，记录是否应用、原因、行数和变更数。",
                    "The integration ledger: one row per landed batch taken into the integrated layer, applied or "
                    "rejected, why, its row counts and what applying it changed.",
                    "one row per landed batch integrated", ("department", "resource", "batch_id"),
                    schema_columns(LEDGER_SCHEMA, LEDGER_COLUMNS))


def metrics_doc() -> TableDoc:
    return TableDoc(QUALITY_METRICS, "质量度量：每个批次、每条规则检查了多少行、未通过多少行。",
                    "Quality metrics: per batch and rule, the rows checked and the rows failing.",
                    "one row per batch and check", ("department", "resource", "batch_id", "check"),
                    schema_columns(METRICS_SCHEMA, METRICS_COLUMNS))


def score_doc() -> TableDoc:
    return TableDoc(QUALITY_SCORE, "质量得分：按日、按资源和部门的0-100质量得分，用于共享绩效考核。",
                    "Quality scores: 0-100 per resource and per department by day (the mean of the rule kinds' pass "
                    "rates), for sharing-performance assessment.",
                    "one row per level (resource or department), department, resource and day",
                    ("level", "department", "resource", "day"), described_columns(SCORE_COLUMNS))
