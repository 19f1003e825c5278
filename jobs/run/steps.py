"""The steps a daily run can take, each one of the product's jobs: what it needs to run before
it, and what it counts (rows in, rows out, a one-line detail for the ledger)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from citylake.settings import Profile


class StepFailed(RuntimeError):
    """A step could not do its work; the message says why in the user's terms."""


@dataclass(frozen=True)
class StepContext:
    """What every step gets: the Spark session, the profile, and the inboxes to land from (in
    order: a folder may be landed twice, e.g. after a late wave filled its gaps)."""

    spark: SparkSession
    profile: Profile
    inboxes: tuple[Path, ...]


@dataclass(frozen=True)
class StepResult:
    rows_in: int = 0
    rows_out: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Step:
    do: Callable[[StepContext], StepResult]
    needs: tuple[str, ...] = field(default=())


def land(context: StepContext) -> StepResult:
    from jobs.landing.job import land_inbox

    entries = [entry for inbox in context.inboxes if inbox.is_dir() for entry in land_inbox(context.spark, inbox)]
    statuses = sorted({entry.status for entry in entries})
    counts = ", ".join(f"{sum(e.status == status for e in entries)} {status}" for status in statuses)
    return StepResult(sum(e.rows_read for e in entries), sum(e.rows_landed for e in entries),
                      f"{len(entries)} packages" + (f": {counts}" if counts else ""))


def integrate(context: StepContext) -> StepResult:
    from jobs.integrate.job import integrate as integrate_batches

    entries = integrate_batches(context.spark)
    changed = sum(e.inserted + e.updated + e.deleted for e in entries)
    return StepResult(sum(e.rows_in for e in entries), changed,
                      f"{len(entries)} batches; {changed} rows inserted, updated or deleted")


def base(context: StepContext) -> StepResult:
    from jobs.base.job import NothingToBuild, build

    try:
        built = build(context.spark)
    except NothingToBuild as nothing:
        raise StepFailed(str(nothing)) from None
    if built.up_to_date:
        return StepResult(detail="up to date: nothing integrated has changed")
    left_out = f"; left out: {', '.join(built.left_out)}" if built.left_out else ""
    return StepResult(rows_out=sum(built.rows.values()), detail=f"{len(built.rows)} tables{left_out}")


def theme(context: StepContext) -> StepResult:
    from jobs.theme.job import build
    from jobs.theme.references import NothingLanded

    try:
        built = build(context.spark)
    except NothingLanded as nothing:
        raise StepFailed(str(nothing)) from None
    left_out = f"; left out: {', '.join(built.left_out)}" if built.left_out else ""
    return StepResult(rows_out=sum(built.rows.values()),
                      detail=f"{len(built.rows)} tables built, {len(built.up_to_date)} up to date{left_out}")


def warn(context: StepContext) -> StepResult:
    from jobs.theme.references import NothingLanded
    from jobs.warn.job import warn as evaluate

    try:
        run = evaluate(context.spark)
    except NothingLanded as nothing:
        raise StepFailed(str(nothing)) from None
    if run.up_to_date:
        return StepResult(detail="up to date: no rule's inputs have changed since the last evaluation")
    changes = run.changes
    changed = changes.opened + changes.reopened + changes.updated + changes.auto_closed
    return StepResult(rows_out=changed, detail=f"{len(run.evaluated)} rules; {changes.opened} new, "
                      f"{changes.reopened} reopened, {changes.auto_closed} closed, {changes.unchanged} unchanged")


def catalog(context: StepContext) -> StepResult:
    from jobs.catalog.job import run

    written = run(context.spark, profile=context.profile)
    return StepResult(rows_out=sum(written.rows.values()),
                      detail=f"{len(written.rows)} tables written, {len(written.unchanged)} unchanged")


def audit(context: StepContext) -> StepResult:
    from jobs.audit.job import load

    loaded = load(context.spark, context.profile)
    return StepResult(loaded.events, loaded.inserted + loaded.completed,
                      f"{loaded.queries} queries from {loaded.segments} spool segments")


def assess(context: StepContext) -> StepResult:
    from jobs.assess.job import NothingToAssess, assess as score

    try:
        done = score(context.spark, profile=context.profile)
    except NothingToAssess as nothing:
        raise StepFailed(str(nothing)) from None
    state = "up to date" if done.up_to_date else f"{done.rows} rows"
    notes = f"; {'; '.join(done.notes)}" if done.notes else ""
    return StepResult(rows_out=done.rows, detail=f"{len(done.months)} months, {state}{notes}")


def dashboards(context: StepContext) -> StepResult:
    from citylake.notebooks import NotebookFailed, build_dashboards
    from citylake.trino import server

    if not server.is_running(context.profile):
        raise StepFailed("Trino is not running: the dashboards read the lake through it (citylake trino start)")
    try:
        made = build_dashboards(profile=context.profile)
    except NotebookFailed as failed:
        raise StepFailed(f"notebook failed: {failed}") from None
    left_out = f"; left out: {', '.join(made.left_out)}" if made.left_out else ""
    return StepResult(rows_out=len(made.built), detail=f"{len(made.built)} dashboards{left_out}")


def maintain(context: StepContext) -> StepResult:
    from jobs.maintain.job import maintain as maintain_tables

    done = maintain_tables(context.spark, profile=context.profile)
    compacted = sum(t.plan.compact for t in done.tables)
    purged = sum(t.plan.purge for t in done.tables)
    vacuumed = [t for t in done.tables if t.plan.vacuum]
    return StepResult(len(done.tables), len(done.changed),
                      f"{len(done.tables)} tables: {compacted} compacted, {purged} purged, {len(vacuumed)} vacuumed "
                      f"({sum(t.vacuumed_files for t in vacuumed)} files deleted, "
                      f"retention {done.retention_hours:g} h)")


STEPS: dict[str, Step] = {
    "land": Step(land),
    "integrate": Step(integrate, needs=("land",)),
    "base": Step(base, needs=("integrate",)),
    "theme": Step(theme, needs=("base",)),
    "warn": Step(warn, needs=("theme",)),
    "catalog": Step(catalog, needs=("theme",)),
    "audit": Step(audit),
    "assess": Step(assess, needs=("integrate", "audit")),
    "dashboards": Step(dashboards, needs=("warn",)),
    "maintain": Step(maintain),
}
