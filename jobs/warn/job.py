"""The early-warning job (`citylake warn`): every rule of `conf/warnings.yml` evaluated at the
lake's as-of time, its findings kept as warnings with a lifecycle in `lake.app.warning`.

An evaluation is a function of the rules' source tables, the ledger (the as-of time) and the
configuration: once one has been applied, `app.warning` records the fingerprint of those inputs
(a table property), and an evaluation from the same fingerprint is skipped. A person's
acknowledgement or closing needs no evaluation: the same findings would leave it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from citylake import lake
from citylake.catalog import Catalog, load_catalog
from citylake.ops_tables import BATCH_LEDGER
from citylake.themes import Themes, load_themes
from citylake.warning_rules import WarningRules, load_warning_rules
from jobs.theme.references import register_references
from jobs.warn.lifecycle import WARNINGS, LifecycleChanges, apply_findings, record_history
from jobs.warn.rules import evaluate


@dataclass(frozen=True)
class WarnRun:
    """What one evaluation did to the warnings, the rules it evaluated and those left out -> the
    lake tables they need, and the as-of time it looked at."""

    changes: LifecycleChanges
    evaluated: list[str]
    left_out: dict[str, list[str]]
    as_of: str
    up_to_date: bool = False  # made from the same inputs as the last evaluation: not evaluated again


EVALUATED_FROM = "citylake.evaluatedFrom"  # app.warning's property: the inputs of the last evaluation applied


def warn(spark: SparkSession, rules: WarningRules | None = None, themes: Themes | None = None,
         catalog: Catalog | None = None, force: bool = False) -> WarnRun:
    """Evaluate every rule the lake's tables allow and apply the findings to the warnings, unless
    the last evaluation was made from the same inputs (`force`: evaluate anyway)."""
    catalog = catalog or load_catalog()
    rules = rules or load_warning_rules(catalog.conf_dir)
    themes = themes or load_themes(catalog.conf_dir)
    references = register_references(spark, catalog)
    fingerprint = evaluation_inputs(spark, rules, themes, references.configuration)
    recorded = lake.table_property(spark, WARNINGS, EVALUATED_FROM) if lake.table_exists(spark, WARNINGS) else None
    if not force and recorded == fingerprint:
        record_history(spark)  # the history row of a revision an interrupted run committed without it
        return WarnRun(LifecycleChanges(), [], {}, references.as_of.isoformat(sep=" "), up_to_date=True)
    evaluation = evaluate(spark, rules, themes.params, references.as_of)
    changes = apply_findings(spark, evaluation.findings, evaluation.evaluated, as_of=references.as_of)
    if recorded != fingerprint:  # recorded only once applied in full (a failed write records nothing)
        lake.set_table_property(spark, WARNINGS, EVALUATED_FROM, fingerprint)
    return WarnRun(changes, evaluation.evaluated, evaluation.left_out, references.as_of.isoformat(sep=" "))


def evaluation_inputs(spark: SparkSession, rules: WarningRules, themes: Themes, references: str) -> str:
    """The fingerprint of what an evaluation reads: every rule's sources (missing ones too: one
    that appears makes its rule evaluable), the ledger that sets the as-of time, the rules, the
    themes' parameters and the reference views' configuration."""
    sources = sorted({source for rule in rules.rules.values() for source in rule.sources} | {BATCH_LEDGER.name})
    return lake.inputs_fingerprint(spark, sources, rules.model_dump_json(), str(themes.params), references)
