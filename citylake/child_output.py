"""Where the programs a command starts print: the Spark JVM (package resolution, log4j warnings)
and the notebook kernels write to a log file under the profile's var/log/, not to the terminal of
a command, unless `citylake -v` asks to see them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_shown = False


def show_child_output(shown: bool = True) -> None:
    """Let programs started from now on print to this process's terminal."""
    global _shown
    _shown = shown


@contextmanager
def child_output_to(log: Path) -> Iterator[None]:
    """While a program starts, this process's stdout and stderr point at `log` (unless shown):
    the program inherits them and keeps writing there for its whole life."""
    if _shown:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "ab") as target:
            os.dup2(target.fileno(), 1)
            os.dup2(target.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
