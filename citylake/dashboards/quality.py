"""The data-quality dashboard (数据质量): each department's quality score over time, each resource's
pass rate by rule kind, the rows set aside by rule, and the open corrections by age.

Every figure is read through Trino from `lake.ops` (`quality_score`, `quality_metrics`,
`quarantine`, `corrections`, `batch_ledger`). Times are business times: a batch counts from when
it was extracted, and "now" is the data's as-of time (the latest extraction landed up to the as-of
day), so a dashboard built again later, or for a past day, shows the same figures. Each figure is a SQL
statement (`*_sql`) and a pure shaping of its result (`shape_*`), joined by a function that runs
the one on Trino and returns the other.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from citylake.catalog import Catalog, District, load_catalog
from citylake.dashboards.names import bilingual, with_names
from citylake.dashboards.scope import Scope
from citylake.dashboards.sql import Query, run, table
from citylake.rules import load_rules

TABLES = ("ops.quality_score", "ops.quality_metrics", "ops.quarantine", "ops.corrections", "ops.batch_ledger")
KINDS = {"completeness": "完整性 completeness", "validity": "有效性 validity", "uniqueness": "唯一性 uniqueness",
         "referential": "关联性 referential", "timeliness": "及时性 timeliness"}
# The quarantine's rule codes: the row checks' fixed vocabulary (jobs.integrate.quality, the
# standards' Reason) and landing's unparseable rows; referential rules add their own names.
RULES = {
    "unparseable_row": "无法解析 unparseable row", "missing_required": "必填项为空 missing required value",
    "duplicate_key": "主键重复 duplicate key", "bad_length": "长度错误 wrong length",
    "bad_format": "格式错误 bad format", "invalid_check_digit": "校验位错误 invalid check digit",
    "invalid_birth_date": "出生日期无效 invalid birth date",
    "unknown_division_code": "行政区划代码不存在 unknown division code", "unknown_code": "代码不在代码表 unknown code",
    "unparseable_date": "日期无法识别 unparseable date", "invalid_date": "日期不存在 invalid date",
    "out_of_range": "超出范围 out of range",
}
# How long corrections have stayed open, in days: (upper bound, label), the last open-ended.
AGE_BUCKETS = ((1, "≤1 天 days"), (7, "2–7 天 days"), (30, "8–30 天 days"), (90, "31–90 天 days"),
               (None, ">90 天 days"))


def required_tables() -> list[str]:
    """The lake tables this dashboard reads, as notebooks declare them."""
    return [table(name) for name in TABLES]


# --------------------------------------------------------------------------- scores


def department_scores_sql(scope: Scope) -> tuple[str, list]:
    bound, params = ("AND day < ?", [scope.until.date()]) if scope.until else ("", [])
    return (f"SELECT department, day, score, batches, rows FROM {table('ops.quality_score')} "
            f"WHERE level = 'department' {bound} ORDER BY department, day", params)


def shape_department_scores(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """One row per department and extraction day: `day`, `department_name`, `score` (0-100),
    `batches`, `rows`."""
    frame = with_names(rows, catalog)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["score"] = frame["score"].astype(float).round(2)
    return frame[["day", "department", "department_name", "score", "batches", "rows"]].sort_values(
        ["department_name", "day"], ignore_index=True)


def department_scores(scope: Scope, catalog: Catalog | None = None, query: Query | None = None) -> pd.DataFrame:
    """Each department's quality score per extraction day (see `shape_department_scores`)."""
    return shape_department_scores(run(query, *department_scores_sql(scope)), catalog or load_catalog())


def kind_rates_sql(scope: Scope) -> tuple[str, list]:
    bound, params = ("WHERE extracted_at < ?", [scope.until]) if scope.until else ("", [])
    return (f"SELECT department, resource, kind, sum(rows_checked) AS checked, sum(rows_failed) AS failed "
            f"FROM {table('ops.quality_metrics')} {bound} GROUP BY department, resource, kind", params)


def shape_kind_rates(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Each resource's pass rate (%) by rule kind over all its batches in the scope: resources
    (`资源 · 部门`) as rows, rule kinds as columns in the order of `KINDS`; NaN where the resource
    is not measured on a kind or had no rows to check."""
    frame = with_names(rows, catalog)
    frame["label"] = [f"{resource} · {department.split(' ')[0]}"
                      for resource, department in zip(frame["resource_name"], frame["department_name"])]
    checked = frame["checked"].astype(float)
    frame["rate"] = (100 * (checked - frame["failed"].astype(float)) / checked.where(checked > 0)).round(1)
    rates = frame.pivot_table(index="label", columns="kind", values="rate", aggfunc="first", dropna=False)
    rates = rates.reindex(columns=list(KINDS)).rename(columns=KINDS)
    return rates.sort_index().rename_axis(index="资源 resource", columns="规则类别 rule kind")


def kind_rates(scope: Scope, catalog: Catalog | None = None, query: Query | None = None) -> pd.DataFrame:
    """Pass rate (%) per resource and rule kind over the batches in the scope (see `shape_kind_rates`)."""
    return shape_kind_rates(run(query, *kind_rates_sql(scope)), catalog or load_catalog())


# --------------------------------------------------------------------------- quarantine


def district_rows_sql(catalog: Catalog, district: District | None, alias: str = "") -> str:
    """A condition on `ops.quarantine`/`ops.corrections` rows (`department`, `resource`,
    `row_values`, of the table named `alias` if given): the row is about the district, by its
    resource's division or street column as delivered. Without a district, every row; resources
    without such a column have none."""
    if district is None:
        return "TRUE"
    places = [(resource, column) for resource in catalog
              for column in (resource.division_column, resource.street_column) if column]
    if not places:
        return "FALSE"
    at = f"{alias}." if alias else ""
    tests = [f"({at}department = '{resource.department}' AND {at}resource = '{resource.code}' "
             f"AND starts_with(trim(element_at({at}row_values, {_literal(column)})), '{district.code}'))"
             for resource, column in places]
    return "(" + " OR ".join(tests) + ")"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quarantine_sql(scope: Scope, catalog: Catalog) -> tuple[str, list]:
    conditions, params = [district_rows_sql(catalog, scope.district, "q")], []
    if scope.until:
        conditions.append("b.extracted_at < ?")
        params.append(scope.until)
    # a quarantined row's business time is its batch's extraction time, from the ledger
    return (f"""
        WITH batches AS (
            SELECT department, resource, batch_id, max(extracted_at) AS extracted_at
            FROM {table('ops.batch_ledger')} WHERE batch_id IS NOT NULL
            GROUP BY department, resource, batch_id)
        SELECT q.department, q.rule, count(*) AS rows
        FROM {table('ops.quarantine')} q
        JOIN batches b ON b.department = q.department AND b.resource = q.resource AND b.batch_id = q.batch_id
        WHERE {" AND ".join(conditions)}
        GROUP BY q.department, q.rule""", params)


def rule_names(catalog: Catalog) -> dict[str, str]:
    """Quarantine rule code -> its name: the fixed rules, then the referential rules of `conf/rules.yml`
    by their description's Chinese part."""
    names = dict(RULES)
    rules = load_rules(catalog)
    for resource in catalog:
        for reference in rules.rules_for(resource).referential:
            chinese = (reference.description or "").split(" (")[0]
            names.setdefault(reference.name, bilingual(chinese, reference.name) if chinese else reference.name)
    return names


def shape_quarantine(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Rows set aside per rule and department: `rule`, `rule_name`, `department_name`, `rows`, the
    rules with the most rows first."""
    frame = with_names(rows, catalog)
    names = rule_names(catalog)
    frame["rule_name"] = [names.get(rule, rule) for rule in frame["rule"]]
    frame["rows"] = frame["rows"].astype(int)
    totals = frame.groupby("rule_name")["rows"].transform("sum")
    return (frame.assign(total=totals).sort_values(["total", "rule_name", "department_name"],
                                                   ascending=[False, True, True], ignore_index=True)
            [["rule", "rule_name", "department", "department_name", "rows"]])


def quarantine_by_rule(scope: Scope, catalog: Catalog | None = None, query: Query | None = None) -> pd.DataFrame:
    """Rows in quarantine per rule and department, of batches extracted within the scope."""
    catalog = catalog or load_catalog()
    return shape_quarantine(run(query, *quarantine_sql(scope, catalog)), catalog)


# --------------------------------------------------------------------------- corrections


def open_corrections_sql(scope: Scope, catalog: Catalog, now: datetime) -> tuple[str, list]:
    # open at `now`: opened by then and not closed by then (a later closing does not count yet)
    return (f"""
        SELECT department, resource, date_diff('day', opened_at, ?) AS age_days
        FROM {table('ops.corrections')}
        WHERE opened_at <= ? AND (closed_at IS NULL OR closed_at > ?)
          AND {district_rows_sql(catalog, scope.district)}""", [now, now, now])


def age_bucket(days: int) -> str:
    """The label of the age bucket a correction open for `days` days falls in."""
    for upper, label in AGE_BUCKETS:
        if upper is None or days <= upper:
            return label
    raise AssertionError("the last bucket is open-ended")


def shape_open_corrections(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Open corrections per department and age bucket: `department_name`, `age` (an ordered
    category, youngest first), `corrections`, `oldest_days`; only buckets that hold some."""
    frame = with_names(rows, catalog)
    frame["age"] = pd.Categorical([age_bucket(int(days)) for days in frame["age_days"]],
                                  categories=[label for _, label in AGE_BUCKETS], ordered=True)
    counted = (frame.groupby(["department", "department_name", "age"], observed=True)
               .agg(corrections=("age_days", "size"), oldest_days=("age_days", "max")).reset_index())
    return counted.sort_values(["age", "department_name"], ignore_index=True)


def open_corrections(scope: Scope, now: datetime | None, catalog: Catalog | None = None,
                     query: Query | None = None) -> pd.DataFrame:
    """The corrections open at `now`, the data's as-of time, by department and age (see
    `shape_open_corrections`); none where no batch has landed (`now` is None)."""
    catalog = catalog or load_catalog()
    rows = (run(query, *open_corrections_sql(scope, catalog, now)) if now is not None
            else pd.DataFrame({"department": [], "resource": [], "age_days": []}))
    return shape_open_corrections(rows, catalog)


# --------------------------------------------------------------------------- summary


def department_summary(scores: pd.DataFrame, quarantine: pd.DataFrame, corrections: pd.DataFrame) -> pd.DataFrame:
    """One row per department with any figure: its latest score and that day, rows in quarantine,
    open corrections and the oldest one's age in days; the lowest score first."""
    latest = scores.sort_values("day").groupby("department_name").tail(1).set_index("department_name")
    summary = pd.DataFrame({
        "最新评分 latest score": latest["score"],
        "评分日 scored on": latest["day"].dt.date,
        "隔离行 rows quarantined": quarantine.groupby("department_name")["rows"].sum(),
        "待纠错 open corrections": corrections.groupby("department_name")["corrections"].sum(),
        "最久天数 oldest (days)": corrections.groupby("department_name")["oldest_days"].max(),
    })
    counts = ["隔离行 rows quarantined", "待纠错 open corrections"]
    summary[counts] = summary[counts].fillna(0).astype(int)
    summary["最久天数 oldest (days)"] = summary["最久天数 oldest (days)"].astype("Int64")
    return summary.sort_values("最新评分 latest score", na_position="last").rename_axis("部门 department")
