"""The early-warning job (`citylake warn`): every rule of `conf/warnings.yml` evaluated at the
lake's as-of time, its findings kept as warnings with a lifecycle in `lake.app.warning`."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from citylake.catalog import Catalog, load_catalog
from citylake.themes import Themes, load_themes
from citylake.warning_rules import WarningRules, load_warning_rules
from jobs.theme.references import register_references
from jobs.warn.lifecycle import LifecycleChanges, apply_findings
from jobs.warn.rules import evaluate


@dataclass(frozen=True)
class WarnRun:
    """What one evaluation did to the warnings, the rules it evaluated and those left out -> the
    lake tables they need, and the as-of time it looked at."""

    changes: LifecycleChanges
    evaluated: list[str]
    left_out: dict[str, list[str]]
    as_of: str


def warn(spark: SparkSession, rules: WarningRules | None = None, themes: Themes | None = None,
         catalog: Catalog | None = None) -> WarnRun:
    """Evaluate every rule the lake's tables allow and apply the findings to the warnings."""
    catalog = catalog or load_catalog()
    rules = rules or load_warning_rules(catalog.conf_dir)
    themes = themes or load_themes(catalog.conf_dir)
    references = register_references(spark, catalog)
    evaluation = evaluate(spark, rules, themes.params, references.as_of)
    changes = apply_findings(spark, evaluation.findings, evaluation.evaluated, as_of=references.as_of)
    return WarnRun(changes, evaluation.evaluated, evaluation.left_out, references.as_of.isoformat(sep=" "))
