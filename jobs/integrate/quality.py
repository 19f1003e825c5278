"""Quality rules on standardized batches: which rows fail which rule, and what that costs them.

Every row gets `_failures`, the list of rules it breaks (`check` id, rule `kind`, failure `code`,
source `column`, `delivered` value, `action`, `reason`), and `_blocking`, the first failure whose
action is not `warn` (NULL when the row goes on). The failure code is what the quarantine and the
correction packages call the rule: `missing_required`, a standard's error such as
`invalid_check_digit` or `unknown_division_code`, `duplicate_key`, or a referential rule's name.
The reason says what a department must look at to fix the row, with the values involved: the
column left empty, the value as delivered (shortened when huge), the key delivered more than once
and how often, the reference that matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from citylake.catalog import Resource
from citylake.rules import Rules
from jobs.integrate.standardize import STANDARDIZED, change_time_target, key_targets, standard_error

FAILURES, BLOCKING = "_failures", "_blocking"
MISSING_REQUIRED, DUPLICATE_KEY = "missing_required", "duplicate_key"
# A reason quotes at most this many characters of a delivered value: a correction package is
# read by people, and a runaway field (a whole file in one cell) would drown the rest.
QUOTED_CHARACTERS = 60
_CYCLE_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 366}


@dataclass(frozen=True)
class RuleCheck:
    """One rule as applied to one resource: `check` names it in the metrics
    (`validity:GMSFHM`, `uniqueness`, `referential:employer_registered`, `timeliness`)."""

    check: str
    kind: str
    column: str | None
    action: str


@dataclass(frozen=True)
class RowCheck:
    """A rule's test of one row: whether it `failed`, the failure `code`, the `delivered` value it
    is about and the `reason` a department reads (the last three only matter where it failed)."""

    rule: RuleCheck
    failed: Column
    code: Column
    delivered: Column
    reason: Column


def value_of(target: str) -> Column:
    return F.col(f"{STANDARDIZED}.{target}.value")


def row_checks(resource: Resource, rules: Rules, columns: list[str]) -> list[RowCheck]:
    """The resource's row-level checks in the order a row's first failure is chosen: missing
    values, then invalid ones, then duplicates, then dangling references. `columns` are the
    columns of the frame the checks run on (the delivered ones and those `prepare` adds)."""
    return [*completeness_checks(resource, rules, columns), *validity_checks(resource, rules, columns),
            uniqueness_check(resource, rules, columns), *referential_checks(resource, rules, columns)]


def completeness_checks(resource: Resource, rules: Rules, columns: list[str]) -> list[RowCheck]:
    checks = []
    for column in resource.columns:
        needed = _needed(resource, column.source)
        if needed is None:
            continue
        rule = RuleCheck(f"completeness:{column.source}", "completeness", column.source,
                         rules.completeness.action_for(column.source))
        reason = F.lit(f"{column.source} {MISSING_REQUIRED}: {column.source} has no value "
                       f"({_why_needed(resource, column.source)})")
        checks.append(RowCheck(rule, needed & (standard_error(column) == "missing"), F.lit(MISSING_REQUIRED),
                               delivered(columns, column.source), reason))
    return checks


def validity_checks(resource: Resource, rules: Rules, columns: list[str]) -> list[RowCheck]:
    checks = []
    for column in resource.columns:
        error = standard_error(column)
        rule = RuleCheck(f"validity:{column.source}", "validity", column.source,
                         rules.validity.action_for(column.source))
        value = delivered(columns, column.source)
        reason = F.concat(F.lit(f"{column.source} "), error, F.lit(": "), quoted(value))
        checks.append(RowCheck(rule, error.isNotNull() & (error != "missing"), error, value, reason))
    return checks


def uniqueness_check(resource: Resource, rules: Rules, columns: list[str]) -> RowCheck:
    key = delivered_key(columns, resource)
    names = "|".join(resource.key)
    same_time = F.lit("")
    if resource.change_time_column:   # an incremental key repeats only at the same change time
        change_time = delivered(columns, resource.change_time_column)
        same_time = F.when(F.col("_mode") == "incremental",
                           F.concat(F.lit(f" at {resource.change_time_column} "), quoted(change_time))).otherwise("")
    reason = F.concat(F.lit(f"key {DUPLICATE_KEY}: {names} "), quoted(key), F.lit(" delivered "),
                      F.col("_key_count").cast("string"), F.lit(" times in the batch"), same_time)
    return RowCheck(RuleCheck("uniqueness", "uniqueness", None, rules.uniqueness.action),
                    F.col("_key_rank") > 1, F.lit(DUPLICATE_KEY), key, reason)


def referential_checks(resource: Resource, rules: Rules, columns: list[str]) -> list[RowCheck]:
    checks = []
    for reference in rules.referential:
        target = resource.column(reference.column).target
        flag = f"_ref_{reference.name}"
        rule = RuleCheck(f"referential:{reference.name}", "referential", reference.column, reference.action)
        # while the referenced resource has no integrated keys yet, every reference dangles
        dangling = F.col(flag).isNull() if flag in columns else F.lit(True)
        value = delivered(columns, reference.column)
        reason = F.concat(F.lit(f"{reference.column} {reference.name}: "), quoted(value),
                          F.lit(f" is no key of {reference.references}"))
        checks.append(RowCheck(rule, value_of(target).isNotNull() & dangling, F.lit(reference.name), value, reason))
    return checks


def _needed(resource: Resource, source: str) -> Column | None:
    """When a column must have a value: always if required; the operation and change time in
    every incremental row (a full extract has no operation)."""
    if resource.column(source).required:
        return F.lit(True)
    if source in (resource.operation_column, resource.change_time_column):
        return F.col("_mode") == "incremental"
    return None


def _why_needed(resource: Resource, source: str) -> str:
    return "a required column" if resource.column(source).required else "every incremental row needs one"


def delivered(columns: list[str], source: str) -> Column:
    """A column's value as delivered; NULL for a column the batch did not deliver."""
    return F.col(f"`{source}`") if source in columns else F.lit(None).cast("string")


def delivered_key(columns: list[str], resource: Resource) -> Column:
    """The row's key as delivered, parts joined by '|'."""
    return F.concat_ws("|", *[F.coalesce(delivered(columns, source), F.lit("")) for source in resource.key])


def quoted(value: Column) -> Column:
    """A delivered value in quotes for a reason, cut to `QUOTED_CHARACTERS` with its full length said."""
    text = F.coalesce(value, F.lit(""))
    shortened = F.concat(F.substring(text, 1, QUOTED_CHARACTERS), F.lit("…' ("),
                         F.length(text).cast("string"), F.lit(" characters)"))
    return F.when(F.length(text) > QUOTED_CHARACTERS, F.concat(F.lit("'"), shortened)).otherwise(
        F.concat(F.lit("'"), text, F.lit("'")))


def timeliness_rule(rules: Rules) -> RuleCheck:
    return RuleCheck("timeliness", "timeliness", None, rules.timeliness.action)


def rule_checks(resource: Resource, rules: Rules) -> list[RuleCheck]:
    """Every rule the resource's batches are measured on, row-level and batch-level."""
    return [check.rule for check in row_checks(resource, rules, [])] + [timeliness_rule(rules)]


def _same_key(resource: Resource) -> list[Column]:
    """What makes two rows of a batch deliver the same key. An incremental row's key is repeated
    only at the same change time: a key may change twice a day."""
    key = [value_of(target) for target in key_targets(resource)]
    change_time = change_time_target(resource)
    if change_time is not None:
        key.append(F.when(F.col("_mode") == "incremental", value_of(change_time)))
    return key


def _key_known(resource: Resource) -> Column:
    known = F.lit(True)
    for target in key_targets(resource):
        known = known & value_of(target).isNotNull()
    return known


def key_rank(resource: Resource) -> Column:
    """1 for the first delivery of a key within its batch, 2, 3, ... for the repeats."""
    window = Window.partitionBy("_batch_id", *_same_key(resource)).orderBy("_file", "_record")
    return F.when(_key_known(resource), F.row_number().over(window)).otherwise(F.lit(1))


def key_count(resource: Resource) -> Column:
    """How many rows of its batch deliver the row's key (1 when the key is not known)."""
    window = Window.partitionBy("_batch_id", *_same_key(resource))
    return F.when(_key_known(resource), F.count(F.lit(1)).over(window)).otherwise(F.lit(1))


def prepare(frame: DataFrame, resource: Resource, rules: Rules, references: dict[str, DataFrame]) -> DataFrame:
    """Add what the row checks read besides the standards: the key's rank and count within the
    batch, and a flag per referential rule whose referenced keys are known (`references`: name -> keys)."""
    prepared = frame.withColumn("_key_rank", key_rank(resource)).withColumn("_key_count", key_count(resource))
    for reference in rules.referential:
        keys = references.get(reference.name)
        if keys is None:
            continue
        flag = f"_ref_{reference.name}"
        found = keys.select(F.col(keys.columns[0]).alias(f"{flag}_key")).distinct().withColumn(flag, F.lit(True))
        target = resource.column(reference.column).target
        prepared = (prepared.join(found, value_of(target) == F.col(f"{flag}_key"), "left")
                    .drop(f"{flag}_key"))
    return prepared


def evaluate(frame: DataFrame, resource: Resource, rules: Rules, references: dict[str, DataFrame]) -> DataFrame:
    """The batch rows with `_failures` and `_blocking` (see the module's docstring)."""
    prepared = prepare(frame, resource, rules, references)
    failures = [
        F.when(check.failed, F.struct(
            F.lit(check.rule.check).alias("check"),
            F.lit(check.rule.kind).alias("kind"),
            check.code.alias("code"),
            F.lit(check.rule.column).cast("string").alias("column"),
            check.delivered.cast("string").alias("delivered"),
            F.lit(check.rule.action).alias("action"),
            check.reason.alias("reason"),
        ))
        for check in row_checks(resource, rules, prepared.columns)
    ]
    found = F.filter(F.array(*failures), lambda failure: failure.isNotNull())
    blocking = F.get(F.filter(found, lambda failure: failure["action"] != "warn"), 0)
    return prepared.withColumn(FAILURES, found).withColumn(BLOCKING, blocking)


def failure_reason(failures: Column) -> Column:
    """All of a row's failures as one line: `GMSFHM invalid_check_digit: '3505...'; XB ...`."""
    return F.array_join(F.transform(failures, lambda failure: failure["reason"]), "; ")


def failure_counts(evaluated: DataFrame) -> DataFrame:
    """(batch_id, check, rows_failed) for every check that failed at least once."""
    return (evaluated.select("_batch_id", F.explode(FAILURES).alias("failure"))
            .groupBy("_batch_id", F.col("failure.check").alias("check"))
            .agg(F.count(F.lit(1)).alias("rows_failed")))


def is_late_delivery(extracted_at: datetime, previous: datetime | None, cycle: str | None, rules: Rules) -> bool:
    """Whether a delivery came later than its cycle allows after the one before it."""
    if previous is None or cycle is None:
        return False
    allowed = timedelta(days=_CYCLE_DAYS[cycle] + rules.timeliness.grace_days.get(cycle, 0))
    return extracted_at - previous > allowed
