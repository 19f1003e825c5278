"""One run at a time on a lake: an operating-system file lock in the lake's `var/`, so a run that
dies (kill -9, power cut) leaves nothing held; beside it, who holds it, for the refusal message."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout


class LakeBusy(RuntimeError):
    """Another run holds the lake."""


@contextmanager
def holding_the_lake(folder: Path, run_id: str) -> Iterator[None]:
    """Hold the lake's run lock for the block, or raise LakeBusy naming the run that holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock, holder = FileLock(folder / "run.lock"), folder / "run.holder.json"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LakeBusy(f"another run holds the lake: {describe_holder(holder)}") from None
    try:
        holder.write_text(json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                                      "since": datetime.now().astimezone().isoformat(timespec="seconds")}))
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def describe_holder(holder: Path) -> str:
    try:
        info = json.loads(holder.read_text())
    except (OSError, ValueError):
        return "a run that is starting"
    return f"run {info['run_id']} (pid {info['pid']} on {info['host']}, since {info['since']})"


def held_by(folder: Path) -> str | None:
    """The run that holds the lake now, described, or None."""
    return describe_holder(folder / "run.holder.json") if is_held(folder) else None


def holding_run(folder: Path) -> str | None:
    """The id of the run that holds the lake now, or None."""
    if not is_held(folder):
        return None
    try:
        return json.loads((folder / "run.holder.json").read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        return None


def is_held(folder: Path) -> bool:
    lock = FileLock(folder / "run.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
