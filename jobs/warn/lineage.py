"""`lake.app.warning` and `lake.app.warning_history`, documented, made from the tables the rules
of `conf/warnings.yml` read."""

from __future__ import annotations

from citylake.catalog import Catalog
from citylake.warning_rules import load_warning_rules
from jobs.catalog.model import Declared, Edge, TableDoc, schema_columns
from jobs.theme.lineage import query_edges
from jobs.warn.lifecycle import HISTORY, HISTORY_SCHEMA, SCHEMA, WARNINGS

SHARED = {
    "warning_id": ("预警编号（规则:对象）", "rule:subject - stable across runs"),
    "rule": ("预警规则", "the rule's name in conf/warnings.yml"),
    "subject": ("预警对象", "the subject's key: a credit code, street code, unit code, resource or ID number"),
    "district_code": ("区县代码", "district of the subject, where it has one"),
    "severity": ("严重程度（low/medium/high）", "severity: low, medium or high"),
    "evidence": ("触发数据", "the numbers that triggered it, by name"),
}
WARNING_COLUMNS = {**SHARED,
    "rule_name": ("规则名称", "the rule's name for people (中文 English)"),
    "subject_type": ("对象类型", "enterprise, street, housing_unit, resource or person"),
    "subject_name": ("对象名称", "the subject's name for people"),
    "district_name": ("区县", "district"),
    "status": ("状态（new/acknowledged/closed）", "new, acknowledged or closed"),
    "condition_active": ("条件是否仍成立", "whether the latest evaluation found the condition"),
    "first_seen": ("首次发现（数据时间）", "the as-of time of the first evaluation that found it"),
    "last_seen": ("最近发现（数据时间）", "the as-of time of the latest evaluation that found it"),
    "opened_at": ("开启时间", "when it was opened, or reopened"),
    "acknowledged_by": ("确认人", "who acknowledged it"),
    "acknowledged_at": ("确认时间", "when it was acknowledged"),
    "ack_reason": ("确认说明", "why, as the person said"),
    "closed_by": ("关闭人", "who closed it (citylake warn when its condition cleared)"),
    "closed_at": ("关闭时间", "when it was closed"),
    "close_reason": ("关闭原因", "why it was closed"),
    "reopen_count": ("重开次数", "times the condition recurred after it had cleared"),
    "revision": ("版本", "changes of state so far (1 when opened)"),
    "last_change": ("最近变更", "the latest change of state, as kept in the history"),
}
HISTORY_COLUMNS = {**SHARED,
    "revision": ("版本", "the warning's revision this change made"),
    "from_status": ("原状态", "status before the change (empty when opened)"),
    "to_status": ("新状态", "status after the change"),
    "changed_at": ("变更时间", "when the change was made"),
    "changed_by": ("变更人", "who made it: a person, or citylake warn"),
    "reason": ("原因", "why"),
    "observed_at": ("数据时间", "the lake's as-of time of the evaluation that made it"),
}


def declared(catalog: Catalog) -> Declared:
    rules = load_warning_rules(catalog.conf_dir).rules
    tables = (
        TableDoc(WARNINGS, "早期预警：每条规则、每个对象一条预警及其生命周期（新建、已确认、已关闭）",
                 "Early warnings: one per rule and subject, with its lifecycle (new, acknowledged, closed)",
                 "one row per rule and subject ever found", ("warning_id",), schema_columns(SCHEMA, WARNING_COLUMNS)),
        TableDoc(HISTORY, "预警历史：每条预警的每次状态变更，含变更人和原因",
                 "Every change of state of every warning, with who and why",
                 "one row per warning and revision", ("warning_id", "revision"),
                 schema_columns(HISTORY_SCHEMA, HISTORY_COLUMNS)),
    )
    edges = [Edge(WARNINGS, edge.source, edge.kind, f"{name}{': ' + edge.detail if edge.detail else ''}")
             for name, rule in rules.items() for edge in query_edges(WARNINGS, rule, "evaluate")]
    edges.append(Edge(HISTORY, WARNINGS, "history", "every change of state"))
    return Declared(tables=tables, edges=tuple(edges))
