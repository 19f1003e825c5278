"""`lake.ops.share_assessment`, documented, made from the ledger, the quality scores, the
corrections, the query audit, the catalog, the jobs' lineage and conf/assessment.yml."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.assess.job import ASSESSMENT, CORRECTIONS, LEDGER, QUALITY_SCORE, QUERY_AUDIT
from jobs.assess.scoring import SCHEMA
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns

COLUMNS = {
    "month": ("考核月份", "The month assessed (its first day)."),
    "department": ("部门", "Department code (a department of the resource catalog)."),
    "department_name": ("部门名称", "The department's name in Chinese."),
    "department_name_en": ("部门英文名称", "The department's name in English."),
    "resources_catalogued": ("目录资源数", "The department's resources in the catalog."),
    "resources_delivered": ("已交付资源数", "Of them, those with at least one batch landed in the month."),
    "delivery_value": ("目录资源交付率", "resources_delivered / resources_catalogued."),
    "delivery_score": ("交付得分", "0-100: 100 x delivery_value."),
    "timeliness_checks": ("及时性检查次数", "Daily checks of the department's resources in the month (each day's end, "
                          "and the as-of time)."),
    "timeliness_on_time": ("按时次数", "Checks at which the resource was not late: due one update cycle after its "
                           "latest landed extract, plus the daily run's grace."),
    "timeliness_value": ("按周期及时交付率", "timeliness_on_time / timeliness_checks."),
    "timeliness_score": ("及时性得分", "0-100: 100 x timeliness_value."),
    "batches_measured": ("质量度量批次数", "Batches whose quality was measured in the month."),
    "quality_value": ("平均质量评分", "The month's mean department quality score (lake.ops.quality_score), "
                      "weighed by rows; empty when no batch was measured."),
    "quality_score": ("质量得分", "0-100: quality_value, 0 when no batch was measured."),
    "corrections_in_play": ("涉及纠错数", "Corrections open at some time in the month."),
    "corrections_open": ("未纠正数", "Of them, still open when the month was assessed."),
    "corrections_value": ("平均纠错天数", "Mean days from opening to correction; an open one counted to the "
                          "assessed-to time. Empty when none was in play."),
    "corrections_score": ("纠错得分", "0-100: full marks up to the declared days, falling linearly to 0; "
                          "with none in play, full marks if the department delivered in the month, else 0."),
    "use_value": ("被其他部门使用次数", "Successful queries by other consumers (departments, districts) of tables "
                  "made from the department's data; the platform's own reads and a department's reads of its own "
                  "data do not count."),
    "use_consumers": ("使用方数量", "Distinct other consumers among them."),
    "use_score": ("使用得分", "0-100: 100 x use_value / the declared full-marks queries, at most 100."),
    "total_score": ("综合得分", "The indicators' scores weighed by conf/assessment.yml (the weights add up to 1)."),
    "rank": ("排名", "Rank among the departments that month by total_score (ties share a rank)."),
    "departments": ("参评部门数", "Departments ranked that month."),
    "total_change": ("得分变化", "total_score minus the department's previous month's; empty in its first month."),
    "rank_change": ("排名变化", "Places gained since the previous month (positive: moved up)."),
    "assessed_to": ("考核截至", "The moment the month was assessed to: its end, or the lake's as-of time while "
                    "it runs."),
    "notes": ("说明", "Inputs the lake did not have when the month was assessed, and how that indicator counted."),
}


def declared(catalog: Catalog) -> Declared:
    table = TableDoc(ASSESSMENT, "共享绩效考核：每个部门每月的目录交付、按周期及时交付、数据质量、纠错时效和"
                                 "被其他部门使用情况的原始值与得分、加权总分、排名及较上月变化。",
                     "Sharing performance assessment (共享绩效考核): per month, each department's catalogued resources "
                     "delivered, on-time delivery against the update cycle, quality, correction turnaround and use by "
                     "other departments, each as raw value and 0-100 score, the weighted total, the rank and the "
                     "change against the previous month.",
                     "one row per month and department", ("month", "department"), schema_columns(SCHEMA, COLUMNS))
    edges = (
        Edge(ASSESSMENT, LEDGER, "aggregate", "resources delivered; on-time delivery against the update cycle"),
        Edge(ASSESSMENT, QUALITY_SCORE, "aggregate", "the month's mean quality score"),
        Edge(ASSESSMENT, CORRECTIONS, "aggregate", "days from opening to correction"),
        Edge(ASSESSMENT, QUERY_AUDIT, "aggregate", "successful queries of other consumers"),
        Edge(ASSESSMENT, configuration("assessment.yml"), "configuration",
             "weights, scoring bands, what counts as use"),
        Edge(ASSESSMENT, configuration("schedule.yml"), "configuration", "the grace before a delivery is late"),
        Edge(ASSESSMENT, "ops.lineage", "reference", "which tables carry each department's data (the jobs' lineage)"),
        *(Edge(ASSESSMENT, configuration(f"catalog/{code}.yml"), "reference", "the department's resources and cycles")
          for code in catalog.departments),
    )
    return Declared((table,), edges)
