"""What maintenance a table needs, decided from its state alone (no I/O): purge its deletion
vectors, compact it Z-ordered on its lookup columns, vacuum files no recent version refers to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from citylake.maintenance import Maintenance

# Commits that may leave deletion vectors on a table whose deletionVectors feature is on (the
# fast writer's row replacements show as UPDATE).
DELETION_VECTOR_OPERATIONS = frozenset({"DELETE", "UPDATE", "MERGE"})
# Commits after which no deletion vector is left: each rewrites the files that had one.
PURGING_OPERATIONS = frozenset({"REORG", "OPTIMIZE"})
MB = 1024 * 1024


@dataclass(frozen=True)
class TableState:
    """A table as maintenance sees it: its size, its operations newest first, its last vacuum."""

    name: str
    files: int
    size_bytes: int
    operations: tuple[str, ...]
    created: datetime
    last_vacuum: datetime | None
    zorder: tuple[str, ...]


@dataclass(frozen=True)
class TablePlan:
    name: str
    purge: bool
    compact: bool
    vacuum: bool
    zorder: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def anything(self) -> bool:
        return self.purge or self.compact or self.vacuum


def plan_table(state: TableState, rules: Maintenance, now: datetime, retention: timedelta) -> TablePlan:
    """The maintenance `state`'s table needs under `rules` at `now`, with a reason for each part; a
    table younger than the vacuum's `retention` has no file old enough to vacuum yet."""
    reasons = []
    purge = has_deletion_vectors(state.operations)
    if purge:
        reasons.append("rows removed since its last compaction (deletion vectors)")
    compact = needs_compaction(state, rules)
    if compact:
        average = state.size_bytes / state.files / MB
        reasons.append(f"{state.files} files averaging {average:.2f} MB")
    due = state.last_vacuum is None or now - state.last_vacuum >= timedelta(days=rules.vacuum.every_days)
    vacuum = due and now - state.created >= retention
    if vacuum:
        reasons.append("never vacuumed" if state.last_vacuum is None else f"last vacuumed {state.last_vacuum:%Y-%m-%d}")
    # a compaction rewrites the files with deletion vectors too: a purge on top would redo it
    return TablePlan(state.name, purge and not compact, compact, vacuum, state.zorder, tuple(reasons))


def has_deletion_vectors(operations: tuple[str, ...]) -> bool:
    """Whether a commit since the last purging one may have left deletion vectors (newest first)."""
    for operation in operations:
        if operation in PURGING_OPERATIONS:
            return False
        if operation in DELETION_VECTOR_OPERATIONS:
            return True
    return False


def needs_compaction(state: TableState, rules: Maintenance) -> bool:
    """At least `min_files` files whose average size is under `small_file_mb`."""
    if state.files < rules.compaction.min_files:
        return False
    return state.size_bytes / state.files < rules.compaction.small_file_mb * MB


def retention_hours(configured: float, longest_step_seconds: float) -> float:
    """The retention a vacuum uses: the configured one, but never less than twice the longest step
    the run ledger has seen, so a job still reading an older version keeps its files."""
    return max(configured, 2 * longest_step_seconds / 3600)


def zorder_columns(keys: list[str], columns: list[str], max_columns: int) -> tuple[str, ...]:
    """The first `max_columns` of a table's lookup keys that are among its columns."""
    return tuple([key for key in keys if key in columns][:max_columns])
