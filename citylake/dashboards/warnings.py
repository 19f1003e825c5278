"""The early-warning dashboard (预警): the open warnings by rule, severity and district, how many
were opened, acknowledged and closed per day, and each rule's open warnings with their evidence.

Read through Trino from `lake.app.warning` (one row per warning, its current state) and
`lake.app.warning_history` (every change of state). Times are business times: a change counts on
the day of the lake's as-of time the evaluation looked at (`observed_at`; a person's acknowledging
or closing on that of the warning's latest evaluation), so an as-of day shows the warnings as they
stood after the evaluations of the data up to that day. A district's dashboard shows the warnings
about its enterprises, streets, housing units and persons; those about a department's deliveries
concern the whole city and are on the city's dashboard only. A person's name and ID number are
masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from citylake.catalog import Divisions
from citylake.dashboards.decisions import district_label, district_names
from citylake.dashboards.names import bilingual
from citylake.dashboards.scope import Scope, lake_zone
from citylake.dashboards.sql import Query, run, table
from citylake.warning_rules import WarningRules, load_warning_rules

TABLES = ("app.warning", "app.warning_history", "ops.batch_ledger")
SEVERITIES = {"high": "高 high", "medium": "中 medium", "low": "低 low"}
STATUSES = {"new": "新 new", "acknowledged": "已确认 acknowledged", "closed": "已关闭 closed"}
SUBJECT_TYPES = {"enterprise": "企业 enterprise", "street": "街道 street", "housing_unit": "房屋 housing unit",
                 "resource": "数据资源 resource", "person": "人员 person", "district": "区县 district"}
CITY_WIDE = "全市 city-wide"
# the trend's changes of a day, as its legend reads them
CHANGES = {"opened": "新开（含重开） opened or reopened", "acknowledged": "确认 acknowledged",
           "closed": "关闭 closed"}
OPEN_AT_END = "日末未关闭 open at the day's end"
# What the evidence of conf/warnings.yml's rules means, as the drill-down reads it; a key not
# here is shown as it is named (a test holds every declared key to have a label).
EVIDENCE = {
    "headcount_peak": "此前峰值参保人数 peak insured headcount",
    "headcount_now": "当前参保人数 insured headcount now",
    "drop_pct": "降幅（%） drop (%)",
    "latest_tax_period": "最近税款所属期 latest tax period",
    "latest_tax_arrears": "最近一期欠税（元） latest arrears (yuan)",
    "penalties_recent": "近期行政处罚 recent penalties",
    "month_label": "月份 month",
    "residents": "实有人口 residents",
    "aged_65_plus": "65岁及以上 aged 65+",
    "share_65_plus_pct": "65岁及以上占比（%） share 65+ (%)",
    "rise_points": "一年内上升（百分点） rise in a year (points)",
    "day": "日期 day",
    "events": "事件数 events",
    "baseline_mean": "基线日均 baseline mean",
    "baseline_sd": "基线标准差 baseline sd",
    "floor_area_m2": "建筑面积（㎡） floor area (m²)",
    "area_per_resident_m2": "人均面积（㎡） m² per resident",
    "registered_residents": "户籍登记人数 registered residents",
    "cycle": "更新周期 update cycle",
    "last_extracted_at": "最近一次抽取 last extracted",
    "days_since": "距今天数 days since",
    "tolerance_days": "允许天数 days allowed",
    "score": "质量得分 quality score",
    "previous_mean": "此前平均分 previous mean",
    "drop_points": "下降分数 drop (points)",
    "death_date": "死亡日期 date of death",
    "insurance_records": "参保记录 insurance records",
}
WARNING_COLUMNS = ("warning_id", "rule", "rule_name", "subject_type", "subject", "subject_name", "district_code",
                   "district_name", "severity", "evidence", "status", "first_seen", "last_seen")


def required_tables() -> list[str]:
    """The lake tables this dashboard reads, as the notebook declares them."""
    return [table(name) for name in TABLES]


# --------------------------------------------------------------------------- open warnings


def open_warnings_sql(scope: Scope) -> tuple[str, list]:
    def district(alias: str = "") -> str:
        return f"AND {alias}district_code = ?" if scope.district else ""

    params = [scope.district.code] if scope.district else []
    if scope.until is None:
        columns = ", ".join(WARNING_COLUMNS)
        return (f"SELECT {columns} FROM {table('app.warning')} WHERE status <> 'closed' {district()}", params)
    # as of a day: each warning's state after its last change seen by then, its names of today
    return (f"""
        WITH seen AS (
            SELECT h.*, row_number() OVER (PARTITION BY warning_id ORDER BY revision DESC) AS recency,
                   min(observed_at) OVER (PARTITION BY warning_id) AS first_seen,
                   max(observed_at) OVER (PARTITION BY warning_id) AS last_seen
            FROM {table('app.warning_history')} h WHERE observed_at < ?)
        SELECT s.warning_id, s.rule, w.rule_name, w.subject_type, s.subject, w.subject_name, s.district_code,
               w.district_name, s.severity, s.evidence, s.to_status AS status, s.first_seen, s.last_seen
        FROM seen s JOIN {table('app.warning')} w ON w.warning_id = s.warning_id
        WHERE s.recency = 1 AND s.to_status <> 'closed' {district("s.")}""",
            [scope.until, *params])


def mask_person_name(name: object) -> str:
    """A person's name with all but its first character masked (张三丰 -> 张**)."""
    text = name if isinstance(name, str) else ""
    return text[:1] + "*" * (len(text) - 1) if text else "—"


def mask_id_number(number: str) -> str:
    """An ID number with all but its first and last four characters masked."""
    return number[:4] + "*" * max(len(number) - 8, 0) + number[-4:] if len(number) > 8 else "*" * len(number)


def person_evidence(evidence: object, id_number: str) -> dict:
    """A person's warning's evidence with their ID number masked wherever it appears (their
    insurance records are keyed by it)."""
    pairs = dict(evidence) if isinstance(evidence, dict) else dict(evidence or [])
    if not id_number:
        return pairs
    masked = mask_id_number(id_number)
    return {key: value.replace(id_number, masked) if isinstance(value, str) else value for key, value in pairs.items()}


def shape_open_warnings(rows: pd.DataFrame, rules: WarningRules, divisions: Divisions | None = None) -> pd.DataFrame:
    """One row per open warning: its `rule`, `rule_name`, `subject_label` (a person's name
    masked), `district_label` (全市 city-wide for a department's), `severity_label`,
    `status_label`, `first_seen`, `last_seen` (the lake's time zone), `evidence_text` (`name value`
    per line in the rule's order; a person's ID number masked) and the `warning_id` to act on it
    (none for a person's: it holds the ID number); by rule in the order of conf/warnings.yml, the
    most severe and latest first."""
    frame = rows.copy()
    names = district_names(divisions)
    person = frame["subject_type"] == "person"
    frame["subject_label"] = [mask_person_name(name) if is_person else (name or "—")
                              for name, is_person in zip(frame["subject_name"], person)]
    frame["warning_id"] = frame["warning_id"].where(~person, "—")
    frame["district_label"] = [CITY_WIDE if not isinstance(code, str) else district_label(code, name, names)
                               for code, name in zip(frame["district_code"], frame["district_name"])]
    frame["severity_label"] = frame["severity"].map(SEVERITIES).fillna(frame["severity"])
    frame["status_label"] = frame["status"].map(STATUSES).fillna(frame["status"])
    frame["rule_name"] = [name or _rule_name(rule, rules) for rule, name in zip(frame["rule"], frame["rule_name"])]
    evidence = [person_evidence(pairs, subject) if is_person else pairs
                for pairs, subject, is_person in zip(frame["evidence"], frame["subject"], person)]
    frame["evidence_text"] = [evidence_text(pairs, rules.rules[rule].evidence if rule in rules.rules else [])
                              for rule, pairs in zip(frame["rule"], evidence)]
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(lake_zone())
    order = {rule: position for position, rule in enumerate(rules.rules)}
    frame = frame.assign(rule_order=frame["rule"].map(order).fillna(len(order)),
                         severity_order=frame["severity"].map({"high": 0, "medium": 1, "low": 2}).fillna(3))
    frame = frame.sort_values(["rule_order", "rule", "severity_order", "last_seen", "subject_label"],
                              ascending=[True, True, True, False, True], ignore_index=True)
    return frame[["warning_id", "rule", "rule_name", "subject_type", "subject_label", "district_label", "severity",
                  "severity_label", "status", "status_label", "first_seen", "last_seen", "evidence_text"]]


def _rule_name(rule: str, rules: WarningRules) -> str:
    return rules.rules[rule].display_name if rule in rules.rules else rule


def evidence_text(evidence: object, order: list[str]) -> str:
    """The evidence map as `name value` lines: the rule's declared evidence first, in its order,
    then any other key; each key by its label in `EVIDENCE`."""
    pairs = dict(evidence) if isinstance(evidence, dict) else dict(evidence or [])
    keys = [key for key in order if key in pairs] + sorted(key for key in pairs if key not in order)
    return "\n".join(f"{EVIDENCE.get(key, key)} {pairs[key]}" for key in keys)


def open_warnings(scope: Scope, rules: WarningRules | None = None, query: Query | None = None) -> pd.DataFrame:
    """The warnings open (new or acknowledged) in the scope (see `shape_open_warnings`)."""
    return shape_open_warnings(run(query, *open_warnings_sql(scope)), rules or load_warning_rules())


# --------------------------------------------------------------------------- counts


def by_rule(warnings: pd.DataFrame) -> pd.DataFrame:
    """Open warnings per rule and severity: `rule_name`, `severity_label`, `warnings`; rules in
    the order of conf/warnings.yml."""
    return _count(warnings, ["rule_name", "severity_label"])


def by_severity(warnings: pd.DataFrame) -> pd.DataFrame:
    """Open warnings per severity and status: `severity_label`, `status_label`, `warnings`."""
    return _count(warnings, ["severity_label", "status_label"])


def by_district(warnings: pd.DataFrame) -> pd.DataFrame:
    """Open warnings per district and severity: `district_label`, `severity_label`, `warnings`;
    the districts with the most first, city-wide (a department's) last."""
    counted = _count(warnings, ["district_label", "severity_label"])
    totals = counted.groupby("district_label")["warnings"].transform("sum")
    last = counted["district_label"] == CITY_WIDE
    return (counted.assign(total=totals, last=last).sort_values(["last", "total", "district_label"],
                                                                 ascending=[True, False, True], kind="stable")
            .drop(columns=["total", "last"]).reset_index(drop=True))


def _count(warnings: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    # first appearance keeps the warnings' order (rules as declared, severities high to low)
    return warnings.groupby(keys, sort=False).size().rename("warnings").reset_index()


def severity_order(labels: pd.Series) -> list[str]:
    """The severities present, most severe first, for a chart's legend."""
    return [label for label in SEVERITIES.values() if label in set(labels)]


COLOURS = {SEVERITIES["high"]: "#c0392b", SEVERITIES["medium"]: "#e67e22", SEVERITIES["low"]: "#f1c40f"}


def rule_figure(counts: pd.DataFrame) -> go.Figure:
    """Open warnings per rule (`by_rule`), a bar per rule stacked by severity."""
    return px.bar(counts, x="warnings", y="rule_name", color="severity_label", orientation="h",
                  color_discrete_map=COLOURS,
                  category_orders={"severity_label": severity_order(counts["severity_label"]),
                                   "rule_name": list(dict.fromkeys(counts["rule_name"]))},
                  labels={"warnings": "预警数 warnings", "rule_name": "规则 rule", "severity_label": "严重程度 severity"},
                  title="按规则 Open warnings by rule")


def severity_figure(counts: pd.DataFrame) -> go.Figure:
    """Open warnings per severity (`by_severity`), stacked by status."""
    return px.bar(counts, x="severity_label", y="warnings", color="status_label",
                  category_orders={"severity_label": severity_order(counts["severity_label"]),
                                   "status_label": [STATUSES["new"], STATUSES["acknowledged"]]},
                  labels={"warnings": "预警数 warnings", "severity_label": "严重程度 severity",
                          "status_label": "状态 status"},
                  title="按严重程度 Open warnings by severity and status")


def district_figure(counts: pd.DataFrame) -> go.Figure:
    """Open warnings per district (`by_district`), stacked by severity."""
    return px.bar(counts, x="district_label", y="warnings", color="severity_label", color_discrete_map=COLOURS,
                  category_orders={"severity_label": severity_order(counts["severity_label"]),
                                   "district_label": list(dict.fromkeys(counts["district_label"]))},
                  labels={"warnings": "预警数 warnings", "district_label": "区县 district",
                          "severity_label": "严重程度 severity"},
                  title="按区县 Open warnings by district")


# --------------------------------------------------------------------------- trend


def trend_sql(scope: Scope) -> tuple[str, list]:
    conditions, params = [], []
    if scope.until is not None:
        conditions.append("observed_at < ?")
        params.append(scope.until)
    if scope.district:
        conditions.append("district_code = ?")
        params.append(scope.district.code)
    where = "WHERE " + " AND ".join(conditions) if conditions else ""
    zone = str(lake_zone()).replace("'", "''")
    return (f"""
        SELECT CAST(observed_at AT TIME ZONE '{zone}' AS DATE) AS day,
               count_if(to_status = 'new' AND (from_status IS NULL OR from_status = 'closed')) AS opened,
               count_if(to_status = 'acknowledged' AND from_status = 'new') AS acknowledged,
               count_if(to_status = 'closed' AND from_status IN ('new', 'acknowledged')) AS closed
        FROM {table('app.warning_history')} {where}
        GROUP BY 1""", params)


def shape_trend(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per day with any change: `day`, `opened` (opened or reopened), `acknowledged`,
    `closed` and `open` (open at the day's end: opened so far less closed so far)."""
    frame = rows.copy()
    frame["day"] = pd.to_datetime(frame["day"])
    counts = list(CHANGES)
    frame[counts] = frame[counts].astype(int)
    frame = frame[frame[counts].sum(axis=1) > 0].sort_values("day", ignore_index=True)
    frame["open"] = (frame["opened"] - frame["closed"]).cumsum()
    return frame[["day", *counts, "open"]]


def warning_trend(scope: Scope, query: Query | None = None) -> pd.DataFrame:
    """Warnings opened, acknowledged and closed per day, and open at each day's end (see `shape_trend`)."""
    return shape_trend(run(query, *trend_sql(scope)))


def trend_figure(trend: pd.DataFrame) -> go.Figure:
    """The changes of each day (`warning_trend`) as bars, and a line of the warnings open at its end."""
    figure = px.bar(trend_changes(trend), x="day", y="warnings", color="change", barmode="group",
                    category_orders={"change": list(CHANGES.values())},
                    labels={"day": "日期 day", "warnings": "预警数 warnings", "change": "变化 change"},
                    title="每日预警变化 Warnings opened, acknowledged and closed per day")
    figure.add_scatter(x=trend["day"], y=trend["open"], name=OPEN_AT_END, mode="lines+markers")
    return figure.update_xaxes(dtick=86_400_000, tickformat="%Y-%m-%d")


def trend_changes(trend: pd.DataFrame) -> pd.DataFrame:
    """The trend's changes as one row per day and change (`change` labelled as `CHANGES`) with
    its `warnings`; only those with any."""
    long = trend.melt(id_vars="day", value_vars=list(CHANGES), var_name="change", value_name="warnings")
    long["change"] = long["change"].map(CHANGES)
    return long[long["warnings"] > 0].reset_index(drop=True)


# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class RuleSection:
    """One rule's part of the drill-down: its name, what it means, and its open warnings as the
    table shows them."""

    rule: str
    title: str
    description: str
    table: pd.DataFrame


DRILL_DOWN = {"subject_label": "对象 subject", "district_label": "区县 district", "severity_label": "严重程度 severity",
              "status_label": "状态 status", "first_seen": "首次发现 first seen", "last_seen": "最近发现 last seen",
              "evidence_text": "依据 evidence", "warning_id": "预警编号 warning id"}


def drill_down(warnings: pd.DataFrame, rules: WarningRules | None = None) -> Iterator[RuleSection]:
    """Each rule with open warnings, in the order of conf/warnings.yml (then any other), with its
    description and its warnings' table (`DRILL_DOWN` columns, times to the minute)."""
    rules = rules or load_warning_rules()
    for rule, rows in warnings.groupby("rule", sort=False):
        declared = rules.rules.get(rule)
        shown = rows[list(DRILL_DOWN)].copy()
        for column in ("first_seen", "last_seen"):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M")
        subject = SUBJECT_TYPES.get(rows["subject_type"].iloc[0], rows["subject_type"].iloc[0])
        yield RuleSection(
            rule=rule, title=f"{rows['rule_name'].iloc[0]} ({len(rows)})",
            description=(bilingual(declared.description.zh, declared.description.en) if declared else "")
            + f" · 对象 subject: {subject}",
            table=shown.rename(columns=DRILL_DOWN).reset_index(drop=True))


def styled(table_: pd.DataFrame):
    """A drill-down table as the page shows it: no index, each evidence pair on its own line."""
    return (table_.style.hide(axis="index")
            .set_properties(subset=[DRILL_DOWN["evidence_text"]], **{"white-space": "pre-line"})
            .set_properties(**{"text-align": "left", "vertical-align": "top"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left"), ("vertical-align", "bottom")]}]))


def rules_without_warnings(warnings: pd.DataFrame, rules: WarningRules | None = None) -> list[str]:
    """The names of the declared rules with no open warning in the scope."""
    rules = rules or load_warning_rules()
    found = set(warnings["rule"])
    return [rule.display_name for name, rule in rules.rules.items() if name not in found]
