"""Generating a synthetic city: delivery packages for every catalog resource, plus ground truth.

generate_city(out_dir, persons, days, seed, start) writes

    <out>/inbox/<department>/<resource>/<batch_id>/        packages as departments deliver them
    <out>/late_inbox/<department>/<resource>/<batch_id>/   packages that arrive after the inbox was
        landed: the package missing from a sequence, a truncated package re-sent, replays
    <out>/truth/                                           the true city and every injected fault
        persons/, enterprises/, units/, buildings/, streets/   true entities with valid_from/valid_to
        grid_events/, licences/, penalties/, tax/    facts as the deliveries give them in the end
            (truth.py documents every column)
        faults.parquet     every injected fault and the outcome the lake is expected to reach
        packages.parquet   every package, its arrival order and expected status
        conflicts.parquet  every disagreement between departments that the deliveries hold once
            every package is applied (held full extracts never are), injected or arising from the
            generator's own timing; one row per source record (conflicts.py, conflict_truth.py):
            entity    "person" | "enterprise"
            key       the true 18-digit ID number, or the USCC
            kind      name_mismatch, birth_date_mismatch, deceased_not_registered, insured_after_death,
                      employer_deregistered, unknown_residence_unit, taxpayer_name_mismatch,
                      legal_rep_name_mismatch
            attribute name, birth_date, status, insurance_status, employer_status, unit_code, legal_rep_name
            source_a  the owning side, e.g. psb.household_registration; value_a its standard value
                      (names as text, dates YYYY-MM-DD, codes as codes; null when the side is absent)
            source_b  the disagreeing side; value_b its standard value
            cause     "injected", or why it arose: "lag" (a department's last extract predates the
                      change the other has)
            record    the source_b record's key as text (social insurance "id|险种", the property
                      unit number, the certificate number, "uscc|SSQ" of the latest tax period, ...)
        scenarios.parquet  every subject an early-warning rule of conf/warnings.yml holds for, the
            scenarios planted for each rule (scenarios.py) and those arising on their own
            (scenario_truth.py documents the columns and how each rule is evaluated)
    <out>/city.json                                        what was generated, in numbers

Nothing is held for the whole city at once: entities are generated chunk by chunk from their
indices, so memory stays flat whatever the number of persons. The initial extracts, the bulk of
the work, are built by worker processes when the city is large.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from citylake.catalog import Catalog, Resource, load_catalog, load_divisions
from synthetic import scenario_truth, truth
from synthetic.conflict_truth import conflict_tables
from synthetic.conflicts import CONFLICTS_SCHEMA, ConflictPlan
from synthetic.faults import FaultRecord, RowFaults
from synthetic.model import DEFAULT_FAULTS, DEFAULT_MODEL, DEFAULT_SCENARIOS, CityModel, FaultRates, Scenarios
from synthetic.packages import PackageInfo, PackageWriter, encode_rows, truncate_file
from synthetic.resources import FAMILIES, builder_for, changes, cut_seconds, order_columns, present_rows
from synthetic.scenarios import ScenarioPlan, delivery_gaps, plan_scenarios
from synthetic.schedule import Delivery, delivery_schedule, district_missing_target, final_cuts
from synthetic.world import SyntheticCity

# a month start falls within the default 30 days: monthly figures and trends have two months
DEFAULT_START = date(2026, 2, 10)
INBOX, LATE_INBOX, TRUTH = "inbox", "late_inbox", "truth"
PARALLEL_FROM_PERSONS = 250_000
CHUNK_SCALE = {"enterprise": 0.25, "unit": 2.0, "building": 4.0, "license": 2.0, "penalty": 4.0, "grid_event": 4.0}  # below this, starting worker processes costs more than it saves
TRUTH_TABLES = {"person": [("persons", truth.person_history)],
                "enterprise": [("enterprises", truth.enterprise_history), ("tax", truth.tax)],
                "unit": [("units", truth.unit_history)], "building": [("buildings", truth.buildings)],
                "street": [("streets", truth.streets)], "grid_event": [("grid_events", truth.grid_events)],
                "license": [("licences", truth.licences)], "penalty": [("penalties", truth.penalties)]}
# which resources carry the package-level faults, and about when (share of the simulated days)
PACKAGE_FAULT_TARGETS = {
    "replay": ("amr.administrative_license", 0.3),
    "truncated_file": ("grid.actual_population", 0.4),
    "conflicting_replay": ("psb.residence_permit", 0.5),
    "sequence_gap": ("grid.event", 0.6),
}
# a package fault needs a package with at least this many rows; an emptier one passes it on
MINIMUM_ROWS = {"replay": 1, "truncated_file": 3, "conflicting_replay": 1}
FAULT_COLUMNS = ["kind", "department", "resource", "batch_id", "sequence", "file", "line", "key", "column",
                 "true_value", "delivered_value", "expected_outcome", "expected_rule", "detail"]
FAULTS_SCHEMA = pa.schema([(name, pa.int64() if name in ("sequence", "line") else pa.string()) for name in FAULT_COLUMNS])
PACKAGES_SCHEMA = pa.schema([
    ("arrival", pa.int64()), ("inbox", pa.string()), ("department", pa.string()), ("resource", pa.string()),
    ("batch_id", pa.string()), ("sequence", pa.int64()), ("mode", pa.string()), ("round", pa.int64()),
    ("delivery_date", pa.date32()), ("extracted_at", pa.string()), ("files", pa.int64()), ("rows", pa.int64()),
    ("path", pa.string()), ("expected_status", pa.string()), ("fault", pa.string()), ("detail", pa.string()),
])


@dataclass
class CitySummary:
    """What `generate_city` wrote."""

    out_dir: Path
    seed: int
    persons: int
    days: int
    start: date
    entities: dict[str, int]
    resources: dict[str, dict[str, int]]
    faults: dict[str, int]
    package_outcomes: dict[str, int]
    truth_rows: dict[str, int]
    seconds: float
    skipped_faults: list[str] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=dict)
    skipped_scenarios: list[str] = field(default_factory=list)

    @property
    def persons_per_second(self) -> float:
        return self.persons / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "seed": self.seed, "persons": self.persons, "days": self.days,
                "start": self.start.isoformat(), "entities": self.entities, "resources": self.resources,
                "faults": self.faults, "package_outcomes": self.package_outcomes, "truth_rows": self.truth_rows,
                "skipped_faults": self.skipped_faults, "scenarios": self.scenarios,
                "skipped_scenarios": self.skipped_scenarios, "seconds": round(self.seconds, 2)}

    def __rich__(self):
        from rich.table import Table

        table = Table(title=f"Synthetic city: {self.persons:,} persons, {self.days} days from {self.start} "
                            f"(seed {self.seed}) in {self.seconds:.1f} s → {self.out_dir}")
        for column in ("resource", "packages", "rows"):
            table.add_column(column, justify="left" if column == "resource" else "right")
        for name, counts in sorted(self.resources.items()):
            table.add_row(name, f"{counts['packages']:,}", f"{counts['rows']:,}")
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items()))
        planted = ", ".join(f"{rule} {count}" for rule, count in self.scenarios.items()) or "none"
        table.caption = (f"faults injected: {sum(self.faults.values()):,} ({faults}); expected package outcomes: "
                         f"{', '.join(f'{k} {v}' for k, v in sorted(self.package_outcomes.items()))}; "
                         f"warning scenarios planted: {planted}")
        return table

    def __str__(self) -> str:
        rows = sum(c["rows"] for c in self.resources.values())
        packages = sum(c["packages"] for c in self.resources.values())
        return (f"synthetic city of {self.persons:,} persons over {self.days} days (seed {self.seed}): "
                f"{packages:,} packages, {rows:,} rows, {sum(self.faults.values()):,} faults in {self.seconds:.1f} s "
                f"-> {self.out_dir}")


def generate_city(out_dir: Path, persons: int = 2000, days: int = 30, seed: int = 42, start: date = DEFAULT_START,
                  *, model: CityModel = DEFAULT_MODEL, faults: FaultRates = DEFAULT_FAULTS,
                  scenarios: Scenarios = DEFAULT_SCENARIOS,
                  conf_dir: Path | None = None, chunk_size: int = 100_000, max_rows_per_file: int = 1_000_000,
                  workers: int | None = None, progress: bool | None = None) -> CitySummary:
    """Write the delivery packages and ground truth of a synthetic city of `persons` persons over
    `days` days of deliveries after the initial extracts, with the early-warning `scenarios` planted
    in it (scenarios.py; `Scenarios.none()` for none); the same arguments give the same bytes.

    workers: processes building the initial extracts (default: 1 for small cities, else up to the
    CPU count); progress: a progress display (default: when standard output is a terminal).
    """
    if persons < 1 or days < 0 or chunk_size < 1 or max_rows_per_file < 1:
        raise ValueError("persons, chunk_size and max_rows_per_file must be positive, days not negative")
    started = time.monotonic()
    out_dir = Path(out_dir)
    _clear_previous_output(out_dir)
    settings = _Settings(conf_dir, persons, days, seed, start, model, faults, scenarios, chunk_size, out_dir)
    if workers is None:
        workers = 1 if persons < PARALLEL_FROM_PERSONS else max(1, min(4, os.cpu_count() or 1))
    run = _Run(settings, max_rows_per_file, workers, sys.stdout.isatty() if progress is None else progress)
    run.execute()
    summary = run.summary(time.monotonic() - started)
    # city.json leaves out the folder and the time taken: the same city gives the same file
    described = {k: v for k, v in summary.as_dict().items() if k not in ("out_dir", "seconds")}
    notes = {**described, "model": model.as_dict(), "fault_rates": faults.as_dict(), "scenarios_planted": scenarios.as_dict(),
             "layout": _layout_notes()}
    (out_dir / "city.json").write_text(json.dumps(notes, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary


def _layout_notes() -> dict[str, str]:
    return {INBOX: "packages in the order departments deliver them: land these first",
            LATE_INBOX: "packages that arrive after the inbox was landed: the package missing from a sequence, "
                        "a truncated package re-sent intact, a replay and a conflicting replay",
            TRUTH: "ground truth (Parquet): persons/, enterprises/, units/, buildings/, streets/ (true entities "
                   "with valid_from/valid_to history), grid_events/, licences/, penalties/, tax/ (the facts as "
                   "the deliveries give them in the end), faults.parquet (every injected fault and its expected "
                   "outcome), packages.parquet (every package, its arrival order and expected status), "
                   "conflicts.parquet (every disagreement between departments once every package is applied), "
                   "scenarios.parquet (every subject an early-warning rule holds for, planted or not)"}


def _clear_previous_output(out_dir: Path) -> None:
    # only what a previous run of the generator wrote, never anything else in the folder
    for name in (INBOX, LATE_INBOX, TRUTH):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / "city.json").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class _Settings:
    """Everything needed to rebuild the same city in another process."""

    conf_dir: Path | None
    persons: int
    days: int
    seed: int
    start: date
    model: CityModel
    faults: FaultRates
    scenarios: Scenarios
    chunk_size: int
    out_dir: Path
    plan: ScenarioPlan | None = None   # the planted scenarios, once planned (handed to the workers)

    def city(self) -> SyntheticCity:
        city = SyntheticCity(load_catalog(self.conf_dir), load_divisions(self.conf_dir), self.persons, self.days,
                             self.seed, self.start, self.model)
        # conflicts and the facts' truth are each resource's final state: a full extract held by
        # the delete guard never is one
        schedule = self.schedule(city.catalog)
        held = district_missing_target(schedule) if self.faults.district_missing else None
        city.cuts = final_cuts(schedule, held)
        city.conflicts = ConflictPlan(city, self.faults, city.cuts)
        plan = self.plan if self.plan is not None else plan_scenarios(city, self.scenarios, schedule)
        plan.attach(city)
        return city

    def schedule(self, catalog: Catalog) -> list[Delivery]:
        return delivery_schedule(catalog, self.start, self.days, delivery_gaps(self.scenarios, catalog, self.days))

    def chunk_bounds(self, city: SyntheticCity, family: str) -> list[tuple[int, int]]:
        size = FAMILIES[family].size(city)
        # about as many rows per chunk in every family: an enterprise brings a year of tax returns
        step = max(1, round(self.chunk_size * CHUNK_SCALE.get(family, 1.0)))
        return [(first, min(size, first + step)) for first in range(0, size, step)]


# ---------------------------------------------------------------------------- initial extracts


@dataclass
class _Rows:
    """One chunk of one package's rows, encoded for the file (or as a table for Excel)."""

    rows: int
    data: bytes | None
    table: pa.Table | None
    records: list[FaultRecord]


class _ChunkMaker:
    """Builds chunks of the initial full extracts (in the main process or a worker)."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.city = settings.city()
        self.initial = [d for d in settings.schedule(self.city.catalog) if d.round == 0]

    def deliveries(self, family: str) -> list[Delivery]:
        return [d for d in self.initial if builder_for(d.resource).family == family]

    def make(self, family: str, first: int, last: int, number: int) -> tuple[dict[str, _Rows], dict[str, int]]:
        context = FAMILIES[family].context(self.city, np.arange(first, last, dtype=np.int64))
        out = {}
        for delivery in self.deliveries(family):
            table = full_rows(delivery, context)
            faults = RowFaults(self.city.catalog, delivery.resource, self.settings.faults, self.city.rand,
                               delivery.batch_id, delivery.sequence)
            injected = faults.inject(table)
            data = injected.table.select(package_columns(delivery))
            records = injected.records + self.city.conflicts.records(
                injected.table, delivery.resource.qualified_code, delivery.batch_id, delivery.sequence, first=True)
            if delivery.resource.format == "xlsx":
                out[delivery.key] = _Rows(data.num_rows, None, data, records)
            else:
                out[delivery.key] = _Rows(data.num_rows, encode_rows(data, delivery.resource, injected.raw_lines), None,
                                          records)
        truth_rows = {}
        for name, facts in TRUTH_TABLES.get(family, []):
            table = facts(context)
            folder = self.settings.out_dir / TRUTH / name
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"part-{number:05d}.parquet", compression="zstd")
            truth_rows[name] = table.num_rows
        return out, truth_rows


_WORKER: _ChunkMaker | None = None


def _start_worker(settings: _Settings) -> None:
    global _WORKER
    _WORKER = _ChunkMaker(settings)


def _make_chunk(family: str, first: int, last: int, number: int):
    assert _WORKER is not None
    return _WORKER.make(family, first, last, number)


def full_rows(delivery: Delivery, context) -> pa.Table:
    """The rows of a full extract for one chunk of entities."""
    builder = builder_for(delivery.resource)
    if builder.potential_rows:
        table = present_rows(builder.rows(context, delivery.cut))
    else:
        table = builder.rows(context, (-(1 << 62), cut_seconds(delivery.cut)), delivery.cut, True)
    return order_columns(table, delivery.resource, "full")


def package_columns(delivery: Delivery) -> list[str]:
    resource = delivery.resource
    return [c.source for c in resource.columns if not (delivery.mode == "full" and c.source == resource.operation_column)]


# ---------------------------------------------------------------------------- the run


class _FaultSink:
    """faults.parquet, written as records come (a large city has millions of them)."""

    BATCH = 10_000

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(path, FAULTS_SCHEMA, compression="zstd")
        self.pending: list[FaultRecord] = []
        self.counts: Counter = Counter()

    def add(self, records: list[FaultRecord]) -> None:
        self.pending.extend(records)
        self.counts.update(r.kind for r in records)
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        columns = zip(*(record.as_row() for record in self.pending))
        self.writer.write_table(pa.table({name: pa.array(values, FAULTS_SCHEMA.field(name).type)
                                          for name, values in zip(FAULT_COLUMNS, columns)}))
        self.pending = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


class _Package:
    """A package being written, with what the run must remember about it."""

    def __init__(self, delivery: Delivery, writer: PackageWriter, row_faults: RowFaults, fault: str | None,
                 root: str) -> None:
        self.delivery, self.writer, self.row_faults, self.fault, self.root = delivery, writer, row_faults, fault, root
        # the content of a package that is re-sent altered later (small incremental packages only)
        self.tables: list[tuple[pa.Table, dict[int, str]]] | None = [] if fault == "conflicting_replay" else None
        self.dropped = (0, 0, 0)  # district, rows dropped, rows in total (district_missing)

    def keep(self, table: pa.Table, raw_lines: dict[int, str]) -> None:
        if self.tables is not None:
            self.tables.append((table, raw_lines))

    def drop_district(self, table: pa.Table, district: int) -> pa.Table:
        in_district = table.column("_district").to_numpy() == district
        _, dropped, total = self.dropped
        self.dropped = (district, dropped + int(in_district.sum()), total + table.num_rows)
        return table.filter(pa.array(~in_district))


class _Run:
    def __init__(self, settings: _Settings, max_rows_per_file: int, workers: int, progress: bool) -> None:
        self.max_rows, self.workers, self.progress_enabled = max_rows_per_file, workers, progress
        self.maker = _ChunkMaker(settings)
        self.city = self.maker.city
        # the workers take the plan made here rather than planning the city again
        self.settings = replace(settings, plan=self.city.scenarios)
        self.catalog: Catalog = self.city.catalog
        self.faults = settings.faults
        self.out_dir = settings.out_dir
        self.schedule = settings.schedule(self.catalog)
        self.targets, self.skipped = self._plan_package_faults()
        self.sink = _FaultSink(self.out_dir / TRUTH / "faults.parquet")
        self.package_rows: list[dict] = []
        self.stale: dict[str, list[tuple[int, pa.Table]]] = defaultdict(list)
        self.resource_counts: dict[str, Counter] = defaultdict(Counter)
        self.truth_rows: Counter = Counter()
        # resource -> (fault, missing sequence, why): its later inbox packages wait for that sequence
        self.blocked: dict[str, tuple[str, int, str]] = {}
        self._contexts: dict[tuple[str, int, int], object] = {}

    # ------------------------------------------------------------------ planning

    def _plan_package_faults(self) -> tuple[dict[str, Delivery], list[str]]:
        targets: dict[str, Delivery] = {}
        skipped = []
        days = self.city.days
        for kind, (code, share) in PACKAGE_FAULT_TARGETS.items():
            if not getattr(self.faults, kind):
                continue
            wanted = max(1, round(days * share))
            taken = {t.key for t in targets.values()}
            eligible = [d for d in self.schedule if d.resource.qualified_code == code and d.mode == "incremental"
                        and d.key not in taken and (kind != "sequence_gap" or self._successor(d) is not None)]
            # a planted pause (scenarios.py) may leave none that late: then the latest before
            candidates = [d for d in eligible if d.round >= wanted] or eligible[::-1]
            if candidates:
                targets[kind] = candidates[0]
            else:
                skipped.append(f"{kind}: no {code} incremental package on day {wanted} or later")
        if self.faults.district_missing:
            target = district_missing_target(self.schedule)
            if target is not None:
                targets["district_missing"] = target
            else:
                skipped.append("district_missing: no periodic full extract in the simulated days")
        return targets, skipped

    def _successor(self, delivery: Delivery) -> Delivery | None:
        return next((d for d in self.schedule if d.resource is delivery.resource and d.sequence == delivery.sequence + 1),
                    None)

    def _fault_of(self, delivery: Delivery) -> str | None:
        return next((kind for kind, target in self.targets.items() if target.key == delivery.key), None)

    # ------------------------------------------------------------------ running

    def execute(self) -> None:
        with self._progress() as progress:
            self._initial_extracts(progress)
            later = [d for d in self.schedule if d.round > 0]
            task = progress.add_task("deliveries", total=len(later)) if progress else None
            for delivery in later:
                self._deliver(delivery)
                if progress:
                    progress.advance(task)
        self.sink.close()
        self._write_packages_table()
        self._write_conflicts_table()
        self.truth_rows["scenarios"] = scenario_truth.write_scenarios(self.out_dir / TRUTH, self.city)

    def _write_conflicts_table(self) -> None:
        chunks = {family: self.settings.chunk_bounds(self.city, family) for family in ("person", "unit", "enterprise")}
        path = self.out_dir / TRUTH / "conflicts.parquet"
        rows = 0
        with pq.ParquetWriter(path, CONFLICTS_SCHEMA, compression="zstd") as writer:
            for table in conflict_tables(self.city.conflicts, chunks):
                writer.write_table(table)
                rows += table.num_rows
        self.truth_rows["conflicts"] = rows
        target = self.targets.get("district_missing")
        landed = [p for p in self.package_rows if target is not None and p["batch_id"] == target.batch_id
                  and p["expected_status"] == "landed"]
        if landed and self.city.conflicts.cuts[target.resource.qualified_code] < target.cut:
            self.skipped.append(f"conflicts: {target.batch_id} landed with a district missing; conflicts.parquet "
                                f"takes the state before it")

    def _progress(self):
        if not self.progress_enabled:
            return nullcontext(None)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

    def _initial_extracts(self, progress) -> None:
        """Every resource's first full extract, one pass per entity family, and the truth tables."""
        tasks = [(family, first, last, number) for family in FAMILIES
                 for number, (first, last) in enumerate(self.settings.chunk_bounds(self.city, family))]
        packages = {d.key: self._open(d) for d in self.schedule if d.round == 0}
        bar = progress.add_task("initial extracts", total=len(tasks)) if progress else None
        for chunks, truth_rows in self._chunk_results(tasks):
            for key, rows in chunks.items():
                self._write_encoded(packages[key], rows)
            self.truth_rows.update(truth_rows)
            if progress:
                progress.advance(bar)
        for package in packages.values():
            self._finish(package)

    def _chunk_results(self, tasks: list[tuple[str, int, int, int]]) -> Iterator:
        if self.workers <= 1:
            for task in tasks:
                yield self.maker.make(*task)
            return
        # fork: no re-import of the caller's main module (scripts without a __main__ guard, notebooks)
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                 initargs=(self.settings,)) as pool:
            window: deque[Future] = deque()
            pending = iter(tasks)
            # a bounded window of chunks in flight keeps memory flat when writing falls behind
            for task in pending:
                window.append(pool.submit(_make_chunk, *task))
                if len(window) >= 2 * self.workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()

    def _write_encoded(self, package: _Package, rows: _Rows) -> None:
        first = package.writer.rows_written
        if rows.table is not None:
            package.writer.write(rows.table)
        else:
            package.writer.write_encoded(rows.data or b"", rows.rows)
        self._locate(package, rows.records, first)

    def _locate(self, package: _Package, records: list[FaultRecord], first: int) -> None:
        for record in records:
            record.position = first + (record.position or 0)
            record.file, record.line = package.writer.locate(record.position)
        self.sink.add(records)

    def _deliver(self, delivery: Delivery) -> None:
        package = self._open(delivery)
        if delivery.mode == "full":
            family = builder_for(delivery.resource).family
            for first, last in self.settings.chunk_bounds(self.city, family):
                context = FAMILIES[family].context(self.city, np.arange(first, last, dtype=np.int64))
                self._write_rows(package, full_rows(delivery, context))
        else:
            self._write_rows(package, self._incremental_rows(delivery))
            self._append_stale_rows(package, delivery)
            self._record_suppressed_updates(delivery)
        self._finish(package)

    def _record_suppressed_updates(self, delivery: Delivery) -> None:
        """Deaths psb or hrss leaves out of this package on purpose (a conflict, not a row)."""
        builder = builder_for(delivery.resource)
        if builder.family != "person":
            return
        context = self._context("person", delivery.previous_cut, delivery.cut)
        self.sink.add(self.city.conflicts.suppressed_updates(delivery.resource.qualified_code, context,
                                                             delivery.previous_cut, delivery.cut, delivery.batch_id,
                                                             delivery.sequence))

    def _context(self, family: str, previous_cut: int, cut: int):
        """Entities changed between two cuts, shared by the resources delivered for the same span."""
        key = (family, previous_cut, cut)
        if key not in self._contexts:
            self._contexts = {k: v for k, v in self._contexts.items() if k[2] == cut}
            affected = FAMILIES[family].affected(self.city, previous_cut, cut)  # type: ignore[misc]
            self._contexts[key] = FAMILIES[family].context(self.city, affected)
        return self._contexts[key]

    def _incremental_rows(self, delivery: Delivery) -> pa.Table:
        resource, builder = delivery.resource, builder_for(delivery.resource)
        family = FAMILIES[builder.family]
        if not builder.potential_rows:
            window = (cut_seconds(delivery.previous_cut), cut_seconds(delivery.cut))
            parts = [builder.rows(family.context(self.city, np.arange(a, b, dtype=np.int64)), window, delivery.cut, False)
                     for a, b in self.settings.chunk_bounds(self.city, builder.family)]
            table = pa.concat_tables(parts)
            table = table.take(pa.array(np.argsort(table.column("_changed").to_numpy(), kind="stable")))
            return order_columns(table, resource, "incremental")
        context = self._context(builder.family, delivery.previous_cut, delivery.cut)
        rows, superseded = changes(builder.rows(context, delivery.previous_cut), builder.rows(context, delivery.cut),
                                   resource)
        self._keep_stale_versions(delivery, superseded)
        return order_columns(rows, resource, "incremental")

    def _write_rows(self, package: _Package, table: pa.Table) -> None:
        if package.fault == "district_missing":
            table = package.drop_district(table, self._missing_district())
        injected = package.row_faults.inject(table)
        first = package.writer.rows_written
        package.writer.write(injected.table, injected.raw_lines)
        package.keep(injected.table, injected.raw_lines)
        delivery = package.delivery
        # a record's first delivery is an insert of an incremental; a periodic full extract repeats it
        conflicts = [] if delivery.mode == "full" else self.city.conflicts.records(
            injected.table, delivery.resource.qualified_code, delivery.batch_id, delivery.sequence, first=False)
        self._locate(package, injected.records + conflicts, first)

    def _missing_district(self) -> int:
        return int(np.argmax([d.population for d in self.city.layout.districts]))

    # ------------------------------------------------------------------ late rows

    def _keep_stale_versions(self, delivery: Delivery, superseded: pa.Table) -> None:
        """Some updated rows are sent again later in their old version (an out-of-order re-send)."""
        if superseded.num_rows == 0 or self.faults.late_row <= 0:
            return
        rows = superseded.column("_row").to_numpy()
        chosen = np.flatnonzero(self.city.rand.uniform(f"late/{delivery.resource.qualified_code}",
                                                       np.int64(delivery.sequence), rows) < self.faults.late_row)
        if chosen.size:
            stale = superseded.take(pa.array(chosen))
            stale = stale.append_column(delivery.resource.operation_column, pa.array(["U"] * stale.num_rows, pa.string()))
            self.stale[delivery.resource.qualified_code].append((delivery.round + 2, stale))

    def _append_stale_rows(self, package: _Package, delivery: Delivery) -> None:
        code = delivery.resource.qualified_code
        due = [table for ready, table in self.stale[code] if ready <= delivery.round]
        self.stale[code] = [(ready, table) for ready, table in self.stale[code] if ready > delivery.round]
        if not due:
            return
        stale = order_columns(pa.concat_tables(due), delivery.resource, "incremental")
        first = package.writer.rows_written
        package.writer.write(stale)
        package.keep(stale, {})
        time_column = delivery.resource.change_time_column
        values = zip(stale.column("_key").to_pylist(), stale.column("_newer").to_pylist(),
                     stale.column(time_column).to_pylist())
        records = [FaultRecord("late_row", delivery.resource.department, delivery.resource.code, delivery.batch_id,
                               delivery.sequence, offset, key, time_column, newer, older,
                               "an older version re-sent after a newer one was delivered")
                   for offset, (key, newer, older) in enumerate(values)]
        self._locate(package, records, first)

    # ------------------------------------------------------------------ packages

    def _open(self, delivery: Delivery) -> _Package:
        fault = self._fault_of(delivery)
        root = LATE_INBOX if fault == "sequence_gap" else INBOX
        resource = delivery.resource
        folder = self.out_dir / root / resource.department / resource.code / delivery.batch_id
        stem = f"{resource.department}_{resource.code}_{delivery.extracted_at:%Y%m%d}"
        writer = PackageWriter(folder, resource, delivery.batch_id, delivery.sequence, delivery.mode,
                               delivery.extracted_at, stem, self.max_rows, package_columns(delivery))
        row_faults = RowFaults(self.catalog, resource, self.faults, self.city.rand, delivery.batch_id, delivery.sequence)
        return _Package(delivery, writer, row_faults, fault, root)

    def _pass_on_fault(self, package: _Package, info: PackageInfo) -> None:
        """Move a package fault to the resource's next delivery when this package is too small for it."""
        kind = package.fault
        if kind not in MINIMUM_ROWS or info.rows >= MINIMUM_ROWS[kind]:
            return
        delivery = package.delivery
        later = [d for d in self.schedule if d.resource is delivery.resource and d.mode == delivery.mode
                 and d.sequence > delivery.sequence and self._fault_of(d) is None]
        if later:
            self.targets[kind] = later[0]
        else:
            del self.targets[kind]
            self.skipped.append(f"{kind}: no {delivery.resource.qualified_code} package with "
                                f"{MINIMUM_ROWS[kind]} rows or more")
        package.fault = None

    def _finish(self, package: _Package) -> None:
        info = package.writer.close()
        self._pass_on_fault(package, info)
        delivery = package.delivery
        code = delivery.resource.qualified_code
        self.resource_counts[code]["packages"] += 1
        self.resource_counts[code]["rows"] += info.rows
        status, detail, fault = "landed", None, package.fault
        if package.root == INBOX and code in self.blocked:
            cause, missing, why = self.blocked[code]
            status, detail = "held", why
            if delivery.sequence == missing + 1 and cause == "sequence_gap":
                fault = cause
        if fault == "district_missing":
            status, detail = self._district_missing(package)
        elif fault == "truncated_file":
            status, detail = "rejected", self._truncate(package, info)
        elif fault == "sequence_gap" and package.root == LATE_INBOX:
            self.blocked[code] = ("sequence_gap", delivery.sequence,
                                  f"waits for sequence {delivery.sequence} ({delivery.batch_id}), delivered late")
            detail, fault = "delivered after later sequences: lands when the late inbox is landed", None
            self._record_gap(delivery)
        self._record_package(delivery, info, status, package.root, fault, detail)
        if fault == "truncated_file":
            self._copy_to_late_inbox(package, info, "landed", None, "the truncated package re-sent intact")
        elif fault == "replay":
            self._package_fault("replay", delivery, "the same package delivered again (same batch_id, same files)")
            self._copy_to_late_inbox(package, info, "replay", "replay", "the same package delivered again")
        elif fault == "conflicting_replay":
            self._conflicting_replay(package, info)

    def _record_package(self, delivery: Delivery, info: PackageInfo, status: str, root: str, fault: str | None,
                        detail: str | None) -> None:
        self.package_rows.append({
            "arrival": 0, "inbox": root, "department": info.department, "resource": info.resource,
            "batch_id": info.batch_id, "sequence": info.sequence, "mode": info.mode, "round": delivery.round,
            "delivery_date": self.city.date_of(delivery.round), "extracted_at": info.extracted_at.isoformat(),
            "files": len(info.files), "rows": info.rows,
            "path": "/".join([root, info.department, info.resource, info.batch_id]),
            "expected_status": status, "fault": fault, "detail": detail,
        })

    def _package_fault(self, kind: str, delivery: Delivery, detail: str, file: str | None = None) -> None:
        self.sink.add([FaultRecord(kind, delivery.resource.department, delivery.resource.code, delivery.batch_id,
                                   delivery.sequence, None, None, None, None, None, detail, file, None)])

    def _district_missing(self, package: _Package) -> tuple[str, str]:
        district, dropped, total = package.dropped
        share = dropped / total if total else 0.0
        guard = package.delivery.resource.delete_guard
        where = self.city.layout.districts[district]
        detail = (f"rows of district {where.code} {where.name} missing: {dropped} of {total} current rows "
                  f"({share:.1%}); the delete guard is {guard:.0%}")
        if share <= guard:
            self.skipped.append(f"district_missing: {detail}")
            return "landed", detail
        self._package_fault("district_missing", package.delivery, detail)
        return "held", detail

    def _truncate(self, package: _Package, info: PackageInfo) -> str:
        late = self.out_dir / LATE_INBOX / info.department / info.resource / info.batch_id
        shutil.copytree(package.writer.folder, late)
        name = info.files[0].name
        before, after = truncate_file(package.writer.folder / name)
        detail = f"{name} cut from {before} to {after} bytes after the manifest was written; re-sent intact later"
        self._package_fault("truncated_file", package.delivery, detail, name)
        delivery = package.delivery
        self.blocked[delivery.resource.qualified_code] = (
            "truncated_file", delivery.sequence,
            f"waits for sequence {delivery.sequence} ({info.batch_id}), rejected as truncated and re-sent late")
        return detail

    def _copy_to_late_inbox(self, package: _Package, info: PackageInfo, status: str, fault: str | None,
                            detail: str) -> None:
        late = self.out_dir / LATE_INBOX / info.department / info.resource / info.batch_id
        if not late.exists():
            shutil.copytree(package.writer.folder, late)
        self._record_package(package.delivery, info, status, LATE_INBOX, fault, detail)

    def _conflicting_replay(self, package: _Package, info: PackageInfo) -> None:
        delivery = package.delivery
        late = self.out_dir / LATE_INBOX / info.department / info.resource / info.batch_id
        writer = PackageWriter(late, delivery.resource, info.batch_id, info.sequence, info.mode, info.extracted_at,
                               package.writer.stem, self.max_rows, package.writer.columns)
        what = ""
        for table, raw_lines in package.tables or []:
            if not what and table.num_rows:
                table, what = _alter_first_row(table, delivery.resource)
            writer.write(table, raw_lines)
        late_info = writer.close()
        detail = f"same batch_id re-sent with different content: {what}"
        self._package_fault("conflicting_replay", delivery, detail)
        self._record_package(delivery, late_info, "rejected", LATE_INBOX, "conflicting_replay", detail)

    def _record_gap(self, delivery: Delivery) -> None:
        successor = self._successor(delivery)
        if successor is not None:
            detail = (f"sequence {delivery.sequence} ({delivery.batch_id}) arrives after sequence {successor.sequence}: "
                      f"{successor.batch_id} and later ones wait for it")
            self._package_fault("sequence_gap", successor, detail)

    # ------------------------------------------------------------------ truth and summary

    def _write_packages_table(self) -> None:
        # arrival order: the inbox in delivery order, then the late inbox
        ordered = ([row for row in self.package_rows if row["inbox"] == INBOX]
                   + [row for row in self.package_rows if row["inbox"] == LATE_INBOX])
        for number, row in enumerate(ordered, start=1):
            row["arrival"] = number
        pq.write_table(pa.Table.from_pylist(ordered, schema=PACKAGES_SCHEMA), self.out_dir / TRUTH / "packages.parquet",
                       compression="zstd")

    def summary(self, seconds: float) -> CitySummary:
        city = self.city
        entities = {"persons_at_start": city.persons, "newborns": city.population.births.total,
                    "arrivals": city.population.arrivals.total, "enterprises": city.enterprises.total,
                    "buildings": city.layout.buildings, "housing_units": city.layout.units,
                    "streets": len(city.layout.streets), "licences": city.licences.total,
                    "penalties": city.penalties.total, "grid_events": city.grid_events.total}
        truth_rows = {**dict(sorted(self.truth_rows.items())), "faults": sum(self.sink.counts.values()),
                      "packages": len(self.package_rows)}
        return CitySummary(
            out_dir=self.out_dir, seed=city.seed, persons=city.persons, days=city.days, start=city.start,
            entities=entities, resources={k: dict(v) for k, v in sorted(self.resource_counts.items())},
            faults=dict(sorted(self.sink.counts.items())),
            package_outcomes=dict(sorted(Counter(p["expected_status"] for p in self.package_rows).items())),
            truth_rows=truth_rows, seconds=seconds, skipped_faults=list(self.skipped),
            scenarios=city.scenarios.counts(), skipped_scenarios=list(city.scenarios.skipped))


def _alter_first_row(table: pa.Table, resource: Resource) -> tuple[pa.Table, str]:
    """The first row with one text value changed, as a corrected re-export would have it."""
    candidates = [c.source for c in resource.columns if c.element in ("address", "person_name", "org_name", "text")
                  and c.source in table.column_names]
    column = candidates[0] if candidates else next(c for c in table.column_names if not c.startswith("_"))
    values = table.column(column).to_pylist()
    old = values[0]
    values[0] = f"{old or ''}（更正）"
    position = table.schema.get_field_index(column)
    return table.set_column(position, column, pa.array(values, pa.string())), f"{column} of row 1 {old!r} -> {values[0]!r}"
