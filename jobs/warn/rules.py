"""Evaluating the early-warning rules of `conf/warnings.yml` into findings: one row per rule and
subject whose condition holds at the lake's as-of time, with the numbers that triggered it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake.warning_rules import SUBJECT_COLUMNS, WarningRule, WarningRules
from jobs.theme.queries import missing_sources, run_query

SEVERITIES = ("low", "medium", "high")
FINDINGS_SCHEMA = ("rule string, rule_name string, subject_type string, subject string, subject_name string, "
                   "district_code string, district_name string, severity string, evidence map<string,string>, "
                   "observed_at timestamp")


class RuleOutputError(ValueError):
    """A rule's query does not give the columns its declaration promises."""


@dataclass(frozen=True)
class Evaluation:
    """The findings of every rule evaluated, the rules evaluated, and those left out -> the lake
    tables they need that are missing."""

    findings: DataFrame
    evaluated: list[str]
    left_out: dict[str, list[str]]


def rule_findings(spark: SparkSession, name: str, rule: WarningRule, params: dict[str, object],
                  as_of: datetime) -> DataFrame:
    """One rule's findings in the findings' columns, its evidence as a map of strings."""
    result = run_query(spark, rule, {**params, **rule.params}, as_of)
    lacking = [column for column in (*SUBJECT_COLUMNS, *rule.evidence) if column not in result.columns]
    if lacking:
        raise RuleOutputError(f"warning rule {name}: its query gives no column {', '.join(lacking)}")
    evidence = F.create_map(*[part for column in rule.evidence
                              for part in (F.lit(column), F.col(column).cast("string"))])
    severity = F.when(F.col("severity").isin(*SEVERITIES), F.col("severity")).otherwise(
        F.raise_error(F.concat(F.lit(f"warning rule {name}: severity must be one of {', '.join(SEVERITIES)}, not "),
                               F.coalesce(F.col("severity"), F.lit("null")))))
    return result.select(
        F.lit(name).alias("rule"), F.lit(rule.display_name).alias("rule_name"), F.lit(rule.subject).alias("subject_type"),
        F.col("subject").cast("string"), F.col("subject_name").cast("string"), F.col("district_code").cast("string"),
        F.col("district_name").cast("string"), severity.alias("severity"),
        F.map_filter(evidence, lambda _, value: value.isNotNull()).alias("evidence"),
        F.to_timestamp(F.lit(as_of.isoformat(sep=" "))).alias("observed_at"))


def evaluate(spark: SparkSession, rules: WarningRules, params: dict[str, object], as_of: datetime) -> Evaluation:
    """Every rule whose sources the lake has, its findings together (the reference views must be
    registered: `jobs.theme.references.register_references`)."""
    frames, evaluated, left_out = [], [], {}
    for name, rule in rules.rules.items():
        missing = missing_sources(spark, rule)
        if missing:
            left_out[name] = missing
            continue
        frames.append(rule_findings(spark, name, rule, params, as_of))
        evaluated.append(name)
    if not frames:
        return Evaluation(spark.createDataFrame([], FINDINGS_SCHEMA), evaluated, left_out)
    return Evaluation(reduce(DataFrame.unionByName, frames), evaluated, left_out)

