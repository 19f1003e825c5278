"""The sharing performance assessment dashboard (共享绩效考核): the latest month's ranking, each
department's total score by month, and what each indicator adds to the total.

Read through Trino from `lake.ops.share_assessment` (the assess job's table: one row per month and
department). As elsewhere, a SQL statement (`assessment_sql`) and pure shapings of its result.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from citylake.catalog import Catalog, load_catalog
from citylake.dashboards.names import with_names
from citylake.dashboards.scope import Scope, lake_zone
from citylake.dashboards.sql import Query, run, table

TABLES = ("ops.share_assessment",)
# indicator -> its name people read, in the order of conf/assessment.yml
INDICATORS = {"delivery": "目录资源交付 catalogued resources delivered",
              "timeliness": "按周期及时交付 on-time delivery", "quality": "数据质量 quality",
              "corrections": "纠错时效 correction turnaround", "use": "被其他部门使用 use by others"}


def required_tables() -> list[str]:
    """The lake tables this dashboard reads, as notebooks declare them."""
    return [table(name) for name in TABLES]


def assessment_sql(scope: Scope) -> tuple[str, list]:
    # a month counts once its first day is within the scope
    bound, params = ("WHERE month < ?", [scope.until.date()]) if scope.until else ("", [])
    return f"SELECT * FROM {table('ops.share_assessment')} {bound} ORDER BY month, rank, department", params


def shape_assessment(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """The table's rows with `department_name` (中文 English), `month` as a time and `month_label`
    (`2026-03`), in month and rank order."""
    frame = with_names(rows, catalog)
    frame["month"] = pd.to_datetime(frame["month"])
    frame["month_label"] = frame["month"].dt.strftime("%Y-%m")
    return frame.sort_values(["month", "rank", "department_name"], ignore_index=True)


def assessment(scope: Scope, catalog: Catalog | None = None, query: Query | None = None) -> pd.DataFrame:
    """Every assessed month and department in the scope (see `shape_assessment`)."""
    return shape_assessment(run(query, *assessment_sql(scope)), catalog or load_catalog())


def latest_month(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the latest month assessed, best rank first."""
    return frame[frame["month"] == frame["month"].max()].sort_values(["rank", "department_name"], ignore_index=True)


def ranking(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest month's ranking: `label` (`1. 公安局 Public Security Bureau`), `total_score`, `rank`,
    `total_change` (against the previous month, NaN in a department's first month)."""
    latest = latest_month(frame)
    latest["label"] = [f"{rank}. {name}" for rank, name in zip(latest["rank"], latest["department_name"])]
    return latest[["label", "department_name", "rank", "total_score", "total_change", "month_label"]]


def trend(frame: pd.DataFrame) -> pd.DataFrame:
    """Each department's total score by month: `month`, `department_name`, `total_score`, `rank`."""
    return frame[["month", "department_name", "total_score", "rank"]].sort_values(["department_name", "month"],
                                                                                  ignore_index=True)


def breakdown(frame: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """What each indicator adds to the latest month's totals: one row per department and indicator
    with `indicator_name`, `score` (0-100) and `points` (score x weight; a department's points add
    up to its total), departments in rank order."""
    latest = latest_month(frame)
    long = latest.melt(id_vars=["department_name", "rank"], value_vars=[f"{name}_score" for name in INDICATORS],
                       var_name="indicator", value_name="score")
    long["indicator"] = long["indicator"].str.removesuffix("_score")
    long["indicator_name"] = long["indicator"].map(INDICATORS)
    long["points"] = (long["score"] * long["indicator"].map(weights)).round(2)
    order = {name: position for position, name in enumerate(INDICATORS)}
    return long.sort_values(["rank", "department_name", "indicator"], key=lambda column: column.map(order)
                            if column.name == "indicator" else column, ignore_index=True)


def indicator_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest month's raw values and scores per department, in rank order, for reading."""
    latest = latest_month(frame)
    table_ = pd.DataFrame({
        "排名 rank": latest["rank"],
        "部门 department": latest["department_name"],
        "交付 delivered": [f"{d}/{c}" for d, c in zip(latest["resources_delivered"], latest["resources_catalogued"])],
        "及时率 on time %": (100 * latest["timeliness_value"].astype(float)).round(1),
        "质量 quality": latest["quality_value"].astype(float).round(1),
        "纠错天数 days to correct": latest["corrections_value"].astype(float).round(1),
        "待纠错 open corrections": latest["corrections_open"],
        "被使用次数 queries by others": latest["use_value"],
        "综合得分 total": latest["total_score"],
        "较上月 change": latest["total_change"],
    })
    return table_.set_index("排名 rank")


def assessed_to(frame: pd.DataFrame) -> datetime | None:
    """The moment the latest month was assessed to, in the lake's time zone; None without rows."""
    if frame.empty:
        return None
    return pd.Timestamp(frame["assessed_to"].max()).to_pydatetime().astimezone(lake_zone())


def notes(frame: pd.DataFrame) -> list[str]:
    """What the latest month's assessment says was missing when it was made."""
    latest = latest_month(frame)
    return sorted({note for row in latest["notes"] if row is not None for note in row})
