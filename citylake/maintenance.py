"""Table maintenance's declaration (`conf/maintenance.yml`): when a table is compacted, how long
unreferenced files are kept, and the columns a table is Z-ordered on; validated on load."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from citylake.catalog import _parse, _read_yaml, _Strict
from citylake.settings import conf_dir as active_conf_dir


class Compaction(_Strict):
    min_files: int = Field(ge=2)
    small_file_mb: float = Field(gt=0)


class Vacuum(_Strict):
    # Hours may be a fraction: a test keeps files for seconds. The job never goes below twice the
    # longest step in the run ledger, so a reader still running keeps its files.
    retain_hours: float = Field(ge=0)
    every_days: float = Field(ge=0)


class ZOrder(_Strict):
    max_columns: int = Field(ge=1, le=4)
    tables: dict[str, list[str]] = Field(default_factory=dict)


class Maintenance(_Strict):
    compaction: Compaction
    vacuum: Vacuum
    zorder: ZOrder


def load_maintenance(conf_dir: Path | None = None) -> Maintenance:
    """Read and validate `conf/maintenance.yml`."""
    conf_dir = Path(conf_dir) if conf_dir is not None else active_conf_dir()
    path = conf_dir / "maintenance.yml"
    return _parse(path, Maintenance, _read_yaml(path))
