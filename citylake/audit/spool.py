"""The spool: Trino's query events on disk, one JSON line each, between the receiver that takes
them and the loader that moves them into the lake.

The receiver appends to `active.jsonl` and fsyncs before it answers Trino, so an acknowledged
event survives a crash of the receiver, the loader or the machine. The loader seals the active
segment (renames it under `sealed/`) and loads every sealed segment; only after the lake commit
does it retire them. A lock file orders the two processes: an append never goes to a segment
that was sealed meanwhile.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

CREATED = "created"
COMPLETED = "completed"


class SpoolError(ValueError):
    """An event the spool cannot take (not a Trino query event)."""


# Bulky parts of Trino's events the audit never reads (query plans, per-operator statistics, stack
# traces): up to hundreds of KiB per query, left out of the spool. What the audit records stays.
BULKY = {
    "metadata": ("plan", "jsonPlan", "payload"),
    "statistics": ("operatorSummaries", "planNodeStatsAndCosts", "optimizerRulesSummaries", "stageGcStatistics",
                   "cpuTimeDistribution", "outputBufferUtilization", "outputBufferMetrics", "taskStatistics",
                   "dynamicFilterDomainStatistics"),
    "failureInfo": ("failuresJson",),
}


def slim(event: dict) -> dict:
    """The event without its `BULKY` parts."""
    slimmed = dict(event)
    for part, keys in BULKY.items():
        if isinstance(event.get(part), dict):
            slimmed[part] = {key: value for key, value in event[part].items() if key not in keys}
    return slimmed


def event_kind(event: object) -> str:
    """`created` or `completed`: which of Trino's query events this JSON body is."""
    if not isinstance(event, dict) or not isinstance(event.get("metadata"), dict) \
            or "queryId" not in event["metadata"]:
        raise SpoolError("not a Trino query event: no metadata.queryId")
    # Only the completed event carries statistics and the failure (QueryCompletedEvent).
    return COMPLETED if "statistics" in event else CREATED


@dataclass(frozen=True)
class Segment:
    """A sealed spool file and the events read from it."""

    path: Path
    records: list[dict]
    broken_lines: int


class Spool:
    """The spool folder: `active.jsonl` being appended to, `sealed/*.jsonl` waiting to be loaded."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.active = folder / "active.jsonl"
        self.sealed = folder / "sealed"
        self._lock = folder / ".lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.sealed.mkdir(parents=True, exist_ok=True)
        with open(self._lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, event: dict, received_at: datetime | None = None) -> str:
        """Write one query event durably (on disk when this returns); its kind."""
        kind = event_kind(event)
        received = (received_at or datetime.now(timezone.utc)).isoformat()
        line = json.dumps({"received_at": received, "kind": kind, "event": slim(event)},
                          ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._locked():
            new = not self.active.exists()
            with open(self.active, "ab") as handle:
                # A receiver killed mid-write leaves a line without its end (Trino got no answer and
                # sends the event again): end it, so this event's line stays whole.
                if not new and handle.tell() > 0 and _last_byte(self.active) != b"\n":
                    handle.write(b"\n")
                handle.write(line.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            if new:
                _fsync_dir(self.folder)
        return kind

    def seal(self) -> list[Path]:
        """Move the active segment under sealed/ (when it has events); every sealed segment, oldest first."""
        with self._locked():
            if self.active.exists() and self.active.stat().st_size > 0:
                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
                self.active.rename(self.sealed / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl")
                _fsync_dir(self.sealed)
                _fsync_dir(self.folder)
        return sorted(self.sealed.glob("*.jsonl"))

    def pending(self) -> list[Path]:
        """Segments holding events not loaded yet: the sealed ones and the active one."""
        segments = sorted(self.sealed.glob("*.jsonl")) if self.sealed.is_dir() else []
        return segments + ([self.active] if self.active.exists() else [])

    @staticmethod
    def read(path: Path) -> Segment:
        """The events of a segment; a line that is not a whole record (cut by a crash) is skipped."""
        records, broken = [], 0
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    event_kind(record["event"])
                except (ValueError, KeyError, TypeError, SpoolError):
                    broken += 1
                    log.warning("%s line %d is not a whole spooled event; skipped", path, number)
                    continue
                records.append(record)
        return Segment(path, records, broken)

    def retire(self, segments: list[Path]) -> None:
        """Remove segments whose events are in the lake."""
        for path in segments:
            path.unlink(missing_ok=True)
        if segments:
            _fsync_dir(self.sealed)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def _fsync_dir(folder: Path) -> None:
    # A new or renamed file's directory entry is durable only once its folder is synced.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
