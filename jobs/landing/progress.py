"""What a landing run tells while it works: packages done of all the ready ones, the resource and
batch being landed, rows read from it so far, rows landed in the run."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from jobs.landing.ledger import LedgerEntry


@dataclass
class LandingProgress:
    """The run's counts, kept current by the landing job's events; subclasses show them."""

    packages_total: int = 0
    packages_done: int = 0
    current: str = ""
    rows_read: int = 0                    # in the package being landed
    rows_landed: int = 0                  # in the run so far

    def run_started(self, packages: int) -> None:
        self.packages_total = packages
        self.shown()

    def package_started(self, department: str, resource: str, package: str) -> None:
        self.current = f"{department}.{resource} {package}"
        self.rows_read = 0
        self.shown()

    def rows(self, read: int) -> None:
        """Rows parsed so far from the package being landed."""
        self.rows_read = read
        self.shown()

    def package_finished(self, entry: LedgerEntry | None) -> None:
        """A package decided (entry) or skipped as decided before (None)."""
        self.packages_done += 1
        if entry is not None:
            self.rows_landed += entry.rows_landed
        self.shown()

    def shown(self) -> None:
        """Show the counts; this base class keeps them only."""


class RichLandingProgress(LandingProgress):
    """The counts as a rich progress bar, for `citylake land` on a terminal."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._bar = Progress(TextColumn("[bold]land[/bold]"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("packages · {task.description}"), TimeElapsedColumn(), console=console)
        self._task: TaskID | None = None
        self.finished = False

    def __enter__(self) -> "RichLandingProgress":
        self._bar.start()
        self._task = self._bar.add_task("scanning the inbox", total=None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.current, self.finished = "", True
        self.shown()
        self._bar.stop()

    def describe(self) -> str:
        if self.finished:
            return f"done · {self.rows_landed:,} rows landed"
        current = f"{self.current}: {self.rows_read:,} rows read · " if self.current else ""
        return f"{current}{self.rows_landed:,} rows landed"

    def shown(self) -> None:
        if self._task is not None:
            self._bar.update(self._task, total=self.packages_total, completed=self.packages_done,
                             description=self.describe())
